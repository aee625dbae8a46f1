// A return from inside a loop: flags stop the loop, and the tape holds the iterations that ran.
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
