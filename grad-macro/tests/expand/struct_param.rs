// A model held in a struct: field reads, a skipped field as a loop bound, nested structs.
#[differentiate(wrt(p))]
fn loss(p: &Mlp, x: &DMatrix<f64>) -> f64 {
    let mut acc = 0.0;
    for _ in 0..p.steps {
        acc += (x * &p.w1).norm_squared();
    }
    acc + p.enc.gain * p.b1.sum()
}
