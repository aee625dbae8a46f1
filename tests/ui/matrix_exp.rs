use matgrad::differentiate;
use nalgebra::SMatrix;

#[differentiate]
fn f(x: &SMatrix<f64, 2, 3>) -> f64 {
    x.exp().sum()
}

fn main() {}
