// The README's network: one layer, a sigmoid, a squared error.
#[differentiate(wrt(w))]
fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}
