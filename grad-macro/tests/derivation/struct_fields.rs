// A model held in a struct: the derivation names its fields as the user writes them.
#[differentiate(wrt(p))]
fn loss(p: &Mlp, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let h = (x * &p.w1).map(|v| v.tanh());
    (h * &p.w2 - y).norm_squared()
}
