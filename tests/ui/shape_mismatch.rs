use matgrad::differentiate;
use nalgebra::SMatrix;

#[differentiate]
fn f(a: &SMatrix<f64, 2, 3>, b: &SMatrix<f64, 2, 3>) -> f64 {
    (a * b).norm_squared()
}

fn main() {}
