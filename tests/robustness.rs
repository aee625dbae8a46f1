//! Runtime behaviour on bad data is the forward code's: a shape mismatch or an index out of
//! bounds panics in `_grad` with nalgebra's message at the same place as in the function, NaN and
//! infinities propagate as the maths says, and empty matrices work. Also regressions found by
//! fuzzing the expansion (grad-macro/tests/unit/fuzz.rs).

mod common;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use common::{assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, RowDVector};

thread_local! {
    /// Whether this thread expects a panic, and the message and location of the last one.
    static EXPECTED: RefCell<Option<Option<(String, String)>>> = const { RefCell::new(None) };
}

/// Runs `f`, which must panic; returns its message and the file:line where it panicked.
fn panic_of<R>(f: impl FnOnce() -> R) -> (String, String) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let expected = EXPECTED.with(|e| e.borrow().is_some());
            if !expected {
                return default(info);
            }
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            EXPECTED.with(|e| *e.borrow_mut() = Some(Some((msg.unwrap_or_default(), at))));
        }))
    });
    EXPECTED.with(|e| *e.borrow_mut() = Some(None));
    let result = catch_unwind(AssertUnwindSafe(f));
    let seen = EXPECTED.with(|e| e.borrow_mut().take()).flatten();
    assert!(result.is_err(), "expected a panic");
    seen.expect("the hook saw the panic")
}

/// `_grad` panics with the forward function's message, at the same place: the same line of
/// nalgebra, or for `#[track_caller]` operations (indexing) the same line of the user's function.
/// Returns the message and the place.
fn same_panic<A, B>(forward: impl FnOnce() -> A, grad: impl FnOnce() -> B) -> (String, String) {
    let (fwd, grd) = (panic_of(forward), panic_of(grad));
    assert_eq!(fwd, grd, "the forward function and `_grad` panic differently");
    fwd
}

#[differentiate]
fn product(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a * b).sum()
}

#[differentiate]
fn sum_of(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a + b).norm_squared()
}

#[differentiate]
fn hadamard(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.component_mul(b).sum()
}

#[differentiate]
fn inner(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.dot(b) + a.tr_mul(b).trace()
}

#[differentiate]
fn entry(a: &DMatrix<f64>, i: usize, j: usize) -> f64 {
    a[(i, j)] * 2.0
}

#[test]
fn shape_mismatches_panic_as_nalgebra_does() {
    let (a, b) = (mat(2, 3, 1), mat(2, 3, 2));
    let (msg, at) = same_panic(|| product(&a, &b), || product_grad(&a, &b));
    assert!(msg.contains("dimension") && at.contains("nalgebra"), "{msg} at {at}");
    let c = mat(3, 2, 3);
    same_panic(|| sum_of(&a, &c), || sum_of_grad(&a, &c));
    same_panic(|| hadamard(&a, &c), || hadamard_grad(&a, &c));
    same_panic(|| inner(&a, &c), || inner_grad(&a, &c));
}

#[differentiate]
fn biased(x: &DMatrix<f64>, b: &RowDVector<f64>, c: &DVector<f64>) -> f64 {
    matgrad::add_column_vector(&matgrad::add_row_vector(x, b), c).norm_squared()
}

/// A bias of the wrong length is an error in the function and in `_grad` alike (it was once
/// truncated to the shorter of the two).
#[test]
fn a_bias_of_the_wrong_length_panics() {
    let x = mat(2, 3, 5);
    let (b, c) = (RowDVector::from_row_slice(&[1.0, 2.0, 3.0]), DVector::from_column_slice(&[0.5, -1.0]));
    let short = RowDVector::from_row_slice(&[1.0, 2.0]);
    let (msg, _) = same_panic(|| biased(&x, &short, &c), || biased_grad(&x, &short, &c));
    assert!(msg.contains("add_row_vector: the row has 2 entries for 3 columns"), "{msg}");
    let long = DVector::from_column_slice(&[0.5, -1.0, 2.0]);
    let (msg, _) = same_panic(|| biased(&x, &b, &long), || biased_grad(&x, &b, &long));
    assert!(msg.contains("add_column_vector: the column has 3 entries for 2 rows"), "{msg}");
    // The right lengths: ∂‖X + 1b + c1ᵀ‖²/∂X = 2(X + 1b + c1ᵀ).
    let (_, dx, db, dc) = biased_grad(&x, &b, &c);
    let y = DMatrix::from_fn(2, 3, |i, j| x[(i, j)] + b[j] + c[i]);
    assert!((dx - 2.0 * &y).norm() < 1e-12);
    assert!((db - 2.0 * y.row_sum()).norm() < 1e-12 && (dc - 2.0 * y.column_sum()).norm() < 1e-12);
}

#[differentiate]
fn linear_entry(v: &DVector<f64>, k: usize) -> f64 {
    v[k].powi(2) + v.sum()
}

#[test]
fn a_linear_index_out_of_bounds_panics_as_nalgebra_does() {
    let v = DVector::from_column_slice(&[1.0, -2.0, 0.5]);
    let (msg, _) = same_panic(|| linear_entry(&v, 3), || linear_entry_grad(&v, 3));
    assert!(msg.contains("out of bounds"), "{msg}");
    // ∂(v₂² + Σv)/∂v = 2v₂e₂ + 1.
    assert_eq!(linear_entry_grad(&v, 2).1.as_slice(), &[1.0, 1.0, 2.0]);
    let empty = DVector::<f64>::zeros(0);
    same_panic(|| linear_entry(&empty, 0), || linear_entry_grad(&empty, 0));
}

#[test]
fn an_index_out_of_bounds_panics_as_nalgebra_does() {
    let a = mat(2, 3, 4);
    let (msg, at) = same_panic(|| entry(&a, 2, 0), || entry_grad(&a, 2, 0));
    assert!(msg.contains("out of bounds") && at.starts_with("tests/robustness.rs"), "{msg} at {at}");
    same_panic(|| entry(&a, 0, 3), || entry_grad(&a, 0, 3));
    // The last entry is in bounds: ∂(2 a₁₂)/∂a = 2 e₁₂.
    let (v, da) = entry_grad(&a, 1, 2);
    assert_eq!(v, 2.0 * a[(1, 2)]);
    let mut want = DMatrix::zeros(2, 3);
    want[(1, 2)] = 2.0;
    assert_eq!(da, want);
}

#[differentiate]
fn squares(x: &DMatrix<f64>) -> f64 {
    x.norm_squared()
}

#[differentiate]
fn exp_sum(x: &DMatrix<f64>) -> f64 {
    x.map(|v| v.exp()).sum()
}

#[differentiate]
fn ln_sum(x: &DMatrix<f64>) -> f64 {
    x.map(|v| v.ln()).sum()
}

/// f(X) = ‖X‖²: ∂f/∂X = 2X. A NaN entry makes the value NaN and only its own gradient entry NaN.
#[test]
fn nan_propagates_to_its_own_entry() {
    let x = DMatrix::from_row_slice(1, 3, &[1.0, f64::NAN, -2.0]);
    let (v, dx) = squares_grad(&x);
    assert!(v.is_nan());
    assert_eq!((dx[0], dx[2]), (2.0, -4.0));
    assert!(dx[1].is_nan());
}

/// f(A, B) = sum(A B): ∂f/∂A = 1 Bᵀ (entry (i, j) is the sum of row j of B), ∂f/∂B = Aᵀ 1.
/// A NaN in row 1 of B poisons the value and column 1 of ∂f/∂A only; ∂f/∂B stays finite.
#[test]
fn nan_in_a_product_follows_the_maths() {
    let a = mat(2, 3, 7);
    let mut b = mat(3, 2, 8);
    b[(1, 0)] = f64::NAN;
    let (v, da, db) = product_grad(&a, &b);
    assert!(v.is_nan());
    for i in 0..2 {
        assert!(da[(i, 1)].is_nan());
        assert_eq!(da[(i, 0)], b[(0, 0)] + b[(0, 1)]);
        assert_eq!(da[(i, 2)], b[(2, 0)] + b[(2, 1)]);
    }
    assert!(db.iter().all(|x| x.is_finite()));
}

/// f(X) = Σ exp(Xᵢⱼ): ∂f/∂Xᵢⱼ = exp(Xᵢⱼ); at +∞ both are +∞, at −∞ both are 0.
#[test]
fn infinities_follow_the_maths() {
    let x = DMatrix::from_row_slice(3, 1, &[f64::INFINITY, f64::NEG_INFINITY, 0.0]);
    let (v, dx) = exp_sum_grad(&x);
    assert_eq!(v, f64::INFINITY);
    assert_eq!(dx.as_slice(), &[f64::INFINITY, 0.0, 1.0]);
}

/// f(X) = Σ ln Xᵢⱼ: ∂f/∂Xᵢⱼ = 1/Xᵢⱼ; at 0 the value is −∞ and the gradient +∞; below 0 NaN.
#[test]
fn a_logarithm_at_zero_and_below() {
    let x = DMatrix::from_row_slice(1, 2, &[0.0, 2.0]);
    let (v, dx) = ln_sum_grad(&x);
    assert_eq!(v, f64::NEG_INFINITY);
    assert_eq!(dx.as_slice(), &[f64::INFINITY, 0.5]);
    let (v, dx) = ln_sum_grad(&DMatrix::from_element(1, 1, -1.0));
    assert!(v.is_nan() && dx[0] == -1.0, "d ln(x)/dx = 1/x even where ln is NaN: {dx}");
}

/// Empty matrices: sums over nothing are 0, gradients are empty of the same shape.
#[test]
fn empty_matrices() {
    let x = DMatrix::<f64>::zeros(0, 3);
    let (v, dx) = squares_grad(&x);
    assert_eq!((v, dx.shape()), (0.0, (0, 3)));
    let (a, b) = (DMatrix::<f64>::zeros(2, 0), DMatrix::<f64>::zeros(0, 3));
    let (v, da, db) = product_grad(&a, &b);
    assert_eq!((v, da.shape(), db.shape()), (0.0, (2, 0), (0, 3)));
    let (v, dx) = exp_sum_grad(&DMatrix::zeros(3, 0));
    assert_eq!((v, dx.shape()), (0.0, (3, 0)));
}

// Regressions found by fuzzing the expansion.

/// A statement that calls a function on constants was emitted without its `;`.
#[differentiate]
fn constant_call_statement(x: &DMatrix<f64>, n: usize) -> f64 {
    core::hint::black_box(n);
    x.sum()
}

#[test]
fn a_constant_call_statement_is_kept() {
    let x = mat(2, 2, 5);
    let (v, dx) = constant_call_statement_grad(&x, 4);
    assert_eq!(v, x.sum());
    assert_fd(|x| constant_call_statement(x, 4), &x, &dx, 1e-8);
}

/// An empty statement `;` was emitted as `let _ = ;`.
#[differentiate]
#[rustfmt::skip]
#[allow(redundant_semicolons)]
fn empty_statement(x: f64) -> f64 {
    let y = x * x;;
    y
}

#[test]
fn an_empty_statement_is_ignored() {
    assert_eq!(empty_statement_grad(3.0), (9.0, 6.0));
}

// Regressions found by the property test of the whole pipeline (tests/pipeline).

/// A `map` of a differentiated value whose result nothing reads: its closure was emitted with a
/// reverse sweep seeded by nothing (`init()`), which did not compile.
#[differentiate]
fn unread_map(a: &DMatrix<f64>, s: f64) -> f64 {
    let _unread = a.map(|v| (v * s).tanh());
    a.norm_squared()
}

/// f(A, s) = ‖A‖²: ∂f/∂A = 2A, ∂f/∂s = 0.
#[test]
fn an_unread_map_costs_nothing() {
    let a = mat(2, 3, 6);
    let (v, da, ds) = unread_map_grad(&a, 0.5);
    assert_eq!((v, da, ds), (a.norm_squared(), 2.0 * &a, 0.0));
}
