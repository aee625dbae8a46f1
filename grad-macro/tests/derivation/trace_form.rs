// Seed 000: L = ‖XᵀW‖²_F, whose gradient is 2XY with Y = XᵀW.
#[differentiate(wrt(w))]
fn trace_form(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let y = x.transpose() * w;
    y.norm_squared()
}
