use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>) -> DMatrix<f64> {
    x * 2.0
}

fn main() {}
