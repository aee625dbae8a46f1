//! Generated gradients against hand-written nalgebra gradients and the forward pass alone,
//! measured in the same run. `cargo bench --bench gradients`, then
//! `python3 scripts/bench_ratios.py` for the ratio table.
//!
//! Each workload has one criterion group (`network/128x64`, `dictionary/512x1024`, `mlp/256`,
//! `factorization/200x150`, `gaussian/16`, `pose/8`) with three functions: `generated` (the `_grad` that
//! `#[differentiate]` emits), `hand` (the closed form written directly with nalgebra, same
//! signature and owned results, buffers reused within the call, transposed products on
//! nalgebra's fast kernel) and `forward` (the function as written). Before timing, each workload
//! asserts that the generated and hand-written values and gradients agree to 1e-9 relative.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use matgrad::Differentiable;
use nalgebra::{DMatrix, RowDVector, SMatrix, SVector};

mod workloads;
use workloads::*;

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

fn bench_factorization(c: &mut Criterion) {
    // (users n, items m, factors k): U is n×k, V is m×k, R is n×m.
    let (n, m, k) = (200, 150, 8);
    let u = data(n, k, 21, 0.5);
    let v = data(m, k, 22, 0.5);
    let r = data(n, m, 23, 1.0);
    let (v_gen, du_gen, dv_gen) = factorization_grad(&u, &v, &r);
    let (v_hand, du_hand, dv_hand) = factorization_hand(&u, &v, &r);
    let name = format!("factorization/{n}x{m}");
    assert_value(&name, v_gen, v_hand);
    assert_value(&name, factorization(&u, &v, &r), v_hand);
    assert_rel(&format!("{name} dU"), &du_gen, &du_hand);
    assert_rel(&format!("{name} dV"), &dv_gen, &dv_hand);

    let mut group = c.benchmark_group(&name);
    configure(&mut group, false);
    group.bench_function("generated", |b| b.iter(|| factorization_grad(black_box(&u), black_box(&v), black_box(&r))));
    group.bench_function("hand", |b| b.iter(|| factorization_hand(black_box(&u), black_box(&v), black_box(&r))));
    group.bench_function("forward", |b| b.iter(|| factorization(black_box(&u), black_box(&v), black_box(&r))));
    group.finish();
}

fn bench_mlp(c: &mut Criterion) {
    // Batch n, inputs d, hidden h, outputs k.
    let (n, d, h, k) = (256, 64, 128, 10);
    let x = data(n, d, 7, 1.0);
    let w1 = data(d, h, 8, 1.0 / (d as f64).sqrt());
    let b1 = RowDVector::from_fn(h, |_, j| 0.1 * ((j % 7) as f64 - 3.0));
    let w2 = data(h, k, 9, 1.0 / (h as f64).sqrt());
    let b2 = RowDVector::from_fn(k, |_, j| 0.05 * j as f64);
    let y = data(n, k, 10, 1.0);

    let (v_gen, dw1_gen, db1_gen, dw2_gen, db2_gen) = mlp_grad(&w1, &b1, &w2, &b2, &x, &y);
    let (v_hand, dw1_hand, db1_hand, dw2_hand, db2_hand) = mlp_hand(&w1, &b1, &w2, &b2, &x, &y);
    let name = format!("mlp/{n}");
    assert_value(&name, v_gen, v_hand);
    assert_value(&name, mlp(&w1, &b1, &w2, &b2, &x, &y), v_hand);
    assert_rel(&format!("{name} dW1"), &dw1_gen, &dw1_hand);
    assert_rel(&format!("{name} dW2"), &dw2_gen, &dw2_hand);
    let row = |v: &RowDVector<f64>| DMatrix::from_row_slice(1, v.len(), v.as_slice());
    assert_rel(&format!("{name} db1"), &row(&db1_gen), &row(&db1_hand));
    assert_rel(&format!("{name} db2"), &row(&db2_gen), &row(&db2_hand));

    let mut group = c.benchmark_group(&name);
    configure(&mut group, false);
    let args = || (black_box(&w1), black_box(&b1), black_box(&w2), black_box(&b2), black_box(&x), black_box(&y));
    group.bench_function("generated", |b| {
        b.iter(|| {
            let (w1, b1, w2, b2, x, y) = args();
            mlp_grad(w1, b1, w2, b2, x, y)
        })
    });
    group.bench_function("hand", |b| {
        b.iter(|| {
            let (w1, b1, w2, b2, x, y) = args();
            mlp_hand(w1, b1, w2, b2, x, y)
        })
    });
    group.bench_function("forward", |b| {
        b.iter(|| {
            let (w1, b1, w2, b2, x, y) = args();
            mlp(w1, b1, w2, b2, x, y)
        })
    });
    group.finish();
}

fn bench_gaussian(c: &mut Criterion) {
    for &n in &[16, 128] {
        // S = AAᵀ/n + I is SPD and well conditioned; C = BBᵀ/n is symmetric.
        let a = data(n, n, 11, 1.0);
        let s = &a * a.transpose() / n as f64 + DMatrix::identity(n, n);
        let b = data(n, n, 12, 1.0);
        let cov = &b * b.transpose() / n as f64;

        let (v_hand, ds_hand) = gaussian_hand(&s, &cov);
        let (v_gen, ds_gen) = gaussian_grad(&s, &cov);
        let name = format!("gaussian/{n}");
        assert_value(&name, gaussian(&s, &cov), v_hand);
        assert_value(&name, v_gen, v_hand);
        assert_rel(&format!("{name} dS"), &ds_gen, &ds_hand);

        let mut group = c.benchmark_group(&name);
        configure(&mut group, false);
        group.bench_function("generated", |b| b.iter(|| gaussian_grad(black_box(&s), black_box(&cov))));
        group.bench_function("hand", |b| b.iter(|| gaussian_hand(black_box(&s), black_box(&cov))));
        group.bench_function("forward", |b| b.iter(|| gaussian(black_box(&s), black_box(&cov))));
        group.finish();

        // The same, written through a solve.
        let (v_gen, ds_gen) = gaussian_solve_grad(&s, &cov);
        let name = format!("gaussian_solve/{n}");
        assert_value(&name, v_gen, v_hand);
        assert_rel(&format!("{name} dS"), &ds_gen, &ds_hand);
        let mut group = c.benchmark_group(&name);
        configure(&mut group, false);
        group.bench_function("generated", |b| b.iter(|| gaussian_solve_grad(black_box(&s), black_box(&cov))));
        group.bench_function("hand", |b| b.iter(|| gaussian_hand(black_box(&s), black_box(&cov))));
        group.bench_function("forward", |b| b.iter(|| gaussian_solve(black_box(&s), black_box(&cov))));
        group.finish();
    }
}

fn bench_pose(c: &mut Criterion) {
    let (cz, sz) = (0.3f64.cos(), 0.3f64.sin());
    let r = SMatrix::<f64, 3, 3>::new(cz, -sz, 0.0, sz, cz, 0.0, 0.0, 0.0, 1.0);
    let t = SVector::<f64, 3>::new(0.1, -0.2, 0.3);
    let p = SMatrix::<f64, 3, 8>::from_fn(|i, j| ((i * 8 + j) % 5) as f64 * 0.3 - 0.6);
    let q = SMatrix::<f64, 3, 8>::from_fn(|i, j| ((i + 3 * j) % 7) as f64 * 0.2 - 0.5);

    let (v_gen, dr_gen, dt_gen) = pose_grad(&r, &t, &p, &q);
    let (v_hand, dr_hand, dt_hand) = pose_hand(&r, &t, &p, &q);
    let name = "pose/8";
    assert_value(name, v_gen, v_hand);
    assert_value(name, pose(&r, &t, &p, &q), v_hand);
    let dynamic = |m: &[f64], rows: usize| DMatrix::from_column_slice(rows, m.len() / rows, m);
    assert_rel("pose/8 dR", &dynamic(dr_gen.as_slice(), 3), &dynamic(dr_hand.as_slice(), 3));
    assert_rel("pose/8 dt", &dynamic(dt_gen.as_slice(), 3), &dynamic(dt_hand.as_slice(), 3));

    let mut group = c.benchmark_group(name);
    configure(&mut group, false);
    group.bench_function("generated", |b| {
        b.iter(|| pose_grad(black_box(&r), black_box(&t), black_box(&p), black_box(&q)))
    });
    group.bench_function("hand", |b| b.iter(|| pose_hand(black_box(&r), black_box(&t), black_box(&p), black_box(&q))));
    group.bench_function("forward", |b| b.iter(|| pose(black_box(&r), black_box(&t), black_box(&p), black_box(&q))));
    group.finish();

    // The same, written as a loop over the points.
    let (v_gen, dr_gen, dt_gen) = pose_loop_grad(&r, &t, &p, &q);
    let name = "pose_loop/8";
    assert_value(name, v_gen, v_hand);
    assert_rel("pose_loop/8 dR", &dynamic(dr_gen.as_slice(), 3), &dynamic(dr_hand.as_slice(), 3));
    assert_rel("pose_loop/8 dt", &dynamic(dt_gen.as_slice(), 3), &dynamic(dt_hand.as_slice(), 3));
    let mut group = c.benchmark_group(name);
    configure(&mut group, false);
    group.bench_function("generated", |b| {
        b.iter(|| pose_loop_grad(black_box(&r), black_box(&t), black_box(&p), black_box(&q)))
    });
    group.bench_function("hand", |b| b.iter(|| pose_hand(black_box(&r), black_box(&t), black_box(&p), black_box(&q))));
    group.bench_function("forward", |b| {
        b.iter(|| pose_loop(black_box(&r), black_box(&t), black_box(&p), black_box(&q)))
    });
    group.finish();

    // A planar pose from its angle, R(θ) built from `sin_cos`.
    let (theta, t, p, q) = pose_angle_data();
    let (v_gen, dtheta_gen, dt_gen) = pose_angle_grad(theta, &t, &p, &q);
    let (v_hand, dtheta_hand, dt_hand) = pose_angle_hand(theta, &t, &p, &q);
    let name = "pose_angle/8";
    assert_value(name, v_gen, v_hand);
    assert_value(name, pose_angle(theta, &t, &p, &q), v_hand);
    assert_rel("pose_angle/8 dθ", &DMatrix::from_element(1, 1, dtheta_gen), &DMatrix::from_element(1, 1, dtheta_hand));
    assert_rel("pose_angle/8 dt", &dynamic(dt_gen.as_slice(), 2), &dynamic(dt_hand.as_slice(), 2));
    let mut group = c.benchmark_group(name);
    configure(&mut group, false);
    group.bench_function("generated", |b| {
        b.iter(|| pose_angle_grad(black_box(theta), black_box(&t), black_box(&p), black_box(&q)))
    });
    group.bench_function("hand", |b| {
        b.iter(|| pose_angle_hand(black_box(theta), black_box(&t), black_box(&p), black_box(&q)))
    });
    group.bench_function("forward", |b| {
        b.iter(|| pose_angle(black_box(theta), black_box(&t), black_box(&p), black_box(&q)))
    });
    group.finish();
}

fn bench_layers(c: &mut Criterion) {
    let (p, x, y) = layers_data();
    let (v_gen, g_gen) = layers_grad(&p, &x, &y);
    let (v_hand, g_hand) = layers_hand(&p, &x, &y);
    let name = "layers/3";
    assert_value(name, v_gen, v_hand);
    assert_value(name, layers(&p, &x, &y), v_hand);
    let flat = |n: &Net| DMatrix::from_column_slice(n.len(), 1, &n.to_flat());
    assert_rel("layers/3 dp", &flat(&g_gen), &flat(&g_hand));
    let mut group = c.benchmark_group(name);
    configure(&mut group, false);
    group.bench_function("generated", |b| b.iter(|| layers_grad(black_box(&p), black_box(&x), black_box(&y))));
    group.bench_function("hand", |b| b.iter(|| layers_hand(black_box(&p), black_box(&x), black_box(&y))));
    group.bench_function("forward", |b| b.iter(|| layers(black_box(&p), black_box(&x), black_box(&y))));
    group.finish();
}

criterion_group!(
    benches,
    bench_network,
    bench_dictionary,
    bench_factorization,
    bench_mlp,
    bench_gaussian,
    bench_pose,
    bench_layers
);
criterion_main!(benches);
