//! Generated gradients against hand-written nalgebra gradients and the forward pass alone,
//! measured in the same run. `cargo bench --bench gradients`, then
//! `python3 scripts/bench_ratios.py` for the ratio table.
//!
//! Each workload has one criterion group (`network/128x64`, `dictionary/512x1024`, …) with
//! three functions: `generated` (the `_grad` that `#[differentiate]` emits), `hand` (the closed
//! form written directly with nalgebra, same signature and owned results, buffers reused within
//! the call) and `forward` (the function as written). Before timing, each workload asserts that
//! the generated and hand-written values and gradients agree to 1e-9 relative.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use matgrad::differentiate;
use nalgebra::DMatrix;

// ---------------------------------------------------------------------------------------------
// The functions differentiated.

/// One-layer network: f(W) = ‖σ(XW) − Y‖²_F.
#[differentiate(wrt(w))]
fn network(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}

/// Dictionary learning: f(D, R) = ‖X − DR‖²_F.
#[differentiate(wrt(d, r))]
fn dictionary(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}

// ---------------------------------------------------------------------------------------------
// Hand-written gradients: the closed forms, with as few passes and allocations as is reasonable.

/// dW = 2 Xᵀ[(a − Y) ⊙ a ⊙ (1 − a)], a = σ(XW). One buffer (XW) is turned into the factor in
/// place, in the same pass that accumulates the value.
fn network_hand(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> (f64, DMatrix<f64>) {
    let mut g = x * w;
    let mut value = 0.0;
    g.zip_apply(y, |z, y| {
        let a = 1.0 / (1.0 + (-*z).exp());
        let r = a - y;
        value += r * r;
        *z = 2.0 * r * a * (1.0 - a);
    });
    (value, x.transpose() * &g)
}

/// dD = −2(X − DR)Rᵀ, dR = −2Dᵀ(X − DR). The product DR is turned into −2(X − DR) in place, in
/// the same pass that accumulates ‖X − DR‖² (four partial sums, so the pass vectorises).
fn dictionary_hand(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> (f64, DMatrix<f64>, DMatrix<f64>) {
    let mut e = d * r;
    let mut acc = [0.0f64; 4];
    let (es, xs) = (e.as_mut_slice(), x.as_slice());
    let mut e_chunks = es.chunks_exact_mut(4);
    let mut x_chunks = xs.chunks_exact(4);
    for (ec, xc) in (&mut e_chunks).zip(&mut x_chunks) {
        for i in 0..4 {
            let r = xc[i] - ec[i];
            acc[i] += r * r;
            ec[i] = -2.0 * r;
        }
    }
    for (ev, xv) in e_chunks.into_remainder().iter_mut().zip(x_chunks.remainder()) {
        let r = xv - *ev;
        acc[0] += r * r;
        *ev = -2.0 * r;
    }
    let value = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    let dd = &e * r.transpose();
    let dr = d.transpose() * &e;
    (value, dd, dr)
}

// ---------------------------------------------------------------------------------------------
// Data and checks.

/// A deterministic pseudo-random matrix with entries in [-scale, scale].
fn data(rows: usize, cols: usize, seed: u64, scale: f64) -> DMatrix<f64> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    DMatrix::from_fn(rows, cols, |_, _| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0) * scale
    })
}

fn assert_rel(what: &str, got: &DMatrix<f64>, want: &DMatrix<f64>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    let err = (got - want).norm();
    let size = want.norm();
    assert!(err <= 1e-9 * size, "{what}: generated and hand-written differ: ‖Δ‖ = {err:e}, ‖hand‖ = {size:e}");
}

fn assert_value(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-9 * want.abs(), "{what}: value {got} (generated) vs {want} (hand-written)");
}

/// Short runs for the large workloads: ten samples, 1 s warm-up, 3 s measurement.
fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, large: bool) {
    if large {
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        group.sampling_mode(criterion::SamplingMode::Flat);
    } else {
        group.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads.

fn bench_network(c: &mut Criterion) {
    // (samples n, inputs d, outputs k): X is n×d, W is d×k.
    for &(n, d, k) in &[(8, 4, 3), (128, 64, 32), (1024, 512, 256)] {
        let x = data(n, d, 1, 1.0);
        // W scaled by 1/√d so that XW is O(1) and σ does not saturate.
        let w = data(d, k, 2, 1.0 / (d as f64).sqrt());
        let y = data(n, k, 3, 0.4).add_scalar(0.5);

        let (v_gen, dw_gen) = network_grad(&w, &x, &y);
        let (v_hand, dw_hand) = network_hand(&w, &x, &y);
        let name = format!("network/{n}x{d}");
        assert_value(&name, v_gen, v_hand);
        assert_value(&name, network(&w, &x, &y), v_hand);
        assert_rel(&format!("{name} dW"), &dw_gen, &dw_hand);

        let mut group = c.benchmark_group(&name);
        configure(&mut group, n >= 1024);
        group.bench_function("generated", |b| b.iter(|| network_grad(black_box(&w), black_box(&x), black_box(&y))));
        group.bench_function("hand", |b| b.iter(|| network_hand(black_box(&w), black_box(&x), black_box(&y))));
        group.bench_function("forward", |b| b.iter(|| network(black_box(&w), black_box(&x), black_box(&y))));
        group.finish();
    }
}

fn bench_dictionary(c: &mut Criterion) {
    // X is m×n, D is m×k, R is k×n.
    for &(m, n, k) in &[(64, 128, 16), (512, 1024, 64)] {
        let x = data(m, n, 4, 1.0);
        let d = data(m, k, 5, 1.0);
        let r = data(k, n, 6, 1.0 / (k as f64).sqrt());

        let (v_gen, dd_gen, dr_gen) = dictionary_grad(&x, &d, &r);
        let (v_hand, dd_hand, dr_hand) = dictionary_hand(&x, &d, &r);
        let name = format!("dictionary/{m}x{n}");
        assert_value(&name, v_gen, v_hand);
        assert_value(&name, dictionary(&x, &d, &r), v_hand);
        assert_rel(&format!("{name} dD"), &dd_gen, &dd_hand);
        assert_rel(&format!("{name} dR"), &dr_gen, &dr_hand);

        let mut group = c.benchmark_group(&name);
        configure(&mut group, m >= 512);
        group.bench_function("generated", |b| b.iter(|| dictionary_grad(black_box(&x), black_box(&d), black_box(&r))));
        group.bench_function("hand", |b| b.iter(|| dictionary_hand(black_box(&x), black_box(&d), black_box(&r))));
        group.bench_function("forward", |b| b.iter(|| dictionary(black_box(&x), black_box(&d), black_box(&r))));
        group.finish();
    }
}

criterion_group!(benches, bench_network, bench_dictionary);
criterion_main!(benches);
