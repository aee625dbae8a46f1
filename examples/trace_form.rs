//! Seed 000's question answered: why does L = ‖XᵀW‖²_F have ∂L/∂W = 2XY with Y = XᵀW?
//! The example prints the derivation `#[differentiate]` wrote (`l_derivation()`, the same text
//! as in the docs of `l_grad`), then checks 2XY numerically, for a matrix W and for a vector w.
//! Run with `cargo run --example trace_form`.

use matgrad::differentiate;
use nalgebra::{DMatrix, DVector};

/// The matrix form: W is 3×4.
#[differentiate(wrt(w))]
fn l(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let y = x.transpose() * w;
    y.norm_squared()
}

/// The vector form: w is a vector, L = ‖Xᵀw‖² = yᵀy.
#[differentiate(wrt(w))]
fn l_vector(x: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    let y = x.tr_mul(w);
    y.dot(&y)
}

fn main() {
    let x = DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 0.5, -1.0, 3.0, 0.0]);

    println!("The matrix form, as derived by #[differentiate]:\n\n{}", l_derivation());
    let w = DMatrix::from_row_slice(3, 4, &[0.2, -0.1, 0.0, 1.0, 0.3, 0.4, -0.5, 0.0, 1.0, 0.0, 0.1, -0.2]);
    let (value, dw) = l_grad(&x, &w);
    let y = x.transpose() * &w;
    let closed = 2.0 * &x * &y;
    println!("L = {value:.6}");
    println!("∂L/∂W (generated) = {dw:.4}");
    println!("2XY (seed 000)    = {closed:.4}");
    let check = matgrad::check_gradient(|w: &DMatrix<f64>| l(&x, w), &w, &dw, 1e-6, 1e-8);
    println!("central differences: max relative error {:.2e}\n", check.max_rel_error);
    assert!((&dw - &closed).norm() < 1e-12 && check.ok);

    println!("The vector form:\n\n{}", l_vector_derivation());
    let w = DVector::from_column_slice(&[0.5, -1.0, 2.0]);
    let (value, dw) = l_vector_grad(&x, &w);
    let y = x.transpose() * &w;
    let closed = 2.0 * &x * &y;
    println!("L = {value:.6}");
    println!("∂L/∂w (generated) = {dw:.4}");
    println!("2Xy (seed 000)    = {closed:.4}");
    let check = matgrad::check_gradient(|w: &DVector<f64>| l_vector(&x, w), &w, &dw, 1e-6, 1e-8);
    println!("central differences: max relative error {:.2e}", check.max_rel_error);
    assert!((&dw - &closed).norm() < 1e-12 && check.ok);
}
