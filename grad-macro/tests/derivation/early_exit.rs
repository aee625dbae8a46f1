// A return from inside a loop.
#[differentiate(wrt(x))]
fn budgeted(x: &DVector<f64>, budget: f64) -> f64 {
    let mut cost = 0.0;
    for k in 0..x.len() {
        cost += x[k] * x[k];
        if cost > budget {
            return cost;
        }
    }
    cost
}
