// The benchmarks' pose residual as a loop over the points: a fixed tape of residuals.
#[differentiate(wrt(r, t))]
fn pose_loop(r: &SMatrix<f64, 3, 3>, t: &SVector<f64, 3>, p: &SMatrix<f64, 3, 8>, q: &SMatrix<f64, 3, 8>) -> f64 {
    let mut total = 0.0;
    for i in 0..8 {
        total += (r * p.column(i) + t - q.column(i)).norm_squared();
    }
    total
}
