// Seed 000, the vector form: L = ‖Xᵀw‖² for a vector w, whose gradient is 2Xy with y = Xᵀw.
#[differentiate(wrt(w))]
fn trace_form_vector(w: &DVector<f64>, x: &DMatrix<f64>) -> f64 {
    let y = x.tr_mul(w);
    y.dot(&y)
}
