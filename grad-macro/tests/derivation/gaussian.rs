// A Gaussian negative log-likelihood through one Cholesky factorization read by two rules.
#[differentiate(wrt(a))]
fn nll(a: &DMatrix<f64>, c: &DMatrix<f64>, eps: &DMatrix<f64>) -> f64 {
    let s = a * a.transpose() + eps;
    let chol = s.cholesky().expect("S = AAᵀ + εI is positive definite");
    chol.ln_determinant() + chol.solve(c).trace()
}
