use matgrad::differentiate;
use nalgebra::DMatrix;

fn softclip(m: &DMatrix<f64>) -> DMatrix<f64> {
    m.clone()
}

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    softclip(x).sum()
}

fn main() {
    let x = DMatrix::zeros(2, 2);
    let _ = f_grad(&x);
}
