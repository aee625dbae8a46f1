use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate(forward)]
fn f(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    x.zip_map(y, |a, b| a * b.sin()).sum()
}

fn main() {}
