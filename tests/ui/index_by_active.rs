use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>, s: f64) -> f64 {
    x[s as usize] * 2.0
}

fn main() {}
