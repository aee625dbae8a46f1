// Nested loops and a branch inside them.
#[differentiate]
fn nested(x: &DMatrix<f64>, s: f64) -> f64 {
    let mut acc = 0.0;
    for i in 0..x.nrows() {
        let weight = (i + 1) as f64;
        for j in 0..x.ncols() {
            let v = x[(i, j)];
            acc += weight * v * v * s;
        }
    }
    acc
}
