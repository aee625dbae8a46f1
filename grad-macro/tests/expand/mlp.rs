// A two-layer network with biases added by broadcasting (`&ones * &b1`).
#[differentiate(wrt(w1, b1, w2))]
fn mlp(w1: &DMatrix<f64>, b1: &RowDVector<f64>, w2: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let ones = DVector::from_element(x.nrows(), 1.0);
    let h = (x * w1 + &ones * b1).map(|v| v.tanh());
    (h * w2 - y).norm_squared()
}
