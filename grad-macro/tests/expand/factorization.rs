// Matrix factorization as users write it: the rating matrix R ≈ U Vᵀ, the transpose fused into
// the product (V̄ = Ḡᵀ U, with no transposed copy of a contribution).
#[differentiate(wrt(u, v))]
fn loss(u: &DMatrix<f64>, v: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    (u * v.transpose() - r).norm_squared()
}
