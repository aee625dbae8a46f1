// A ReLU layer: `v.max(0.0)` has a lane form, so its map is evaluated over lanes.
#[differentiate(wrt(w))]
fn relu_layer(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let h = (x * w).map(|v| v.max(0.0));
    (h - y).norm_squared()
}
