//! `check_gradients` (all parameters at once, along random directions) and `check_vjp`: they
//! pass on gradients derived by hand and generated ones, and fail on deliberately wrong ones.

mod common;

use common::mat;
use matgrad::{check_gradients, check_vjp, differentiate};
use nalgebra::{DMatrix, DVector, SMatrix};

/// Dictionary learning, f(D, R) = ‖X − DR‖².
#[differentiate(wrt(d, r))]
fn dictionary(d: &DMatrix<f64>, r: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}

/// The same over f32 and fixed sizes, with a scalar parameter: f(A, s) = s‖A‖² + sin(s).
#[differentiate(wrt(a, s))]
fn scaled(a: &SMatrix<f32, 2, 3>, s: f32) -> f32 {
    s * a.norm_squared() + s.sin()
}

/// A matrix-valued function: F(A, b) = tanh(A b) for a vector b.
#[differentiate(wrt(a, b))]
fn layer(a: &DMatrix<f64>, b: &DVector<f64>) -> DVector<f64> {
    (a * b).map(|v| v.tanh())
}

/// ∂f/∂D = −2(X − DR)Rᵀ and ∂f/∂R = −2Dᵀ(X − DR), by hand; the generated pair agrees.
#[test]
fn all_parameters_at_once() {
    let (d, r, x) = (mat(4, 2, 1), mat(2, 5, 2), mat(4, 5, 3));
    let f = |(d, r): &(DMatrix<f64>, DMatrix<f64>)| dictionary(d, r, &x);
    let resid = &x - &d * &r;
    let by_hand = (-2.0 * &resid * r.transpose(), -2.0 * d.transpose() * &resid);
    let check = check_gradients(f, &(d.clone(), r.clone()), &by_hand, 16, 7, 1e-6);
    assert!(check.ok, "{check}");
    assert_eq!(check.directions, 16);
    let (_, dd, dr) = dictionary_grad(&d, &r, &x);
    let check = check_gradients(f, &(d, r), &(dd, dr), 16, 8, 1e-6);
    assert!(check.ok, "{check}");
}

/// A gradient wrong in one parameter only (∂f/∂R off by 1% in one entry) fails, and the
/// report names a direction, the two values and the tolerance.
#[test]
fn a_wrong_gradient_fails() {
    let (d, r, x) = (mat(4, 2, 1), mat(2, 5, 2), mat(4, 5, 3));
    let f = |(d, r): &(DMatrix<f64>, DMatrix<f64>)| dictionary(d, r, &x);
    let (_, dd, mut dr) = dictionary_grad(&d, &r, &x);
    dr[(1, 3)] *= 1.5;
    let check = check_gradients(f, &(d.clone(), r.clone()), &(dd.clone(), dr), 16, 7, 1e-6);
    assert!(!check.ok, "{check}");
    assert!(check.rel_error > 1e-4 && check.worst_direction < 16);
    let report = check.to_string();
    assert!(report.starts_with("FAILED") && report.contains("tolerance"), "{report}");
    // A missing factor 2 in ∂f/∂D (the other gradient right) fails too.
    let halved = (&dd * 0.5, dictionary_grad(&d, &r, &x).2);
    assert!(!check_gradients(f, &(d, r), &halved, 16, 7, 1e-6).ok);
}

/// f32 and fixed sizes: ∂f/∂A = 2sA, ∂f/∂s = ‖A‖² + cos(s).
#[test]
fn f32_and_fixed_sizes() {
    let a = SMatrix::<f32, 2, 3>::from_row_slice(&[0.5, -1.0, 0.25, 2.0, 0.0, -0.75]);
    let s = 0.8f32;
    let f = |(a, s): &(SMatrix<f32, 2, 3>, f32)| scaled(a, *s);
    let by_hand = (a * (2.0 * s), a.norm_squared() + s.cos());
    let check = check_gradients(f, &(a, s), &by_hand, 8, 1, 1e-3);
    assert!(check.ok, "{check}");
    let (_, da, ds) = scaled_grad(&a, s);
    assert!(check_gradients(f, &(a, s), &(da, ds), 8, 2, 1e-3).ok);
    assert!(!check_gradients(f, &(a, s), &(da, ds + 0.1), 8, 2, 1e-3).ok);
    // One parameter alone, a scalar: no tuple needed.
    assert!(check_gradients(|s: &f32| scaled(&a, *s), &s, &ds, 4, 3, 1e-3).ok);
}

/// ⟨u, J v⟩ = ⟨Jᵀu, v⟩ for the generated `_vjp` of a vector-valued function, by hand
/// (F = tanh(Ab): Ā = (u ⊙ (1 − F²)) bᵀ, b̄ = Aᵀ(u ⊙ (1 − F²))), and a wrong one fails.
#[test]
fn vector_jacobian_products() {
    let (a, b) = (mat(3, 4, 4), DVector::from_column_slice(&[0.5, -1.0, 0.25, 0.8]));
    let f = |(a, b): &(DMatrix<f64>, DVector<f64>)| layer(a, b);
    let generated = |(a, b): &(DMatrix<f64>, DVector<f64>), u: &DVector<f64>| {
        let (_, da, db) = layer_vjp(a, b, u.clone());
        (da, db)
    };
    let by_hand = |(a, b): &(DMatrix<f64>, DVector<f64>), u: &DVector<f64>| {
        let y = (a * b).map(|v| v.tanh());
        let g = u.component_mul(&y.map(|t| 1.0 - t * t));
        (&g * b.transpose(), a.transpose() * &g)
    };
    let x = (a, b);
    let check = check_vjp(f, generated, &x, 12, 5, 1e-6);
    assert!(check.ok, "{check}");
    assert!(check_vjp(f, by_hand, &x, 12, 5, 1e-6).ok);
    // b̄ off by 10% (Ā right) fails.
    let wrong = |x: &(DMatrix<f64>, DVector<f64>), u: &DVector<f64>| {
        let (da, db) = by_hand(x, u);
        (da, db * 1.1)
    };
    let check = check_vjp(f, wrong, &x, 12, 5, 1e-6);
    assert!(!check.ok, "{check}");
}
