//! Generated gradients against hand-written nalgebra gradients and the forward pass alone,
//! measured in the same run. `cargo bench --bench gradients`, then
//! `python3 scripts/bench_ratios.py` for the ratio table.
//!
//! Each workload has one criterion group (`network/128x64`, `dictionary/512x1024`, `mlp/256`,
//! `gaussian/16`, `pose/8`) with three functions: `generated` (the `_grad` that
//! `#[differentiate]` emits), `hand` (the closed form written directly with nalgebra, same
//! signature and owned results, buffers reused within the call, transposed products on
//! nalgebra's fast kernel) and `forward` (the function as written). Before timing, each workload
//! asserts that the generated and hand-written values and gradients agree to 1e-9 relative.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use matgrad::differentiate;
use nalgebra::{DMatrix, DMatrixView, RowDVector, SMatrix, SVector};

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

/// Two-layer perceptron with biases: f(W₁, b₁, W₂, b₂) = ‖tanh(XW₁ + 1b₁)W₂ + 1b₂ − Y‖²_F,
/// the biases added with matgrad's broadcast helper.
#[differentiate(wrt(w1, b1, w2, b2))]
fn mlp(
    w1: &DMatrix<f64>,
    b1: &RowDVector<f64>,
    w2: &DMatrix<f64>,
    b2: &RowDVector<f64>,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
) -> f64 {
    let h = matgrad::add_row_vector(x * w1, b1).map(|v| v.tanh());
    let out = matgrad::add_row_vector(h * w2, b2);
    (out - y).norm_squared()
}

/// Gaussian negative log-likelihood (up to constants): f(S) = ln det S + tr(S⁻¹C), S SPD, written
/// as the hand-written gradient computes it (tr(S⁻¹C) = ⟨S⁻¹, C⟩ for symmetric C).
#[differentiate(wrt(s))]
fn gaussian(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().expect("S is SPD");
    let s_inv = chol.inverse();
    chol.ln_determinant() + s_inv.dot(c)
}

/// Pose residual over 8 points: f(R, t) = ‖RP + t1ᵀ − Q‖²_F, fixed sizes.
#[differentiate(wrt(r, t))]
fn pose(r: &SMatrix<f64, 3, 3>, t: &SVector<f64, 3>, p: &SMatrix<f64, 3, 8>, q: &SMatrix<f64, 3, 8>) -> f64 {
    let ones = SMatrix::<f64, 1, 8>::from_element(1.0);
    (r * p + t * ones - q).norm_squared()
}

// ---------------------------------------------------------------------------------------------
// Hand-written gradients: the closed forms, with as few passes and allocations as is reasonable.

/// `Aᵀ B` on nalgebra's fast kernel: `Aᵀ` as a strided view (no copy) when every dimension
/// exceeds 5; below that `gemm` would run `axpy` on the strided view, which is out of bounds in
/// nalgebra 0.35 (see RULES.md), and `tr_mul`'s column dot products are as fast anyway.
fn tr_mul_fast(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let (k, m, n) = (a.nrows(), a.ncols(), b.ncols());
    if k > 5 && m > 5 && n > 5 {
        DMatrixView::from_slice_with_strides(a.as_slice(), m, k, k, 1) * b
    } else {
        a.tr_mul(b)
    }
}

/// `A Bᵀ` on nalgebra's fast kernel: `Bᵀ` as a strided view when every dimension exceeds 5.
fn mul_tr_fast(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let (m, k, n) = (a.nrows(), a.ncols(), b.nrows());
    if k > 5 && m > 5 && n > 5 {
        a * DMatrixView::from_slice_with_strides(b.as_slice(), k, n, n, 1)
    } else {
        a * b.transpose()
    }
}

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
    (value, tr_mul_fast(x, &g))
}

/// dD = −2(X − DR)Rᵀ, dR = −2Dᵀ(X − DR). The product DR is turned into E = 2(DR − X) in place.
/// (nalgebra's vectorised `-=`, `norm_squared` and `*=` measured faster here than one fused
/// hand-unrolled pass that accumulates the value and scales together: 15 µs against 19 µs at
/// 64×128, 2.83 ms against 2.91 ms at 512×1024.)
fn dictionary_hand(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> (f64, DMatrix<f64>, DMatrix<f64>) {
    let mut e = d * r;
    e -= x;
    let value = e.norm_squared();
    e *= 2.0;
    let dd = mul_tr_fast(&e, r);
    let dr = tr_mul_fast(d, &e);
    (value, dd, dr)
}

/// With E = 2(HW₂ + 1b₂ − Y) and H = tanh(XW₁ + 1b₁):
/// dW₂ = HᵀE, db₂ = 1ᵀE, dZ = (EW₂ᵀ) ⊙ (1 − H²), dW₁ = XᵀdZ, db₁ = 1ᵀdZ.
/// Biases are added column by column in place, the value is accumulated in the pass that forms
/// E, and 1 − H² is applied in place.
#[allow(clippy::type_complexity)]
fn mlp_hand(
    w1: &DMatrix<f64>,
    b1: &RowDVector<f64>,
    w2: &DMatrix<f64>,
    b2: &RowDVector<f64>,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
) -> (f64, DMatrix<f64>, RowDVector<f64>, DMatrix<f64>, RowDVector<f64>) {
    let mut h = x * w1;
    for (mut col, b) in h.column_iter_mut().zip(b1.iter()) {
        col.apply(|v| *v = (*v + b).tanh());
    }
    let mut e = &h * w2;
    let mut value = 0.0;
    for ((mut col, b), ycol) in e.column_iter_mut().zip(b2.iter()).zip(y.column_iter()) {
        col.zip_apply(&ycol, |v, y| {
            let r = *v + b - y;
            value += r * r;
            *v = 2.0 * r;
        });
    }
    let dw2 = tr_mul_fast(&h, &e);
    let db2 = e.row_sum();
    let mut dz = mul_tr_fast(&e, w2);
    dz.zip_apply(&h, |d, h| *d *= 1.0 - h * h);
    let dw1 = tr_mul_fast(x, &dz);
    let db1 = dz.row_sum();
    (value, dw1, db1, dw2, db2)
}

/// d/dS [ln det S + tr(S⁻¹C)] = S⁻¹ − S⁻¹CS⁻¹ (S and C symmetric), from one Cholesky factor.
fn gaussian_hand(s: &DMatrix<f64>, c: &DMatrix<f64>) -> (f64, DMatrix<f64>) {
    let chol = s.clone().cholesky().expect("S is SPD");
    let ln_det = 2.0 * chol.l_dirty().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let s_inv = chol.inverse();
    let value = ln_det + s_inv.dot(c);
    let m = &s_inv * c;
    let mut grad = s_inv.clone();
    grad.gemm(-1.0, &m, &s_inv, 1.0);
    (value, grad)
}

/// E = RP + t1ᵀ − Q: dR = 2EPᵀ, dt = 2E1.
fn pose_hand(
    r: &SMatrix<f64, 3, 3>,
    t: &SVector<f64, 3>,
    p: &SMatrix<f64, 3, 8>,
    q: &SMatrix<f64, 3, 8>,
) -> (f64, SMatrix<f64, 3, 3>, SVector<f64, 3>) {
    let mut e = r * p - q;
    for mut col in e.column_iter_mut() {
        col += t;
    }
    let value = e.norm_squared();
    e *= 2.0;
    (value, e * p.transpose(), e.column_sum())
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
}

criterion_group!(benches, bench_network, bench_dictionary, bench_mlp, bench_gaussian, bench_pose);
criterion_main!(benches);
