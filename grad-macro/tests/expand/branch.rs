// A branch on a computed value inside a loop: the arm that ran is kept in an enum.
#[differentiate(wrt(x))]
fn huber(x: &DVector<f64>, y: &DVector<f64>, delta: f64) -> f64 {
    let mut total = 0.0;
    for i in 0..x.len() {
        let r = x[i] - y[i];
        if r.abs() <= delta {
            total += 0.5 * r * r;
        } else {
            total += delta * (r.abs() - 0.5 * delta);
        }
    }
    total
}
