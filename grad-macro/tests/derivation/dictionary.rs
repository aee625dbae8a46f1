// Dictionary learning, f(D, R) = ‖X − DR‖².
#[differentiate(wrt(d, r))]
fn dictionary(d: &DMatrix<f64>, r: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}
