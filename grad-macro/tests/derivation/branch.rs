// A branch on a computed value: the Huber loss of a residual.
#[differentiate(wrt(r))]
fn huber(r: f64, delta: f64) -> f64 {
    if r.abs() <= delta {
        0.5 * r * r
    } else {
        delta * (r.abs() - 0.5 * delta)
    }
}
