//! The scalar functions of issue 12 (inverse trigonometric and hyperbolic functions, `atan2`,
//! `hypot`, `ln_1p`, `exp_m1`, logarithms, `cbrt`, `clamp`, `signum`, `mul_add`, and `max`/`min`
//! between two differentiated values), on scalars and inside `map` closures, in f64 and f32:
//! each gradient checked against its derivative by hand and central differences.

mod common;

use common::{assert_close, assert_fd, mat, SHAPES};
use matgrad::differentiate;
use nalgebra::{DMatrix, SMatrix};

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
}

// ---------------------------------------------------------------- unary functions

/// g(v) = asin(v/2) + acos(v/3) + atan v + asinh v + acosh(v² + 2) + atanh(v/2) + ∛(v + 3)
///      + ln_1p(v²) + exp_m1(v/2) + log₂(v² + 1) + log₁₀(v² + 2) + signum(v)·v²
#[differentiate]
fn unary(v: f64) -> f64 {
    (v / 2.0).asin()
        + (v / 3.0).acos()
        + v.atan()
        + v.asinh()
        + (v * v + 2.0).acosh()
        + (v / 2.0).atanh()
        + (v + 3.0).cbrt()
        + (v * v).ln_1p()
        + (v / 2.0).exp_m1()
        + (v * v + 1.0).log2()
        + f64::log10(v * v + 2.0)
        + v.signum() * v * v
}

/// g′(v), term by term (chain rule on each closed-form derivative):
/// ½/√(1 − v²/4) − ⅓/√(1 − v²/9) + 1/(1 + v²) + 1/√(v² + 1) + 2v/√((v² + 2)² − 1)
/// + ½/(1 − v²/4) + 1/(3 (v + 3)^(2/3)) + 2v/(1 + v²) + ½ e^(v/2) + 2v/((v² + 1) ln 2)
/// + 2v/((v² + 2) ln 10) + 2v signum(v)   (signum′ = 0)
fn unary_derivative(v: f64) -> f64 {
    let w = v * v + 2.0;
    0.5 / (1.0 - v * v / 4.0).sqrt() - (1.0 / 3.0) / (1.0 - v * v / 9.0).sqrt()
        + 1.0 / (1.0 + v * v)
        + 1.0 / (v * v + 1.0).sqrt()
        + 2.0 * v / (w * w - 1.0).sqrt()
        + 0.5 / (1.0 - v * v / 4.0)
        + 1.0 / (3.0 * (v + 3.0).powf(2.0 / 3.0))
        + 2.0 * v / (1.0 + v * v)
        + 0.5 * (v / 2.0).exp()
        + 2.0 * v / ((v * v + 1.0) * std::f64::consts::LN_2)
        + 2.0 * v / ((v * v + 2.0) * std::f64::consts::LN_10)
        + 2.0 * v * v.signum()
}

#[test]
fn unary_functions_on_scalars() {
    for v in [-0.9, -0.3, 0.4, 1.1] {
        let (value, dv) = unary_grad(v);
        assert_eq!(value, unary(v));
        close(dv, unary_derivative(v), 1e-12);
        assert_fd(|v: &f64| unary(*v), &v, &dv, 1e-7);
    }
}

/// The same g in a closure: f(X) = Σ g(xᵢⱼ), ∂f/∂X = g′(X) entrywise.
#[differentiate]
fn unary_map(x: &DMatrix<f64>) -> f64 {
    x.map(|v| {
        (v / 2.0).asin()
            + (v / 3.0).acos()
            + v.atan()
            + v.asinh()
            + (v * v + 2.0).acosh()
            + (v / 2.0).atanh()
            + (v + 3.0).cbrt()
            + (v * v).ln_1p()
            + (v / 2.0).exp_m1()
            + (v * v + 1.0).log2()
            + f64::log10(v * v + 2.0)
            + v.signum() * v * v
    })
    .sum()
}

#[test]
fn unary_functions_in_closures() {
    for &(r, c) in SHAPES {
        let x = mat(r, c, 3);
        let (value, dx) = unary_map_grad(&x);
        assert!((value - unary_map(&x)).abs() < 1e-12);
        assert_close(&dx, &x.map(unary_derivative), 1e-11);
        assert_fd(unary_map, &x, &dx, 1e-6);
    }
}

/// signum's derivative is 0, also at 0: f(x) = signum(x) · 3 has f′ = 0 everywhere.
#[differentiate]
fn sign_only(x: f64) -> f64 {
    x.signum() * 3.0
}

#[test]
fn signum_has_zero_derivative() {
    for x in [-1.0, 0.0, 2.0] {
        assert_eq!(sign_only_grad(x).1, 0.0);
    }
}

// ---------------------------------------------------------------- binary and ternary functions

/// f(y, x, b) = atan2(y, x) + hypot(x, y) + log_b(x² + 1) + max(x, y) + min(x, y)
///            + clamp(y, −b, x) + x.mul_add(y, b)
#[differentiate]
fn binary(y: f64, x: f64, b: f64) -> f64 {
    y.atan2(x) + x.hypot(y) + (x * x + 1.0).log(b) + x.max(y) + f64::min(x, y) + y.clamp(-b, x) + x.mul_add(y, b)
}

/// By hand, with r² = x² + y², u = x² + 1, term by term:
/// atan2: (x/r², −y/r²); hypot: (x/r, y/r); log_b u = ln u / ln b: ∂x = 2x/(u ln b),
/// ∂b = −ln u/(b (ln b)²); max(x, y): ∂x = 1[x > y], ∂y = 1[x ≤ y]; min(x, y): ∂x = 1[x < y],
/// ∂y = 1[x ≥ y]; clamp(y, −b, x): ∂y = 1[−b ≤ y ≤ x], ∂b = −1[y < −b], ∂x = 1[y > x];
/// x·y + b: ∂x = y, ∂y = x, ∂b = 1.
fn binary_derivative(y: f64, x: f64, b: f64) -> (f64, f64, f64) {
    let (r2, u) = (x * x + y * y, x * x + 1.0);
    let r = r2.sqrt();
    let ind = |c: bool| if c { 1.0 } else { 0.0 };
    let dy = x / r2 + y / r + ind(x <= y) + ind(x >= y) + ind(-b <= y && y <= x) + x;
    let dx = -y / r2 + x / r + 2.0 * x / (u * b.ln()) + ind(x > y) + ind(x < y) + ind(y > x) + y;
    let db = -u.ln() / (b * b.ln().powi(2)) - ind(y < -b) + 1.0;
    (dy, dx, db)
}

#[test]
fn binary_functions_on_scalars() {
    // y inside, below and above the clamp's interval [−b, x]; x ≠ y (no ties).
    for (y, x, b) in [(0.3, 0.8, 2.5), (-3.0, 0.5, 2.0), (1.5, -0.7, 3.0), (-0.4, -1.2, 1.7)] {
        let (value, dy, dx, db) = binary_grad(y, x, b);
        assert_eq!(value, binary(y, x, b));
        let (wy, wx, wb) = binary_derivative(y, x, b);
        close(dy, wy, 1e-12);
        close(dx, wx, 1e-12);
        close(db, wb, 1e-12);
        assert_fd(|y: &f64| binary(*y, x, b), &y, &dy, 1e-7);
        assert_fd(|x: &f64| binary(y, *x, b), &x, &dx, 1e-7);
        assert_fd(|b: &f64| binary(y, x, *b), &b, &db, 1e-7);
    }
}

/// atan2 and hypot at the origin: both partials are 0 there (a documented choice).
#[differentiate]
fn at_origin(y: f64, x: f64) -> f64 {
    y.atan2(x) + x.hypot(y)
}

#[test]
fn atan2_and_hypot_at_the_origin_are_zero() {
    assert_eq!(at_origin_grad(0.0, 0.0), (0.0, 0.0, 0.0));
}

/// In a closure over X, with captured differentiated scalars s, b:
/// f(X, s, b) = Σ atan2(x, s) + hypot(x, s) + max(x, s) + min(x, s) + clamp(x, −b, s)
///            + x.mul_add(s, b) + log_b(x² + 1)
#[differentiate]
fn binary_map(x: &DMatrix<f64>, s: f64, b: f64) -> f64 {
    x.map(|v| v.atan2(s) + v.hypot(s) + v.max(s) + v.min(s) + v.clamp(-b, s) + v.mul_add(s, b) + (v * v + 1.0).log(b))
        .sum()
}

/// ∂/∂x per entry and the sums over entries for s and b, from the partials listed above
/// (atan2(x, s): ∂x = s/r², ∂s = −x/r²; hypot(x, s): x/r, s/r; clamp(x, −b, s): ∂x = 1[−b ≤ x ≤ s],
/// ∂b = −1[x < −b], ∂s = 1[x > s]).
fn binary_map_derivative(x: &DMatrix<f64>, s: f64, b: f64) -> (DMatrix<f64>, f64, f64) {
    let ind = |c: bool| if c { 1.0 } else { 0.0 };
    let dx = x.map(|v| {
        let r2 = v * v + s * s;
        s / r2
            + v / r2.sqrt()
            + ind(v > s)
            + ind(v < s)
            + ind(-b <= v && v <= s)
            + s
            + 2.0 * v / ((v * v + 1.0) * b.ln())
    });
    let ds = x
        .map(|v| {
            let r2 = v * v + s * s;
            -v / r2 + s / r2.sqrt() + ind(v <= s) + ind(v >= s) + ind(v > s) + v
        })
        .sum();
    let db = x.map(|v| -ind(v < -b) + 1.0 - (v * v + 1.0).ln() / (b * b.ln().powi(2))).sum();
    (dx, ds, db)
}

#[test]
fn binary_functions_in_closures() {
    for &(r, c) in SHAPES {
        let x = mat(r, c, 5).map(|v| 2.0 * v);
        let (s, b) = (0.35, 1.3);
        let (value, dx, ds, db) = binary_map_grad(&x, s, b);
        assert!((value - binary_map(&x, s, b)).abs() < 1e-12);
        let (wx, ws, wb) = binary_map_derivative(&x, s, b);
        assert_close(&dx, &wx, 1e-12);
        close(ds, ws, 1e-12);
        close(db, wb, 1e-12);
        assert_fd(|x: &DMatrix<f64>| binary_map(x, s, b), &x, &dx, 1e-6);
        assert_fd(|s: &f64| binary_map(&x, *s, b), &s, &ds, 1e-6);
        assert_fd(|b: &f64| binary_map(&x, s, *b), &b, &db, 1e-6);
    }
}

// ---------------------------------------------------------------- f32, fixed size

/// f32 in a closure over a fixed-size matrix: f(X, s) = Σ [atan(x) + atan2(x, s) + ln_1p(x²)]
/// + ∛s + clamp(s, 0, 1)
/// ∂/∂x = 1/(1 + x²) + s/(x² + s²) + 2x/(1 + x²),
/// ∂/∂s = Σ −x/(x² + s²) + 1/(3 s^(2/3)) + 1[0 ≤ s ≤ 1]
#[differentiate]
fn small32(x: &SMatrix<f32, 2, 3>, s: f32) -> f32 {
    x.map(|v| v.atan() + v.atan2(s) + (v * v).ln_1p()).sum() + s.cbrt() + s.clamp(0.0, 1.0)
}

#[test]
fn f32_fixed_size() {
    let x = SMatrix::<f32, 2, 3>::new(0.1, -0.5, 0.9, 1.3, -1.1, 0.2);
    let s = 0.6f32;
    let (value, dx, ds) = small32_grad(&x, s);
    assert!((value - small32(&x, s)).abs() < 1e-6);
    let want = x.map(|v| 1.0 / (1.0 + v * v) + s / (v * v + s * s) + 2.0 * v / (1.0 + v * v));
    assert!((dx - want).abs().max() < 1e-5, "{dx} vs {want}");
    // + ∛′(s) = 1/(3 s^(2/3)) + clamp′ = 1 (0 ≤ s ≤ 1)
    let ds_want: f32 = x.map(|v| -v / (v * v + s * s)).sum() + 1.0 / (3.0 * s.powf(2.0 / 3.0)) + 1.0;
    assert!((ds - ds_want).abs() < 1e-5, "{ds} vs {ds_want}");
    // central differences in f64 on the same formula
    let f64_of =
        |s: f64| x.map(f64::from).map(|v| v.atan() + v.atan2(s) + (v * v).ln_1p()).sum() + s.cbrt() + s.clamp(0.0, 1.0);
    let h = 1e-6;
    let fd = (f64_of(f64::from(s) + h) - f64_of(f64::from(s) - h)) / (2.0 * h);
    assert!((f64::from(ds) - fd).abs() < 1e-4, "{ds} vs {fd}");
}

/// f32 scalars: g(y, x) = asin(y/2) + hypot(x, y) + x.max(y) + exp_m1(x) + log₁₀(x² + 1)
#[differentiate]
fn scalars32(y: f32, x: f32) -> f32 {
    (y / 2.0).asin() + x.hypot(y) + x.max(y) + x.exp_m1() + (x * x + 1.0).log10()
}

#[test]
fn f32_scalars() {
    let (y, x) = (0.7f32, -0.4f32);
    let (_, dy, dx) = scalars32_grad(y, x);
    let r = (x * x + y * y).sqrt();
    // ∂y = ½/√(1 − y²/4) + y/r + 1[x ≤ y];  ∂x = x/r + 1[x > y] + eˣ + 2x/((x² + 1) ln 10)
    let wy = 0.5 / (1.0 - y * y / 4.0).sqrt() + y / r + 1.0;
    let wx = x / r + x.exp() + 2.0 * x / ((x * x + 1.0) * std::f32::consts::LN_10);
    assert!((dy - wy).abs() < 1e-5, "{dy} vs {wy}");
    assert!((dx - wx).abs() < 1e-5, "{dx} vs {wx}");
}
