// The benchmarks' perceptron, biases added with the broadcast helper.
#[differentiate(wrt(w1, b1, w2, b2))]
fn mlp(w1: &DMatrix<f64>, b1: &RowDVector<f64>, w2: &DMatrix<f64>, b2: &RowDVector<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let h = matgrad::add_row_vector(x * w1, b1).map(|v| v.tanh());
    let out = matgrad::add_row_vector(h * w2, b2);
    (out - y).norm_squared()
}
