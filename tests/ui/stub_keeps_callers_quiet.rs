// After an error, `f` and `f_grad` still exist with their signatures: the caller below compiles,
// and the only error is the real one.
use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate(wrt(w))]
fn f(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (w * x).iter().map(|v| v.abs()).sum::<f64>()
}

fn main() {
    let w = DMatrix::<f64>::zeros(2, 2);
    let (value, dw): (f64, DMatrix<f64>) = f_grad(&w, &w);
    let _ = (value, dw, f(&w, &w));
}
