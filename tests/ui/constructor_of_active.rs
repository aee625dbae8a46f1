use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(s: f64) -> f64 {
    DMatrix::from_element(2, 2, s).sum()
}

fn main() {}
