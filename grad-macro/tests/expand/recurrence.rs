// A recurrent network: a loop with a carried matrix and a tape of its iterations.
#[differentiate(wrt(w, u, h0))]
fn rnn(w: &DMatrix<f64>, u: &DMatrix<f64>, h0: &DVector<f64>, xs: &DMatrix<f64>, steps: usize) -> f64 {
    let mut h = h0.clone();
    for k in 0..steps {
        h = (w * &h + u * xs.column(k)).map(|v| v.tanh());
    }
    h.norm_squared()
}
