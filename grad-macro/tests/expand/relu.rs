// A ReLU layer: `v.max(0.0)` alone keeps the scalar `map_d`, which LLVM vectorises (compares
// and selects); its lane form is used beside a kernel such as `exp` (softplus).
#[differentiate(wrt(w))]
fn relu_layer(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let h = (x * w).map(|v| v.max(0.0));
    (h - y).norm_squared()
}
