// The benchmarks' fixed-size pose residual: no allocation, the sum's terms borrow its adjoint.
#[differentiate(wrt(r, t))]
fn pose(r: &SMatrix<f64, 3, 3>, t: &SVector<f64, 3>, p: &SMatrix<f64, 3, 8>, q: &SMatrix<f64, 3, 8>) -> f64 {
    let ones = SMatrix::<f64, 1, 8>::from_element(1.0);
    (r * p + t * ones - q).norm_squared()
}
