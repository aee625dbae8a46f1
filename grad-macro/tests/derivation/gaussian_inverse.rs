// The Gaussian as users write it with an explicit inverse: the trace of a product.
#[differentiate(wrt(a))]
fn nll(a: &DMatrix<f64>, c: &DMatrix<f64>, eps: &DMatrix<f64>) -> f64 {
    let s = a * a.transpose() + eps;
    let chol = s.cholesky().expect("S = AAᵀ + εI is positive definite");
    let s_inv = chol.inverse();
    chol.ln_determinant() + (s_inv * c).trace()
}
