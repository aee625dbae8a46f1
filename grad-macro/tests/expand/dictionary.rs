// Dictionary learning as the benchmarks write it: the residual's adjoint reaches the product
// negated.
#[differentiate(wrt(d, r))]
fn dictionary(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}
