use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn padded(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let m = nalgebra::stack![a, 0; b, 0];
    m.norm_squared()
}

fn main() {}
