//! Edge cases of the pipeline: a value on both sides of an op, results that are parameters or
//! constants, trivial closures, nested blocks, generic scalars.

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, RealField, SMatrix};

/// f(X) = sum(X X) − ‖X − X‖ + ⟨X, X⟩ for square X:
/// ∂ sum(XX)/∂X = 11ᵀXᵀ + Xᵀ11ᵀ, ∂⟨X, X⟩/∂X = 2X, and X − X = 0 contributes nothing.
#[differentiate]
#[allow(clippy::eq_op)]
fn self_ops(x: &DMatrix<f64>) -> f64 {
    (x * x).sum() - (x - x).norm_squared() + x.dot(x)
}

#[test]
fn a_value_on_both_sides() {
    let x = mat(3, 3, 20);
    let (_, dx) = self_ops_grad(&x);
    let ones = DMatrix::from_element(3, 3, 1.0);
    assert_close(&dx, &(&ones * x.transpose() + x.transpose() * &ones + 2.0 * &x), 1e-12);
    assert_fd(self_ops, &x, &dx, 1e-7);
}

#[differentiate]
fn identity(x: f64) -> f64 {
    x
}

#[differentiate]
fn constant(x: f64, m: &DMatrix<f64>) -> f64 {
    let _ = x;
    let _ = m.nrows();
    3.5
}

#[test]
fn result_is_a_parameter_or_a_constant() {
    assert_eq!(identity_grad(2.0), (2.0, 1.0));
    let m = mat(2, 3, 21);
    let (value, dx, dm) = constant_grad(1.0, &m);
    assert_eq!((value, dx), (3.5, 0.0));
    assert_eq!(dm, DMatrix::zeros(2, 3));
}

/// Closures that return their entry, a constant, or read a constant matrix entry:
/// f(X) = sum(X) + sum(1) + sum(X · c) with c = K₀₀, so ∂f/∂X = (1 + c) 11ᵀ.
#[differentiate(wrt(x))]
fn trivial_closures(x: &DMatrix<f64>, k: &DMatrix<f64>) -> f64 {
    let c = k[(0, 0)];
    x.map(|v| v).sum() + x.map(|_v| 1.0).sum() + x.map(|v| v * c).sum()
}

#[test]
fn trivial_closures_and_constant_captures() {
    let (x, k) = (mat(2, 4, 22), mat(2, 2, 23));
    let (value, dx) = trivial_closures_grad(&x, &k);
    assert_eq!(value, trivial_closures(&x, &k));
    assert_close(&dx, &DMatrix::from_element(2, 4, 1.0 + k[(0, 0)]), 1e-12);
}

/// Blocks with their own shadowing: the inner `y` does not leak.
/// f(x) = (2x)·3 + x = 7x (with y = x outside the block)
#[differentiate]
fn blocks(x: f64) -> f64 {
    let y = x;
    let z = {
        let y = y * 2.0;
        y * 3.0
    };
    z + y
}

#[test]
fn nested_blocks_scope_their_bindings() {
    assert_eq!(blocks_grad(1.5), (10.5, 7.0));
}

/// A generic scalar: f(X) = ‖X‖² s, ∂f/∂X = 2 s X, ∂f/∂s = ‖X‖².
#[differentiate]
fn generic<T: RealField + Copy>(x: &SMatrix<T, 2, 3>, s: T) -> T {
    x.norm_squared() * s
}

#[test]
fn generic_scalar_in_f32_and_f64() {
    let x = SMatrix::<f64, 2, 3>::from_fn(|i, j| i as f64 - j as f64 * 0.5);
    let (v, dx, ds) = generic_grad(&x, 2.0);
    assert_eq!(v, 2.0 * x.norm_squared());
    assert!((dx - 4.0 * x).norm() < 1e-12 && (ds - x.norm_squared()).abs() < 1e-12);
    let x32 = x.map(|v| v as f32);
    let (v32, dx32, _) = generic_grad(&x32, 2.0f32);
    assert!((v32 - 2.0 * x32.norm_squared()).abs() < 1e-5);
    assert!((dx32 - 4.0 * x32).norm() < 1e-5);
}

/// A long chain of ops on one value, in both f64 and static 1×1 matrices.
/// f(x) = ((((x + 1)·2 − 3)/4)²), ∂f/∂x = 2 · ((2(x + 1) − 3)/4) · (2/4)
#[differentiate]
fn chain(x: &SMatrix<f64, 1, 1>) -> f64 {
    let a = x.add_scalar(1.0) * 2.0;
    let b = a.add_scalar(-3.0) / 4.0;
    b.norm_squared()
}

#[test]
fn chain_on_one_by_one() {
    let x = SMatrix::<f64, 1, 1>::new(0.7);
    let (_, dx) = chain_grad(&x);
    let inner = (2.0 * (0.7 + 1.0) - 3.0) / 4.0;
    assert!((dx[0] - 2.0 * inner * 0.5).abs() < 1e-12);
}

mod visibility {
    use matgrad::differentiate;

    /// A `mut` parameter reassigned in the body: f(x) = (2x)² = 4x², f′ = 8x.
    #[differentiate]
    pub fn reassigned(mut x: f64) -> f64 {
        x *= 2.0;
        x * x
    }
}

#[test]
fn mut_parameters_and_visibility() {
    // `reassigned_grad` is as public as `reassigned`.
    assert_eq!(visibility::reassigned_grad(1.5), (9.0, 12.0));
}
