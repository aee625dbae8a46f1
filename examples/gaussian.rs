//! Fitting a Gaussian's covariance by gradient descent on its negative log-likelihood.
//!
//! For zero-mean samples with empirical covariance C, the negative log-likelihood of a
//! covariance S is, up to constants and a factor n/2, `ln det S + tr(S⁻¹ C)`, minimised at
//! S = C. S is parametrised as `A Aᵀ + εI`, which keeps it symmetric positive definite at every
//! step; the gradient flows through the Cholesky factorization (factored once, used for both
//! the log-determinant and the solve), the product and the transpose. Run with
//! `cargo run --example gaussian`.

use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate(wrt(a))]
fn nll(a: &DMatrix<f64>, c: &DMatrix<f64>, eps: &DMatrix<f64>) -> f64 {
    let s = a * a.transpose() + eps;
    let chol = s.cholesky().expect("S = AAᵀ + εI is positive definite");
    chol.ln_determinant() + chol.solve(c).trace()
}

fn main() {
    let n = 3;
    // Samples of a correlated Gaussian (a fixed "random" set, no dependencies).
    let mix = DMatrix::from_row_slice(n, n, &[1.0, 0.0, 0.0, 0.5, 1.0, 0.0, -0.3, 0.4, 0.8]);
    let samples =
        DMatrix::from_fn(n, 200, |i, j| 1.5 * (((j * 7919 + i * 104_729) % 1000) as f64 / 1000.0 - 0.5) * 3.0);
    let x = &mix * samples;
    let c = &x * x.transpose() / x.ncols() as f64;
    let eps = DMatrix::identity(n, n) * 1e-6;

    let mut a = DMatrix::identity(n, n);
    let lr = 0.02;
    let mut value = f64::INFINITY;
    for step in 0..=1000 {
        let (v, da) = nll_grad(&a, &c, &eps);
        value = v;
        if step % 100 == 0 {
            println!("step {step:4}: ln det S + tr(S⁻¹C) = {v:.8}");
        }
        a -= lr * da;
    }
    let s = &a * a.transpose() + &eps;
    let optimum = c.clone().cholesky().unwrap().ln_determinant() + n as f64;
    let err = (&s - &c).norm() / c.norm();
    println!("fitted S = {s:.4}");
    println!("sample C = {c:.4}");
    println!("minimum ln det C + n = {optimum:.8}, reached {value:.8}");
    println!("‖S − C‖ / ‖C‖ = {err:.2e}");
    assert!(err < 1e-3, "the fit did not converge to C");
    println!("converged: S = C");
}
