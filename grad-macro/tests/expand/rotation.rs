// A rotation built from an angle, then updated in place.
#[differentiate(wrt(theta))]
fn fit(theta: f64, p: &Vector2<f64>, q: &Vector2<f64>) -> f64 {
    let c = theta.cos();
    let s = theta.sin();
    let mut r = Matrix2::new(c, -s, s, c);
    r[(1, 1)] += 0.5 * s;
    (r * p - q).norm_squared()
}
