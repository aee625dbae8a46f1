use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    let total: f64 = x.iter().sum();
    let squares = x.iter().map(|v| v * v).sum::<f64>();
    total + squares
}

fn main() {}
