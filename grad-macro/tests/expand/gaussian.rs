// `examples/gaussian.rs`: one Cholesky factorization read by two rules; the factored matrix
// is moved into `cholesky()` (nothing reads it afterwards), never cloned.
#[differentiate(wrt(a))]
fn nll(a: &DMatrix<f64>, c: &DMatrix<f64>, eps: &DMatrix<f64>) -> f64 {
    let s = a * a.transpose() + eps;
    let chol = s.cholesky().expect("S = AAᵀ + εI is positive definite");
    chol.ln_determinant() + chol.solve(c).trace()
}
