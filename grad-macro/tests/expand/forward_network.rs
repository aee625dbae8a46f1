// Forward mode of the network: `_jvp` (the tangent program printed as forward code), `_hvp`
// (its reverse pass), `_tangent` and `_tangent_pullback`.
#[differentiate(wrt(w), forward)]
fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}
