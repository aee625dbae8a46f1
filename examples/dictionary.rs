//! Seed 001's dictionary learning, f(D, R) = ‖X − DR‖²_F, with both gradients from one call,
//! minimised by gradient descent on D and R together. Run with
//! `cargo run --release --example dictionary`.
//!
//! The closed forms are ∂f/∂D = −2(X − DR)Rᵀ and ∂f/∂R = −2Dᵀ(X − DR); the first step is
//! checked against them.

use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate(wrt(d, r))]
fn objective(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}

fn main() {
    println!("The derivation #[differentiate] wrote for f:\n\n{}", objective_derivation());
    let (m, k, n) = (12, 3, 40);
    // X has rank k, so f can reach 0.
    let basis = DMatrix::from_fn(m, k, |i, j| ((i * 3 + j * 7) % 11) as f64 / 11.0 - 0.5);
    let codes = DMatrix::from_fn(k, n, |i, j| ((i * 5 + j * 2) % 13) as f64 / 13.0 - 0.5);
    let x = &basis * &codes;

    let mut d = DMatrix::from_fn(m, k, |i, j| 0.1 * (((i + 2 * j) % 5) as f64 - 2.0));
    let mut r = DMatrix::from_fn(k, n, |i, j| 0.1 * (((3 * i + j) % 7) as f64 - 3.0));

    let (_, dd, dr) = objective_grad(&x, &d, &r);
    let resid = &x - &d * &r;
    let closed_dd = -2.0 * &resid * r.transpose();
    let closed_dr = -2.0 * d.transpose() * &resid;
    println!(
        "|dD − closed form| = {:.2e}, |dR − closed form| = {:.2e}",
        (&dd - closed_dd).norm(),
        (&dr - closed_dr).norm()
    );

    let rate = 0.01;
    println!("step   ‖X − DR‖²");
    for step in 0..=3000 {
        let (value, dd, dr) = objective_grad(&x, &d, &r);
        if step % 500 == 0 {
            println!("{step:4}   {value:.3e}");
        }
        d -= rate * dd;
        r -= rate * dr;
    }
}
