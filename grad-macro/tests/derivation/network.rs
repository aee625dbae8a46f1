// Seed 001: the one-layer network of the README, f(W) = ‖σ(XW) − Y‖².
#[differentiate(wrt(w))]
fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}
