//! Differentiated `map`/`zip_map` closures evaluated over lanes (`matgrad::lanes`): every
//! function with a kernel, composed, in f64 and f32, static and dynamic sizes whose entry count is
//! not a multiple of a lane (the padded last lane), 1×1 and 1×n, in a branch arm, a loop body
//! and a nested block, with a constant capture. Gradients are checked against closed forms
//! (derived in the doc comments, evaluated with the scalar functions) and central differences;
//! values against the user's function (`same_value`: the same bits without `simd`). A closure
//! with no lane form (a differentiated capture, a branch inside) takes the scalar path, checked
//! the same way.

mod common;

use common::{assert_close, assert_fd, assert_same_value, mat, same_value, SHAPES};
use matgrad::differentiate;
use nalgebra::{DMatrix, SMatrix};

/// Every kernel in one sum: f(X) = Σ tanh(X) + σ(X) + ln(X² + 1) + √(X² + 2) + X³ − 2/X.
#[differentiate(wrt(x))]
fn kernels(x: &DMatrix<f64>) -> f64 {
    let a = x.map(|v| v.tanh());
    let b = x.map(|v| 1.0 / (1.0 + (-v).exp()));
    let c = x.map(|v| (v * v + 1.0).ln());
    let d = x.map(|v| (v * v + 2.0).sqrt());
    let e = x.map(|v| v.powi(3) - 2.0 * v.recip());
    (a + b + c + d + e).sum()
}

/// ∂f/∂Xᵢⱼ = (1 − tanh² v) + σ(v)(1 − σ(v)) + 2v/(v² + 1) + v/√(v² + 2) + 3v² + 2/v², v = Xᵢⱼ.
fn kernels_closed_form(x: &DMatrix<f64>) -> DMatrix<f64> {
    x.map(|v| {
        let s = 1.0 / (1.0 + (-v).exp());
        (1.0 - v.tanh().powi(2))
            + s * (1.0 - s)
            + 2.0 * v / (v * v + 1.0)
            + v / (v * v + 2.0).sqrt()
            + 3.0 * v * v
            + 2.0 / (v * v)
    })
}

#[test]
fn every_kernel_over_lanes_f64_dynamic() {
    // (9×8 and longer: lanes chosen at run time where the CPU has them)
    for &(m, n) in SHAPES.iter().chain(&[(3, 5), (7, 3), (1, 9), (9, 8), (13, 5), (1, 70)]) {
        // entries in ±[0.1, 1.1]: away from the pole of 1/v
        let x = mat(m, n, 3).map(|v| v + 0.1 * v.signum() + if v == 0.0 { 0.3 } else { 0.0 });
        let (value, dx) = kernels_grad(&x);
        assert!(same_value(value, kernels(&x)), "{m}×{n}: value {value} vs {}", kernels(&x));
        assert_close(&dx, &kernels_closed_form(&x), 1e-12);
        assert_fd(kernels, &x, &dx, 1e-6);
    }
}

/// f(X) = Σ tanh(s X) σ(X) over 3×5 entries of f32 (full lanes and a padded one), with a
/// constant capture `s`: ∂f/∂Xᵢⱼ = s (1 − tanh²(s v)) σ(v) + tanh(s v) σ(v)(1 − σ(v)).
#[differentiate(wrt(x))]
fn gated_f32(x: &SMatrix<f32, 3, 5>, s: f32) -> f32 {
    let t = x.map(|v| (s * v).tanh());
    let g = x.map(|v| 1.0 / (1.0 + (-v).exp()));
    t.component_mul(&g).sum()
}

/// [`gated_f32`] on 99 entries: lanes chosen at run time where the CPU has them (`dispatch`).
#[differentiate(wrt(x))]
fn gated_f32_long(x: &SMatrix<f32, 9, 11>, s: f32) -> f32 {
    let t = x.map(|v| (s * v).tanh());
    let g = x.map(|v| 1.0 / (1.0 + (-v).exp()));
    t.component_mul(&g).sum()
}

#[test]
fn static_f32_with_a_constant_capture() {
    let s = 0.8f32;
    let x = SMatrix::<f32, 3, 5>::from_fn(|i, j| (i as f32 - 1.3 * j as f32) * 0.37);
    check_gated(&x, s, gated_f32_grad(&x, s), |x| gated_f32(x, s));
    let x = SMatrix::<f32, 9, 11>::from_fn(|i, j| (i as f32 - 1.3 * j as f32) * 0.17);
    check_gated(&x, s, gated_f32_long_grad(&x, s), |x| gated_f32_long(x, s));
}

/// The value and gradient `grad` of [`gated_f32`] at `x` against the function `f`, the closed
/// form and central differences.
fn check_gated<const R: usize, const C: usize>(
    x: &SMatrix<f32, R, C>,
    s: f32,
    (value, dx): (f32, SMatrix<f32, R, C>),
    f: impl Fn(&SMatrix<f32, R, C>) -> f32,
) {
    assert!(same_value(value, f(x)));
    let want = x.map(|v| {
        let (t, g) = ((s * v).tanh(), 1.0 / (1.0 + (-v).exp()));
        s * (1.0 - t * t) * g + t * g * (1.0 - g)
    });
    for (a, b) in dx.iter().zip(want.iter()) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{dx} vs {want}");
    }
    // central differences in f64 of the same function evaluated in f32 (h = 1e-3: f32 noise)
    for k in 0..R * C {
        let (mut up, mut down) = (*x, *x);
        up[k] += 1e-3;
        down[k] -= 1e-3;
        let fd = (f(&up) - f(&down)) / 2e-3;
        assert!((fd - dx[k]).abs() <= 2e-2 * dx[k].abs().max(1.0), "entry {k}: {fd} vs {}", dx[k]);
    }
}

/// `zip_map` over lanes, both matrices differentiated: f(A, B) = Σ eᴬ ⊙ B − tanh(A ⊙ B), so
/// ∂f/∂A = eᴬ ⊙ B − B ⊙ (1 − tanh²(A ⊙ B)) and ∂f/∂B = eᴬ − A ⊙ (1 − tanh²(A ⊙ B)).
#[differentiate(wrt(a, b))]
fn zipped(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.zip_map(b, |p, q| p.exp() * q - (p * q).tanh()).sum()
}

#[test]
fn zip_map_over_lanes() {
    for &(m, n) in SHAPES.iter().chain(&[(3, 5), (9, 9), (70, 1)]) {
        let (a, b) = (mat(m, n, 5), mat(m, n, 6));
        let (value, da, db) = zipped_grad(&a, &b);
        assert!(same_value(value, zipped(&a, &b)));
        let sech2 = a.zip_map(&b, |p, q| 1.0 - (p * q).tanh().powi(2));
        let want_a = a.map(f64::exp).component_mul(&b) - b.component_mul(&sech2);
        let want_b = a.map(f64::exp) - a.component_mul(&sech2);
        assert_close(&da, &want_a, 1e-12);
        assert_close(&db, &want_b, 1e-12);
        assert_fd(|a| zipped(a, &b), &a, &da, 1e-6);
        assert_fd(|b| zipped(&a, b), &b, &db, 1e-6);
    }
}

/// Maps in a branch arm, a loop body and a nested block:
/// h₀ = W x₀ (a column), each of 3 steps hₖ = tanh(W hₖ₋₁) when `gate`, hₖ = σ(W hₖ₋₁) otherwise,
/// then f = ‖{ e^{h₃} }‖². Checked against central differences only (the recurrence's closed
/// form is the reverse sweep itself).
#[differentiate(wrt(w))]
fn positions(w: &DMatrix<f64>, x0: &DMatrix<f64>, gate: bool) -> f64 {
    let mut h = w * x0;
    for _ in 0..3 {
        if gate {
            h = (w * h).map(|v| v.tanh());
        } else {
            h = (w * h).map(|v| 1.0 / (1.0 + (-v).exp()));
        }
    }
    let e = {
        let z = 0.5 * h;
        z.map(|v| v.exp())
    };
    e.norm_squared()
}

#[test]
fn maps_in_every_position() {
    let (w, x0) = (mat(5, 5, 7), mat(5, 3, 8));
    for gate in [true, false] {
        let (value, dw) = positions_grad(&w, &x0, gate);
        assert!(same_value(value, positions(&w, &x0, gate)));
        assert_fd(|w| positions(w, &x0, gate), &w, &dw, 1e-6);
    }
}

/// No lane form: a differentiated capture `s` and a branch inside the closure take the scalar
/// path. f(X, s) = Σ max(X, 0)·s + s eˣ; ∂f/∂X = s [X > 0] + s eˣ, ∂f/∂s = Σ max(X, 0) + eˣ.
#[differentiate(wrt(x, s))]
fn scalar_path(x: &DMatrix<f64>, s: f64) -> f64 {
    x.map(|v| if v > 0.0 { v * s } else { 0.0 } + s * v.exp()).sum()
}

#[test]
fn closures_without_a_lane_form_take_the_scalar_path() {
    let x = mat(3, 5, 9);
    let s = 0.7;
    let (value, dx, ds) = scalar_path_grad(&x, s);
    assert_eq!(value, scalar_path(&x, s), "the scalar path is the user's function bit for bit");
    let want = x.map(|v| if v > 0.0 { s } else { 0.0 } + s * v.exp());
    assert_close(&dx, &want, 1e-13);
    let want_s: f64 = x.iter().map(|&v| v.max(0.0) + v.exp()).sum();
    assert!((ds - want_s).abs() <= 1e-12 * want_s.abs());
}

/// A matrix-valued function mapped over lanes: its `_vjp` value is the function's up to the
/// kernels' bound, entry by entry.
#[differentiate(wrt(x))]
fn softplus(x: &DMatrix<f64>) -> DMatrix<f64> {
    x.map(|v| (1.0 + v.exp()).ln())
}

#[test]
fn matrix_value_over_lanes() {
    let x = 3.0 * mat(4, 3, 10);
    let g = mat(4, 3, 11);
    let (value, dx) = softplus_vjp(&x, g.clone());
    assert_same_value(&value, &softplus(&x));
    // ∂⟨G, ln(1 + eˣ)⟩/∂X = G ⊙ σ(X)
    assert_close(&dx, &g.component_mul(&x.map(|v| 1.0 / (1.0 + (-v).exp()))), 1e-12);
}

/// The row-wise helpers as generated code calls them (over lanes of rows): the value of
/// `softmax_rows` and `logsumexp_rows` is the public helpers' (`same_value`), on a matrix with a
/// row of −∞, a row with +∞, one with NaN, huge and tiny entries, 7 rows (a padded lane).
#[differentiate(wrt(z))]
fn softmax_of(z: &DMatrix<f64>) -> DMatrix<f64> {
    matgrad::softmax_rows(z)
}

#[differentiate(wrt(z))]
fn lse_of(z: &DMatrix<f64>) -> nalgebra::DVector<f64> {
    matgrad::logsumexp_rows(z)
}

#[test]
fn row_helpers_over_lanes() {
    let mut z = 4.0 * mat(7, 3, 12);
    z.row_mut(1).fill(f64::NEG_INFINITY);
    z[(2, 1)] = f64::INFINITY;
    z[(3, 2)] = f64::NAN;
    z[(4, 0)] = 1e300;
    z[(5, 1)] = -1e300;
    z[(6, 2)] = 1e-300;
    let g = mat(7, 3, 13);
    let (y, _) = softmax_of_vjp(&z, g.clone());
    let want = matgrad::softmax_rows(&z);
    for (a, b) in y.iter().zip(want.iter()) {
        assert!(a.is_nan() && b.is_nan() || same_value(*a, *b), "softmax {a} vs {b}\n{y}\n{want}");
    }
    let gl = nalgebra::DVector::from_fn(7, |i, _| 0.3 * i as f64 - 1.0);
    let (l, _) = lse_of_vjp(&z, gl.clone());
    let want = matgrad::logsumexp_rows(&z);
    for (a, b) in l.iter().zip(want.iter()) {
        assert!(a.is_nan() && b.is_nan() || same_value(*a, *b), "logsumexp {a} vs {b}");
    }
    // gradients on finite rows: ∂⟨G, softmax(Z)⟩/∂Z = Y ⊙ (G − rowsum(G ⊙ Y) 1ᵀ),
    // ∂⟨l̄, lse(Z)⟩/∂Z = Diag(l̄) softmax(Z)
    let z = 2.0 * mat(7, 3, 14);
    let (y, dz) = softmax_of_vjp(&z, g.clone());
    let gy = g.component_mul(&y);
    let want = DMatrix::from_fn(7, 3, |i, j| y[(i, j)] * (g[(i, j)] - gy.row(i).sum()));
    assert_close(&dz, &want, 1e-12);
    assert_fd(|z| softmax_of(z).dot(&g), &z, &dz, 1e-6);
    let (_, dz) = lse_of_vjp(&z, gl.clone());
    let want = DMatrix::from_fn(7, 3, |i, j| gl[i] * y[(i, j)]);
    assert_close(&dz, &want, 1e-12);
    assert_fd(|z| lse_of(z).dot(&gl), &z, &dz, 1e-6);
}

/// Constant captures of every kind a closure over lanes may read: a `&f64` parameter, an owned
/// one, a local, an integer exponent. f(X) = Σ (a X)² / b + c eˣ − Xⁿ with n = 3, so
/// ∂f/∂X = 2a² X / b + c eˣ − 3X².
#[differentiate(wrt(x))]
fn captures(x: &DMatrix<f64>, a: &f64, b: f64, n: i32) -> f64 {
    let c = 0.5 * b;
    x.map(|v| (*a * v).powi(2) / b + c * v.exp() - v.powi(n)).sum()
}

#[test]
fn constant_captures_over_lanes() {
    for (m, n) in [(3, 5), (12, 9)] {
        let x = mat(m, n, 15);
        let (a, b) = (1.3, 0.7);
        let (value, dx) = captures_grad(&x, &a, b, 3);
        assert!(same_value(value, captures(&x, &a, b, 3)));
        let want = x.map(|v| 2.0 * a * a * v / b + 0.5 * b * v.exp() - 3.0 * v * v);
        assert_close(&dx, &want, 1e-12);
        assert_fd(|x| captures(x, &a, b, 3), &x, &dx, 1e-6);
    }
}

/// A typed `let` inside the closure keeps it on the scalar path (a lane is not an `f64`):
/// f(X) = Σ e²ˣ, ∂f/∂X = 2e²ˣ.
#[differentiate(wrt(x))]
fn typed_let(x: &DMatrix<f64>) -> f64 {
    x.map(|v| {
        let t: f64 = (2.0 * v).exp();
        t
    })
    .sum()
}

#[test]
fn a_typed_let_takes_the_scalar_path() {
    let x = mat(3, 5, 16);
    let (value, dx) = typed_let_grad(&x);
    assert_eq!(value, typed_let(&x));
    assert_close(&dx, &x.map(|v| 2.0 * (2.0 * v).exp()), 1e-13);
    assert_fd(typed_let, &x, &dx, 1e-6);
}

// ReLU, |·|, max and min over lanes (exact: compare and select, so every value below is the
// user's function bit for bit). Each ReLU network is f(W) = ‖relu(XW) − Y‖², whose gradient is
//   Z = XW,  R = relu(Z) − Y,  ∂f/∂W = Xᵀ (2R ⊙ 1[Z > 0]),
// with X, W chosen so that every |Zᵢⱼ| ≥ 0.05 (away from the kink, where central differences
// of step 1e-6, or 1e-2 in f32, do not cross it).

/// X (m×k), W (k×n), Y (m×n) with every |(XW)ᵢⱼ| ≥ 0.05: the first seeds that give it.
fn relu_inputs(m: usize, k: usize, n: usize) -> (DMatrix<f64>, DMatrix<f64>, DMatrix<f64>) {
    (0..)
        .map(|s| (mat(m, k, 20 + 3 * s), mat(k, n, 21 + 3 * s), 0.5 * mat(m, n, 22 + 3 * s)))
        .find(|(x, w, _)| (x * w).iter().all(|z| z.abs() >= 0.05))
        .unwrap()
}

/// ∂‖relu(XW) − Y‖²/∂W = Xᵀ (2(relu(XW) − Y) ⊙ 1[XW > 0]), by the formula above.
fn relu_closed_form(x: &DMatrix<f64>, w: &DMatrix<f64>, y: &DMatrix<f64>) -> DMatrix<f64> {
    let z = x * w;
    let r = z.map(|v| if v > 0.0 { v } else { 0.0 }) - y;
    x.transpose() * (2.0 * r).zip_map(&z, |r, z| if z > 0.0 { r } else { 0.0 })
}

/// The shapes of X (m×k) and W (k×n): non-square, square, 1×1, 1×n, n×1, and entry counts that
/// are not a multiple of a lane (a padded last lane).
const RELU_SHAPES: &[(usize, usize, usize)] =
    &[(4, 3, 2), (3, 3, 3), (1, 1, 1), (1, 3, 5), (5, 2, 1), (7, 3, 3), (2, 4, 9)];

/// The closure in the function body.
#[differentiate(wrt(w))]
fn relu_net(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let h = (x * w).map(|v| v.max(0.0));
    (h - y).norm_squared()
}

/// In a branch arm (both arms: ReLU, and ReLU written with `min`, relu(z) = −min(−z, 0)).
#[differentiate(wrt(w))]
fn relu_branch(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>, by_min: bool) -> f64 {
    let z = x * w;
    let h = if by_min { z.map(|v| -(-v).min(0.0)) } else { z.map(|v| v.max(0.0)) };
    (h - y).norm_squared()
}

/// In a loop body (relu ∘ relu = relu: the same f).
#[differentiate(wrt(w))]
fn relu_loop(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let mut h = x * w;
    for _ in 0..3 {
        h = h.map(|v| v.max(0.0));
    }
    (h - y).norm_squared()
}

/// In a nested loop.
#[differentiate(wrt(w))]
fn relu_nested_loop(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let mut h = x * w;
    for _ in 0..2 {
        for _ in 0..2 {
            h = h.map(|v| v.max(0.0));
        }
    }
    (h - y).norm_squared()
}

/// In a nested block.
#[differentiate(wrt(w))]
fn relu_block(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let h = {
        let z = x * w;
        z.map(|v| v.max(0.0))
    };
    (h - y).norm_squared()
}

/// With the bound a constant capture, on either side: max(v, 0) as `v.max(floor)` and
/// `f64::max(floor, v)`, floor = 0.
#[differentiate(wrt(w))]
fn relu_capture(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>, floor: f64, left: bool) -> f64 {
    let z = x * w;
    let h = if left { z.map(|v| f64::max(floor, v)) } else { z.map(|v| v.max(floor)) };
    (h - y).norm_squared()
}

/// f(W, X, Y), one of the functions above.
type ReluNet = fn(&DMatrix<f64>, &DMatrix<f64>, &DMatrix<f64>) -> f64;

#[test]
fn relu_networks_f64_dynamic_in_every_position() {
    for &(m, k, n) in RELU_SHAPES {
        let (x, w, y) = relu_inputs(m, k, n);
        let want = relu_closed_form(&x, &w, &y);
        let fs: [(&str, ReluNet); 8] = [
            ("body", relu_net),
            ("branch, max", |w, x, y| relu_branch(w, x, y, false)),
            ("branch, min", |w, x, y| relu_branch(w, x, y, true)),
            ("loop", relu_loop),
            ("nested loop", relu_nested_loop),
            ("block", relu_block),
            ("capture on the right", |w, x, y| relu_capture(w, x, y, 0.0, false)),
            ("capture on the left", |w, x, y| relu_capture(w, x, y, 0.0, true)),
        ];
        let grads: [(f64, DMatrix<f64>); 8] = [
            relu_net_grad(&w, &x, &y),
            relu_branch_grad(&w, &x, &y, false),
            relu_branch_grad(&w, &x, &y, true),
            relu_loop_grad(&w, &x, &y),
            relu_nested_loop_grad(&w, &x, &y),
            relu_block_grad(&w, &x, &y),
            relu_capture_grad(&w, &x, &y, 0.0, false),
            relu_capture_grad(&w, &x, &y, 0.0, true),
        ];
        for ((name, f), (value, dw)) in fs.iter().zip(grads) {
            assert_eq!(value, f(&w, &x, &y), "{name}, {m}×{k}·{k}×{n}: the value is the function's bit for bit");
            assert_close(&dw, &want, 1e-13);
            assert_fd(|w| f(w, &x, &y), &w, &dw, 1e-6);
        }
    }
}

/// |·| in a branch arm: f(W) = Σ |XW − Y| when `l1`, else ‖relu(XW) − Y‖², so that
/// ∂f/∂W = Xᵀ sign(XW − Y) (Y chosen with every |(XW − Y)ᵢⱼ| ≥ 0.05).
#[differentiate(wrt(w))]
fn l1_or_relu(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>, l1: bool) -> f64 {
    let z = x * w;
    if l1 {
        (z - y).map(|v| v.abs()).sum()
    } else {
        (z.map(|v| v.max(0.0)) - y).norm_squared()
    }
}

#[test]
fn abs_over_lanes_against_the_closed_form() {
    for &(m, k, n) in RELU_SHAPES {
        let (x, w, _) = relu_inputs(m, k, n);
        let y = (&x * &w).map(|z| z - 0.5 * z.signum());
        let (value, dw) = l1_or_relu_grad(&w, &x, &y, true);
        assert_eq!(value, l1_or_relu(&w, &x, &y, true));
        let want = x.transpose() * (&x * &w - &y).map(f64::signum);
        assert_close(&dw, &want, 1e-13);
        assert_fd(|w| l1_or_relu(w, &x, &y, true), &w, &dw, 1e-6);
    }
}

/// `zip_map` of `max` and `min`, both matrices differentiated: f(A, B) = Σ max(A, B) − 2 min(A, B)
/// ⊙ B, so ∂f/∂A = 1[A > B] − 2 B ⊙ 1[A < B], ∂f/∂B = 1[A ≤ B] − 2 B ⊙ 1[A ≥ B] − 2 min(A, B)
/// (here B = A ∓ 0.3: A > B where A > 0, A < B elsewhere).
#[differentiate(wrt(a, b))]
fn max_min_zipped(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.zip_map(b, |p, q| p.max(q) - 2.0 * p.min(q) * q).sum()
}

#[test]
fn zip_map_of_max_and_min_over_lanes() {
    for &(m, n) in SHAPES.iter().chain(&[(3, 5), (7, 3)]) {
        let a = mat(m, n, 30);
        let b = a.map(|v| v + if v > 0.0 { -0.3 } else { 0.3 });
        let (value, da, db) = max_min_zipped_grad(&a, &b);
        assert_eq!(value, max_min_zipped(&a, &b));
        let want_a = a.zip_map(&b, |p, q| if p > q { 1.0 } else { 0.0 } - if p < q { 2.0 * q } else { 0.0 });
        let want_b =
            a.zip_map(&b, |p, q| if p > q { 0.0 } else { 1.0 } - if p < q { 0.0 } else { 2.0 * q } - 2.0 * p.min(q));
        assert_close(&da, &want_a, 1e-13);
        assert_close(&db, &want_b, 1e-13);
        assert_fd(|a| max_min_zipped(a, &b), &a, &da, 1e-6);
        assert_fd(|b| max_min_zipped(&a, b), &b, &db, 1e-6);
    }
}

/// Static sizes, f64: X 4×3, W 3×2 (non-square), and X 1×3, W 3×5 (a 1×5 row).
#[differentiate(wrt(w))]
fn relu_static(w: &SMatrix<f64, 3, 2>, x: &SMatrix<f64, 4, 3>, y: &SMatrix<f64, 4, 2>) -> f64 {
    ((x * w).map(|v| v.max(0.0)) - y).norm_squared()
}

#[differentiate(wrt(w))]
fn relu_static_row(w: &SMatrix<f64, 3, 5>, x: &SMatrix<f64, 1, 3>, y: &SMatrix<f64, 1, 5>) -> f64 {
    ((x * w).map(|v| v.max(0.0)) - y).norm_squared()
}

#[test]
fn relu_networks_f64_static() {
    let (x, w, y) = relu_inputs(4, 3, 2);
    let (xs, ws, ys) = (
        SMatrix::<f64, 4, 3>::from_iterator(x.iter().copied()),
        SMatrix::from_iterator(w.iter().copied()),
        SMatrix::from_iterator(y.iter().copied()),
    );
    let (value, dw) = relu_static_grad(&ws, &xs, &ys);
    assert_eq!(value, relu_static(&ws, &xs, &ys));
    assert_close(&DMatrix::from_iterator(3, 2, dw.iter().copied()), &relu_closed_form(&x, &w, &y), 1e-13);
    assert_fd(|w| relu_static(w, &xs, &ys), &ws, &dw, 1e-6);

    let (x, w, y) = relu_inputs(1, 3, 5);
    let (xs, ws, ys) = (
        SMatrix::<f64, 1, 3>::from_iterator(x.iter().copied()),
        SMatrix::from_iterator(w.iter().copied()),
        SMatrix::from_iterator(y.iter().copied()),
    );
    let (value, dw) = relu_static_row_grad(&ws, &xs, &ys);
    assert_eq!(value, relu_static_row(&ws, &xs, &ys));
    assert_close(&DMatrix::from_iterator(3, 5, dw.iter().copied()), &relu_closed_form(&x, &w, &y), 1e-13);
    assert_fd(|w| relu_static_row(w, &xs, &ys), &ws, &dw, 1e-6);
}

/// f32, dynamic and static (X 4×3, W 3×2): the closed form evaluated in f64 from the same f32
/// inputs, central differences of step 1e-2 (f32 noise; the function is quadratic on each side
/// of the kink, so the step costs no accuracy).
#[differentiate(wrt(w))]
fn relu_f32(w: &DMatrix<f32>, x: &DMatrix<f32>, y: &DMatrix<f32>) -> f32 {
    ((x * w).map(|v| v.max(0.0)) - y).norm_squared()
}

#[differentiate(wrt(w))]
fn relu_static_f32(w: &SMatrix<f32, 3, 2>, x: &SMatrix<f32, 4, 3>, y: &SMatrix<f32, 4, 2>) -> f32 {
    ((x * w).map(|v| v.max(0.0)) - y).norm_squared()
}

/// `got` (f32) against the f64 closed form at the f32 inputs.
fn assert_close_f32(got: impl Iterator<Item = f32>, x: &DMatrix<f32>, w: &DMatrix<f32>, y: &DMatrix<f32>) {
    let up = |m: &DMatrix<f32>| m.map(f64::from);
    let want = relu_closed_form(&up(x), &up(w), &up(y));
    for (a, b) in got.zip(want.iter()) {
        assert!((f64::from(a) - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn relu_networks_f32_dynamic_and_static() {
    for &(m, k, n) in RELU_SHAPES {
        let (x, w, y) = relu_inputs(m, k, n);
        let (x, w, y) = (x.map(|v| v as f32), w.map(|v| v as f32), y.map(|v| v as f32));
        assert!((&x * &w).iter().all(|z| z.abs() >= 0.04));
        let (value, dw) = relu_f32_grad(&w, &x, &y);
        assert_eq!(value, relu_f32(&w, &x, &y));
        assert_close_f32(dw.iter().copied(), &x, &w, &y);
        let check = matgrad::check_gradient(|w| relu_f32(w, &x, &y), &w, &dw, 1e-2, 1e-2);
        assert!(check.ok, "{m}×{k}·{k}×{n}: {check:?}");
    }
    let (x, w, y) = relu_inputs(4, 3, 2);
    let (x, w, y) = (x.map(|v| v as f32), w.map(|v| v as f32), y.map(|v| v as f32));
    let (xs, ws, ys) = (
        SMatrix::<f32, 4, 3>::from_iterator(x.iter().copied()),
        SMatrix::from_iterator(w.iter().copied()),
        SMatrix::from_iterator(y.iter().copied()),
    );
    let (value, dw) = relu_static_f32_grad(&ws, &xs, &ys);
    assert_eq!(value, relu_static_f32(&ws, &xs, &ys));
    assert_close_f32(dw.iter().copied(), &x, &w, &y);
    let check = matgrad::check_gradient(|w| relu_static_f32(w, &xs, &ys), &ws, &dw, 1e-2, 1e-2);
    assert!(check.ok, "{check:?}");
}
