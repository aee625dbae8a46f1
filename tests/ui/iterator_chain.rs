use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    x.iter().fold(0.0, |acc, v| acc + v * v)
}

fn main() {}
