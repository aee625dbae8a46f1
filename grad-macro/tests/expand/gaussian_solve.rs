// The benchmarks' Gaussian through a solve: one inverse serves the solve's adjoint and
// `ln_determinant`'s.
#[differentiate(wrt(s))]
fn gaussian_solve(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().expect("S is SPD");
    chol.ln_determinant() + chol.solve(c).trace()
}
