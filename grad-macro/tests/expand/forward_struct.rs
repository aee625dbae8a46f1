// Forward mode over a struct parameter: each field path's tangent is the tangent's field, read
// through its constant accessor (zeros for a skipped field); the determinant's tangent is
// ⟨cof(A), Ȧ⟩.
#[differentiate(wrt(p), forward)]
fn fit(p: &Affine, x: &DMatrix<f64>) -> f64 {
    let y = x * &p.w + &p.b * p.scale;
    y.norm_squared() + p.w.determinant()
}
