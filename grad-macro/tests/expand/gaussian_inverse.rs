// The benchmarks' Gaussian as users write it, through the inverse: the trace of the product
// contributes s̄ Cᵀ and s̄ S⁻ᵀ without forming s̄ I, and `ln_determinant` reads the same inverse.
#[differentiate(wrt(s))]
fn gaussian(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().expect("S is SPD");
    let s_inv = chol.inverse();
    chol.ln_determinant() + (s_inv * c).trace()
}
