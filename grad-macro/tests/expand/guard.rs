// A guard clause: the early return becomes the `if/else` a person would write.
#[differentiate(wrt(w))]
fn capped(x: &DMatrix<f64>, w: &DMatrix<f64>, cap: f64) -> f64 {
    let r = (x * w).norm_squared();
    if r > cap {
        return (cap * r).sqrt();
    }
    r
}
