// A matrix built from scalars and updated in place: each entry written is a place of its
// adjoint (`∂f/∂r[row-major k]`), each entry overwritten a zero in the adjoint before it.
#[differentiate(wrt(theta, x))]
fn placed(theta: f64, x: &DMatrix<f64>, p: &Vector2<f64>) -> f64 {
    let (s, c) = theta.sin_cos();
    let r = Matrix2::new(c, -s, s, c);
    let mut y = x.clone();
    y[(0, 1)] = 2.0 * theta;
    y.set_column(0, &(r * p));
    y.norm_squared()
}
