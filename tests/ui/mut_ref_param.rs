use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &mut DMatrix<f64>) -> f64 {
    x.sum()
}

fn main() {}
