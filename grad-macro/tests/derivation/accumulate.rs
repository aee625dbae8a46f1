// A loop accumulating a scalar, a branch inside it, a scalar captured by a `map` closure.
#[differentiate(wrt(x, s))]
fn accumulate(x: &DMatrix<f64>, s: f64) -> f64 {
    let mut acc = 0.0;
    for j in 0..x.ncols() {
        let c = x.column(j);
        if j % 2 == 0 {
            acc += c.norm_squared();
        } else {
            acc += c.map(|v| (s * v).sin()).sum();
        }
    }
    acc
}
