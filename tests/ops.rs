//! Every construct of the body language, checked against a closed form derived by hand and
//! against central finite differences, on non-square, 1×1 and 1×n shapes.

mod common;

use common::{assert_close, assert_fd, mat, SHAPES};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, RowDVector, SMatrix, SVector};

// ---------------------------------------------------------------- + - * / and negation

/// f(A, B, s) = ‖A + B‖² − ⟨A − B, A⟩ + ‖s A‖² + ‖(−B)/s‖²
/// ∂f/∂A = 2(A + B) − (2A − B) + 2 s² A
/// ∂f/∂B = 2(A + B) + A + 2B/s²
/// ∂f/∂s = 2 s ‖A‖² − 2‖B‖²/s³
#[differentiate]
fn arith(a: &DMatrix<f64>, b: &DMatrix<f64>, s: f64) -> f64 {
    let sum = a + b;
    let diff = a.clone() - b;
    let scaled = s * a;
    let neg = -b;
    sum.norm_squared() - diff.dot(a) + scaled.norm_squared() + (neg / s).norm_squared()
}

#[test]
fn add_sub_mul_div_neg() {
    for &(r, c) in SHAPES {
        let (a, b, s) = (mat(r, c, 1), mat(r, c, 2), 1.7);
        let (value, da, db, ds) = arith_grad(&a, &b, s);
        assert_eq!(value, arith(&a, &b, s));
        assert_close(&da, &(2.0 * (&a + &b) - (2.0 * &a - &b) + 2.0 * s * s * &a), 1e-12);
        assert_close(&db, &(2.0 * (&a + &b) + &a + 2.0 * &b / (s * s)), 1e-12);
        let ds_want = 2.0 * s * a.norm_squared() - 2.0 * b.norm_squared() / (s * s * s);
        assert!((ds - ds_want).abs() < 1e-10 * ds_want.abs().max(1.0), "{ds} vs {ds_want}");
        assert_fd(|a: &DMatrix<f64>| arith(a, &b, s), &a, &da, 1e-7);
        assert_fd(|b: &DMatrix<f64>| arith(&a, b, s), &b, &db, 1e-7);
        assert_fd(|s: &f64| arith(&a, &b, *s), &s, &ds, 1e-7);
    }
}

/// Scalar on either side of a matrix, a matrix by a scalar, operands by value, by reference
/// and cloned: f(X, s, t) = ‖X s‖² + sum(t X) + ‖X / t‖²
/// ∂f/∂X = 2 s² X + t 11ᵀ + 2X/t²,  ∂f/∂s = 2 s ‖X‖²,  ∂f/∂t = sum(X) − 2‖X‖²/t³
#[differentiate]
fn scalar_matrix(x: DMatrix<f64>, s: f64, t: &f64) -> f64 {
    let xs = x.clone() * s;
    let tx = *t * &x;
    let xt = &x / *t;
    xs.norm_squared() + tx.sum() + xt.norm_squared()
}

#[test]
fn scalar_matrix_products_every_way() {
    for &(r, c) in SHAPES {
        let (x, s, t) = (mat(r, c, 3), -0.8, 1.3);
        let (value, dx, ds, dt) = scalar_matrix_grad(x.clone(), s, &t);
        assert_eq!(value, scalar_matrix(x.clone(), s, &t));
        let ones = DMatrix::from_element(r, c, 1.0);
        assert_close(&dx, &(2.0 * s * s * &x + t * ones + 2.0 * &x / (t * t)), 1e-12);
        assert!((ds - 2.0 * s * x.norm_squared()).abs() < 1e-10);
        assert!((dt - (x.sum() - 2.0 * x.norm_squared() / (t * t * t))).abs() < 1e-10);
        assert_fd(|x: &DMatrix<f64>| scalar_matrix(x.clone(), s, &t), &x, &dx, 1e-7);
        assert_fd(|t: &f64| scalar_matrix(x.clone(), s, t), &t, &dt, 1e-7);
    }
}

/// Matrix–vector and vector–vector products: f(A, x, y) = yᵀ A x = sum((yᵀ A) x)
/// ∂f/∂A = y xᵀ,  ∂f/∂x = Aᵀ y,  ∂f/∂y = A x
#[differentiate]
fn bilinear(a: &DMatrix<f64>, x: &DVector<f64>, y: &RowDVector<f64>) -> f64 {
    let ax = a * x;
    let ya = y * a;
    let _unused_shape = ya.ncols();
    (y * ax).sum()
}

#[test]
fn matrix_vector_products() {
    for &(r, c) in &[(3, 4), (1, 3), (4, 1), (1, 1)] {
        let a = mat(r, c, 4);
        let x = DVector::from_fn(c, |i, _| 0.3 + i as f64);
        let y = RowDVector::from_fn(r, |_, j| 1.0 - 0.5 * j as f64);
        let (value, da, dx, dy): (f64, DMatrix<f64>, DVector<f64>, RowDVector<f64>) = bilinear_grad(&a, &x, &y);
        assert!((value - (&y * &a * &x)[0]).abs() < 1e-12);
        assert_close(&da, &(y.transpose() * x.transpose()), 1e-12);
        assert_close(&dx, &(a.transpose() * y.transpose()), 1e-12);
        assert_close(&dy, &(&a * &x).transpose(), 1e-12);
    }
}

/// Products on nalgebra's fast kernel (every dimension above 5), each adjoint started by one
/// contribution and accumulated by a second: f(A, B, C) = ⟨Y, AB⟩ + ⟨Z, AC⟩ + ‖AB‖²
/// ∂f/∂A = Y Bᵀ + Z Cᵀ + 2(AB)Bᵀ,  ∂f/∂B = Aᵀ Y + 2Aᵀ(AB),  ∂f/∂C = Aᵀ Z
#[differentiate(wrt(a, b, c))]
fn fast_products(a: &DMatrix<f64>, b: &DMatrix<f64>, c: &DMatrix<f64>, y: &DMatrix<f64>, z: &DMatrix<f64>) -> f64 {
    let ab = a * b;
    let ac = a * c;
    ab.dot(y) + ac.dot(z) + ab.norm_squared()
}

#[test]
fn products_on_the_fast_kernel_with_few_rows_or_columns() {
    // (rows of A, inner, columns): few columns (4C ≤ R, Ā's first contribution through the copy
    // Bᵀ), few rows (4R ≤ C, B̄'s through the copy Aᵀ), and neither.
    for &(r, k, n) in &[(24, 8, 6), (40, 7, 9), (6, 8, 24), (7, 9, 40), (12, 8, 10)] {
        let (a, b, c) = (mat(r, k, 1), mat(k, n, 2), mat(k, n, 3));
        let (y, z) = (mat(r, n, 4), mat(r, n, 5));
        let (value, da, db, dc) = fast_products_grad(&a, &b, &c, &y, &z);
        assert_eq!(value, fast_products(&a, &b, &c, &y, &z));
        let ab = &a * &b;
        assert_close(&da, &(&y * b.transpose() + &z * c.transpose() + 2.0 * &ab * b.transpose()), 1e-10);
        assert_close(&db, &(a.transpose() * &y + 2.0 * a.transpose() * &ab), 1e-10);
        assert_close(&dc, &(a.transpose() * &z), 1e-10);
        assert_fd(|a: &DMatrix<f64>| fast_products(a, &b, &c, &y, &z), &a, &da, 1e-6);
        assert_fd(|b: &DMatrix<f64>| fast_products(&a, b, &c, &y, &z), &b, &db, 1e-6);
    }
}

// ---------------------------------------------------------------- methods

/// f(A, B) = ‖Aᵀ‖² + sum(AᵀB) + ⟨A ⊙ B, A⟩ + sum(A ⊘ B)
/// ∂f/∂A = 2A + B 11ᵀ … written entrywise:
///   ∂/∂A [sum(AᵀB)] = B 1 1ᵀ (rows of B summed, broadcast over columns)
///   ∂/∂A ⟨A⊙B, A⟩ = 2 A ⊙ B,  ∂/∂B = A ⊙ A
///   ∂/∂A sum(A⊘B) = 1⊘B,      ∂/∂B = −A⊘B²
#[differentiate]
fn methods(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let at = a.transpose();
    at.norm_squared() + a.tr_mul(b).sum() + a.component_mul(b).dot(a) + a.component_div(b).sum()
}

#[test]
fn transpose_tr_mul_component_ops() {
    for &(r, c) in SHAPES {
        let (a, b) = (mat(r, c, 5), mat(r, c, 6).map(|v| v + 2.0 * v.signum() + 0.1));
        let (value, da, db) = methods_grad(&a, &b);
        assert_eq!(value, methods(&a, &b));
        let ones_cc = DMatrix::from_element(c, c, 1.0);
        let da_want = 2.0 * &a + &b * &ones_cc + 2.0 * a.component_mul(&b) + b.map(|v| 1.0 / v);
        let db_want = &a * &ones_cc + a.component_mul(&a) - a.zip_map(&b, |x, y| x / (y * y));
        assert_close(&da, &da_want, 1e-12);
        assert_close(&db, &db_want, 1e-12);
        assert_fd(|a: &DMatrix<f64>| methods(a, &b), &a, &da, 1e-7);
        assert_fd(|b: &DMatrix<f64>| methods(&a, b), &b, &db, 1e-7);
    }
}

/// f(X, s) = ‖X‖ + tr(X) + sum(X.add_scalar(s)) + ‖X.scale(s)‖²
/// ∂f/∂X = X/‖X‖ + I + 11ᵀ + 2 s² X,  ∂f/∂s = mn + 2 s ‖X‖²
#[differentiate]
fn reductions(x: &DMatrix<f64>, s: f64) -> f64 {
    x.norm() + x.trace() + x.add_scalar(s).sum() + x.scale(s).norm_squared()
}

#[test]
fn norm_trace_add_scalar_scale() {
    for &(r, c) in &[(3, 3), (4, 4), (1, 1), (2, 2)] {
        let (x, s) = (mat(r, c, 7), 0.6);
        let (value, dx, ds) = reductions_grad(&x, s);
        assert_eq!(value, reductions(&x, s));
        let want = &x / x.norm() + DMatrix::identity(r, c) + DMatrix::from_element(r, c, 1.0) + 2.0 * s * s * &x;
        assert_close(&dx, &want, 1e-12);
        assert!((ds - ((r * c) as f64 + 2.0 * s * x.norm_squared())).abs() < 1e-10);
        assert_fd(|x: &DMatrix<f64>| reductions(x, s), &x, &dx, 1e-7);
        assert_fd(|s: &f64| reductions(&x, *s), &s, &ds, 1e-7);
    }
}

/// The trace of a non-square matrix sums the leading diagonal: ∂ tr X/∂X = I (m×n).
#[differentiate]
fn trace_only(x: &DMatrix<f64>) -> f64 {
    x.trace()
}

#[test]
fn trace_of_square_matrix_is_identity() {
    let x = mat(3, 3, 8);
    let (_, dx) = trace_only_grad(&x);
    assert_close(&dx, &DMatrix::identity(3, 3), 0.0);
}

/// The norm at X = 0 has the gradient 0 (the minimum-norm subgradient, as PyTorch).
#[test]
fn norm_at_zero_is_zero() {
    let (value, dx, _) = reductions_grad(&DMatrix::zeros(2, 2), 0.0);
    assert_eq!(value, 2.0 * 0.0 + 4.0 * 0.0);
    assert_close(&dx, &(DMatrix::identity(2, 2) + DMatrix::from_element(2, 2, 1.0)), 0.0);
}

// ---------------------------------------------------------------- indexing

/// f(M, v) = M[(1, 2)]² · v[0] + M[(0, 0)] v[2]
/// ∂f/∂M = 2 M₁₂ v₀ e₁e₂ᵀ + v₂ e₀e₀ᵀ,  ∂f/∂v = (M₁₂², 0, M₀₀, 0)
#[differentiate]
fn indexing(m: &DMatrix<f64>, v: &DVector<f64>) -> f64 {
    let e = m[(1, 2)];
    e * e * v[0] + m[(0, 0)] * v[2]
}

#[test]
fn index_entries() {
    let (m, v) = (mat(3, 4, 9), DVector::from_vec(vec![0.5, -1.0, 2.0, 3.0]));
    let (value, dm, dv) = indexing_grad(&m, &v);
    assert_eq!(value, indexing(&m, &v));
    let mut dm_want = DMatrix::zeros(3, 4);
    dm_want[(1, 2)] = 2.0 * m[(1, 2)] * v[0];
    dm_want[(0, 0)] = v[2];
    assert_close(&dm, &dm_want, 1e-12);
    assert_close(&dv, &DVector::from_vec(vec![m[(1, 2)].powi(2), 0.0, m[(0, 0)], 0.0]), 1e-12);
}

// ---------------------------------------------------------------- map and scalar functions

/// Every scalar function in a closure: g(v) = exp(v/4) + ln(v² + 1) + sqrt(v² + 2) + v.powi(3)
/// + (v² + 1).powf(0.7) + sin v + cos v + tanh v + |v| + max(v, 0.1) + min(v, −0.2)
#[differentiate]
fn elementwise(x: &DMatrix<f64>) -> f64 {
    let y = x.map(|v| {
        let sq = v * v;
        (v / 4.0).exp()
            + (sq + 1.0).ln()
            + (sq + 2.0).sqrt()
            + v.powi(3)
            + (sq + 1.0).powf(0.7)
            + v.sin()
            + v.cos()
            + v.tanh()
            + v.abs()
            + v.max(0.1)
            + v.min(-0.2)
    });
    y.sum()
}

fn elementwise_derivative(v: f64) -> f64 {
    let sq = v * v;
    (v / 4.0).exp() / 4.0
        + 2.0 * v / (sq + 1.0)
        + v / (sq + 2.0).sqrt()
        + 3.0 * sq
        + 0.7 * (sq + 1.0).powf(-0.3) * 2.0 * v
        + v.cos()
        - v.sin()
        + 1.0
        - v.tanh().powi(2)
        + v.signum()
        + if v > 0.1 { 1.0 } else { 0.0 }
        + if v < -0.2 { 1.0 } else { 0.0 }
}

#[test]
fn map_derives_every_scalar_function() {
    for &(r, c) in SHAPES {
        let x = mat(r, c, 10).map(|v| if v.abs() < 0.05 { 0.3 } else { v });
        let (value, dx) = elementwise_grad(&x);
        assert_eq!(value, elementwise(&x));
        assert_close(&dx, &x.map(elementwise_derivative), 1e-12);
        assert_fd(elementwise, &x, &dx, 1e-6);
    }
}

/// A closure capturing a differentiated scalar: f(X, p, s) = Σ (|xᵢⱼ| + 1)^p · s
/// ∂f/∂p = Σ s yᵢⱼ ln(|xᵢⱼ| + 1),  ∂f/∂s = Σ yᵢⱼ
#[differentiate]
fn captures(x: &DMatrix<f64>, p: f64, s: f64) -> f64 {
    x.map(|v| (v.abs() + 1.0).powf(p) * s).sum()
}

#[test]
fn map_with_captured_scalars() {
    let (x, p, s) = (mat(3, 5, 11), 1.5, 0.7);
    let (value, dx, dp, ds) = captures_grad(&x, p, s);
    assert_eq!(value, captures(&x, p, s));
    let y = x.map(|v| (v.abs() + 1.0).powf(p));
    assert!((dp - s * y.zip_map(&x, |y, v| y * (v.abs() + 1.0).ln()).sum()).abs() < 1e-10);
    assert!((ds - y.sum()).abs() < 1e-10);
    assert_fd(|x: &DMatrix<f64>| captures(x, p, s), &x, &dx, 1e-6);
    assert_fd(|p: &f64| captures(&x, *p, s), &p, &dp, 1e-7);
}

/// Scalar functions on scalars, outside closures: f(x) = exp(sin x) · ln(x²) / sqrt(x) + x.powi(2).tanh()
#[differentiate]
fn scalar_fns(x: f64) -> f64 {
    let a = x.sin().exp();
    let b = (x * x).ln() / x.sqrt();
    a * b + f64::tanh(x.powi(2)) + f64::max(x, 2.0) + x.abs().recip()
}

#[test]
fn scalar_functions_on_scalars() {
    for x in [0.3, 1.1, 2.5] {
        let (value, dx) = scalar_fns_grad(x);
        assert_eq!(value, scalar_fns(x));
        let (a, b) = (x.sin().exp(), (x * x).ln() / x.sqrt());
        let da = a * x.cos();
        let db = (2.0 / x) / x.sqrt() - (x * x).ln() * 0.5 * x.powf(-1.5);
        let want = da * b + a * db + (1.0 - (x * x).tanh().powi(2)) * 2.0 * x + if x > 2.0 { 1.0 } else { 0.0 }
            - 1.0 / (x * x);
        assert!((dx - want).abs() < 1e-10 * want.abs().max(1.0), "{dx} vs {want}");
        assert_fd(|x: &f64| scalar_fns(*x), &x, &dx, 1e-7);
    }
}

// ---------------------------------------------------------------- bindings and fan-out

/// `let` with and without types, shadowing, `let mut` with reassignment and compound
/// assignment, `return`, and fan-out (x read four times):
/// f(x) = ‖x + 2x‖²·… computed as:
///   y = 3x;  y ← y − x (= 2x);  y ← y * 2 (= 4x);  z = ⟨y, x⟩ = 4‖x‖²;  return z + z = 8‖x‖²
/// ∂f/∂x = 16 x
#[differentiate]
#[allow(clippy::needless_return, clippy::assign_op_pattern)]
fn bindings(x: &DMatrix<f64>) -> f64 {
    let y: DMatrix<f64> = x + x * 2.0;
    let mut y = y;
    y = y - x;
    y *= 2.0;
    let two: f64 = 2.0;
    let z = y.dot(x) * two / 2.0;
    return z + z;
}

#[test]
fn bindings_shadowing_reassignment_and_fan_out() {
    for &(r, c) in SHAPES {
        let x = mat(r, c, 12);
        let (value, dx) = bindings_grad(&x);
        assert!((value - 8.0 * x.norm_squared()).abs() < 1e-12);
        assert_close(&dx, &(16.0 * &x), 1e-12);
    }
}

// ---------------------------------------------------------------- broadcasting and constants

/// Seed 001's broadcasting as users write it: f(C, b, c) = ‖C + 1 b + c 1ᵀ‖²
/// ∂f/∂b = row_sum(2G) = 1ᵀ(2G),  ∂f/∂c = column_sum(2G) = (2G)1, G = C + 1b + c1ᵀ
#[differentiate(wrt(b, c))]
fn broadcast(m: &DMatrix<f64>, b: &RowDVector<f64>, c: &DVector<f64>) -> f64 {
    let ones = DVector::from_element(m.nrows(), 1.0);
    let ones_row = RowDVector::from_element(m.ncols(), 1.0);
    let g = m + &ones * b + c * &ones_row;
    g.norm_squared()
}

#[test]
fn row_and_column_broadcasting() {
    for &(r, c) in SHAPES {
        let m = mat(r, c, 13);
        let b = RowDVector::from_fn(c, |_, j| 0.2 * j as f64 - 0.1);
        let cv = DVector::from_fn(r, |i, _| 0.5 - 0.3 * i as f64);
        let (_, db, dc) = broadcast_grad(&m, &b, &cv);
        let g = &m + DVector::from_element(r, 1.0) * &b + &cv * RowDVector::from_element(c, 1.0);
        assert_close(&db, &(2.0 * g.row_sum()), 1e-12);
        assert_close(&dc, &(2.0 * g.column_sum()), 1e-12);
    }
}

/// Constructors and shape queries are constants; a non-wrt parameter costs nothing.
/// f(W) = ‖W − I‖² + n · sum(W), n = nrows as f64: ∂f/∂W = 2(W − I) + n 11ᵀ
#[differentiate(wrt(w))]
fn constants(w: &DMatrix<f64>, scale: usize) -> f64 {
    let n = w.nrows() as f64;
    let eye = DMatrix::<f64>::identity(w.nrows(), w.ncols());
    let k = (scale * 2) as f64 / 2.0;
    (w - eye).norm_squared() + n * w.sum() * k / (scale as f64)
}

#[test]
fn constructors_and_shape_queries_are_constants() {
    let w = mat(3, 4, 14);
    let (value, dw) = constants_grad(&w, 5);
    assert_eq!(value, constants(&w, 5));
    let want = 2.0 * (&w - DMatrix::identity(3, 4)) + DMatrix::from_element(3, 4, 3.0);
    assert_close(&dw, &want, 1e-12);
}

/// A parameter not reached by the value gets a zero gradient of its shape.
#[differentiate]
fn unused_param(x: &DMatrix<f64>, _y: &DMatrix<f64>) -> f64 {
    x.sum()
}

#[test]
fn unreached_parameter_gets_zeros() {
    let (x, y) = (mat(2, 3, 15), mat(4, 1, 16));
    let (_, dx, dy) = unused_param_grad(&x, &y);
    assert_close(&dx, &DMatrix::from_element(2, 3, 1.0), 0.0);
    assert_eq!(dy, DMatrix::zeros(4, 1));
}

// ---------------------------------------------------------------- static sizes and f32

/// f(A, x) = ‖A x‖² on fixed sizes: ∂f/∂A = 2 (A x) xᵀ, ∂f/∂x = 2 Aᵀ A x
#[differentiate]
fn fixed(a: &SMatrix<f64, 2, 3>, x: &SVector<f64, 3>) -> f64 {
    (a * x).norm_squared()
}

#[test]
fn fixed_size_gradients_have_fixed_types() {
    let a = SMatrix::<f64, 2, 3>::new(1.0, 2.0, -1.0, 0.5, 0.0, 3.0);
    let x = SVector::<f64, 3>::new(0.2, -0.4, 1.0);
    let (_, da, dx): (f64, SMatrix<f64, 2, 3>, SVector<f64, 3>) = fixed_grad(&a, &x);
    assert!((da - 2.0 * (a * x) * x.transpose()).norm() < 1e-12);
    assert!((dx - 2.0 * a.transpose() * a * x).norm() < 1e-12);
}

/// The network in f32: ∂f/∂W = 2Xᵀ[(a − Y) ⊙ a ⊙ (1 − a)].
#[differentiate(wrt(w))]
fn network32(w: &DMatrix<f32>, x: &DMatrix<f32>, y: &DMatrix<f32>) -> f32 {
    let a = (x * w).map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}

#[test]
fn f32_network() {
    let x = mat(5, 3, 17).map(|v| v as f32);
    let w = mat(3, 2, 18).map(|v| v as f32);
    let y = mat(5, 2, 19).map(|v| v as f32);
    let (value, dw) = network32_grad(&w, &x, &y);
    assert_eq!(value, network32(&w, &x, &y));
    let a = (&x * &w).map(|v| 1.0 / (1.0 + (-v).exp()));
    let want = 2.0 * x.transpose() * (&a - &y).component_mul(&a.map(|s| s * (1.0 - s)));
    assert!((dw - want).norm() < 1e-5);
}

/// f32 scalars and fixed sizes: f(s, v) = s² ‖v‖, ∂f/∂s = 2 s ‖v‖, ∂f/∂v = s² v/‖v‖
#[differentiate]
fn small32(s: f32, v: SVector<f32, 3>) -> f32 {
    s * s * v.norm()
}

#[test]
fn f32_scalar_and_static_vector() {
    let v = SVector::<f32, 3>::new(1.0, 2.0, 2.0);
    let (value, ds, dv) = small32_grad(0.5, v);
    assert_eq!(value, 0.75);
    assert!((ds - 3.0).abs() < 1e-6);
    assert!((dv - v * (0.25 / 3.0)).norm() < 1e-6);
}

// ---------------------------------------------------------------- products on the fast kernel

/// f(A, B) = ⟨W₁, A B⟩ + ⟨W₂, A C⟩ + ⟨W₃, D B⟩ (W, C, D constant)
/// ∂f/∂A = W₁ Bᵀ + W₂ Cᵀ,  ∂f/∂B = Aᵀ W₁ + Dᵀ W₃
/// The first contribution to each adjoint starts it, the second accumulates into it (gemm with
/// β = 1): both paths of both transposed products.
#[differentiate(wrt(a, b))]
fn products(
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
    c: &DMatrix<f64>,
    d: &DMatrix<f64>,
    w1: &DMatrix<f64>,
    w2: &DMatrix<f64>,
    w3: &DMatrix<f64>,
) -> f64 {
    (a * b).dot(w1) + (a * c).dot(w2) + (d * b).dot(w3)
}

#[differentiate(wrt(a, b))]
fn products32(a: &DMatrix<f32>, b: &DMatrix<f32>, w: &DMatrix<f32>) -> f32 {
    (a * b).dot(w)
}

/// Transposed products take nalgebra's fast kernel through strided views only when every
/// dimension exceeds 5 (below, `gemm` would run `axpy` on a strided view, which is out of
/// bounds in nalgebra 0.35): shapes on both sides of the limit, in every position.
#[test]
fn products_on_both_sides_of_the_fast_kernel_limit() {
    for (m, k, n) in
        [(5, 5, 5), (6, 6, 6), (5, 6, 7), (6, 5, 7), (7, 6, 5), (6, 7, 5), (9, 6, 8), (1, 6, 6), (40, 33, 17)]
    {
        let (a, b) = (mat(m, k, 1), mat(k, n, 2));
        let (c, d) = (mat(k, 3, 3), mat(4, k, 4));
        let (w1, w2, w3) = (mat(m, n, 5), mat(m, 3, 6), mat(4, n, 7));
        let (value, da, db) = products_grad(&a, &b, &c, &d, &w1, &w2, &w3);
        assert_eq!(value, products(&a, &b, &c, &d, &w1, &w2, &w3));
        assert_close(&da, &(&w1 * b.transpose() + &w2 * c.transpose()), 1e-12);
        assert_close(&db, &(a.transpose() * &w1 + d.transpose() * &w3), 1e-12);

        let f = |a: &DMatrix<f64>| a.map(|v| v as f32);
        let (a32, b32, w32) = (f(&a), f(&b), f(&w1));
        let (_, da32, db32) = products32_grad(&a32, &b32, &w32);
        assert!((da32 - &w32 * b32.transpose()).norm() <= 1e-4 * (1.0 + w32.norm() * b32.norm()));
        assert!((db32 - a32.transpose() * &w32).norm() <= 1e-4 * (1.0 + w32.norm() * a32.norm()));
    }
}

// ---------------------------------------------------------------- values moved into rules

/// Every rule that takes a dead value or the last use of an adjoint by value, fed temporaries
/// that die there: f(X, Y) = ‖X + Y‖² + ‖2X‖ + Σ(X ⊙ Y) + ⟨X − Y, X + Y⟩ − ‖−(X ⊙ X)‖² + Σ(−Y)
/// ∂f/∂X = 2(X + Y) + 2X/‖X‖ + Y + 2X − 4 X³ (entrywise cube)
/// ∂f/∂Y = 2(X + Y) + X − 2Y − 1
#[differentiate]
fn moved(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let s = x + y;
    let n = (x * 2.0).norm();
    let p = x.component_mul(y).sum();
    let d = (x - y).dot(&(x + y));
    let q = -x.component_mul(x);
    s.norm_squared() + n + p + d - q.norm_squared() + (-y).sum()
}

#[test]
fn rules_reuse_dead_values() {
    for &(r, c) in SHAPES {
        let (x, y) = (mat(r, c, 8), mat(r, c, 9));
        let (value, dx, dy) = moved_grad(&x, &y);
        assert_eq!(value, moved(&x, &y));
        let cube = x.map(|v| v * v * v);
        let want_x = 2.0 * (&x + &y) + &x * (2.0 / x.norm()) + &y + 2.0 * &x - 4.0 * cube;
        let want_y = 2.0 * (&x + &y) + &x - 2.0 * &y - DMatrix::from_element(r, c, 1.0);
        assert_close(&dx, &want_x, 1e-12);
        assert_close(&dy, &want_y, 1e-12);
        assert_fd(|x| moved(x, &y), &x, &dx, 1e-6);
    }
}

/// Terms of sums whose adjoints borrow the sum's (nested sums, a difference):
/// f(A) = ‖(2A + A⊙A) + sin A‖² − Σ(3A − A⊙A)
/// ∂f/∂A = 2S ⊙ (2 + 2A + cos A) − (3 − 2A), S = 2A + A⊙A + sin A
#[differentiate]
fn terms(a: &DMatrix<f64>) -> f64 {
    let s = (a * 2.0 + a.component_mul(a)) + a.map(|v| v.sin());
    let t = a * 3.0 - a.component_mul(a);
    s.norm_squared() - t.sum()
}

#[test]
fn terms_of_sums_share_the_adjoint() {
    for &(r, c) in SHAPES {
        let a = mat(r, c, 10);
        let (value, da) = terms_grad(&a);
        assert_eq!(value, terms(&a));
        let s = &a * 2.0 + a.component_mul(&a) + a.map(f64::sin);
        let factor = a.map(|v| 2.0 + 2.0 * v + v.cos());
        let want = 2.0 * s.component_mul(&factor) - a.map(|v| 3.0 - 2.0 * v);
        assert_close(&da, &want, 1e-12);
        assert_fd(terms, &a, &da, 1e-6);
    }
}

/// Scalar quotients, with numerator 1 (the reciprocal form, differentiated from its value) and
/// others: f(x, s) = x/s + 2/s + 1/(s x)
/// ∂f/∂x = 1/s − 1/(s x²),  ∂f/∂s = −x/s² − 2/s² − 1/(s² x)
#[differentiate]
fn quotients(x: f64, s: f64) -> f64 {
    x / s + 2.0 / s + 1.0 / (s * x)
}

#[test]
fn scalar_quotients() {
    for (x, s) in [(0.7, 1.3), (-2.0, 0.5), (3.0, -4.0)] {
        let (value, dx, ds) = quotients_grad(x, s);
        assert_eq!(value, quotients(x, s));
        assert!((dx - (1.0 / s - 1.0 / (s * x * x))).abs() < 1e-12);
        assert!((ds - (-x / (s * s) - 2.0 / (s * s) - 1.0 / (s * s * x))).abs() < 1e-12);
    }
}

/// Negations whose adjoints are kept negated: as the result, and read twice.
/// f(X) = −(‖N‖² + Σ N) with N = −X⊙X:  ∂f/∂X = −(2N + 1) ⊙ (−2X) = 2X ⊙ (1 − 2X⊙X)
#[differentiate]
fn negations(x: &DMatrix<f64>) -> f64 {
    let n = -x.component_mul(x);
    -(n.norm_squared() + n.sum())
}

#[test]
fn negated_adjoints() {
    for &(r, c) in SHAPES {
        let x = mat(r, c, 11);
        let (value, dx) = negations_grad(&x);
        assert_eq!(value, negations(&x));
        let want = x.map(|v| 2.0 * v * (1.0 - 2.0 * v * v));
        assert_close(&dx, &want, 1e-12);
        assert_fd(negations, &x, &dx, 1e-6);
    }
}
