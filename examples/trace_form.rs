//! Seed 000's worked example: L = ‖XᵀW‖²_F has ∂L/∂W = 2XY with Y = XᵀW (derived there with
//! the trace form of the chain rule). Run with `cargo run --example trace_form`.

use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate(wrt(w))]
fn l(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let y = x.transpose() * w;
    y.norm_squared()
}

fn main() {
    let x = DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 0.5, -1.0, 3.0, 0.0]);
    let w = DMatrix::from_row_slice(3, 4, &[0.2, -0.1, 0.0, 1.0, 0.3, 0.4, -0.5, 0.0, 1.0, 0.0, 0.1, -0.2]);
    let (value, dw) = l_grad(&x, &w);
    let y = x.transpose() * &w;
    let closed = 2.0 * &x * &y;
    println!("L = {value:.6}");
    println!("∂L/∂W (generated) = {dw:.4}");
    println!("2XY (seed 000)    = {closed:.4}");
    let check = matgrad::check_gradient(|w: &DMatrix<f64>| l(&x, w), &w, &dw, 1e-6, 1e-8);
    println!("central differences: max relative error {:.2e}", check.max_rel_error);
    assert!((&dw - &closed).norm() < 1e-12 && check.ok);
}
