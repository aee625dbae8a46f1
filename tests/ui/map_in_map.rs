use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    x.map(|v| x.map(|w| w * v).sum()).sum()
}

fn main() {}
