use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(s: f64) -> f64 {
    DMatrix::from_iterator(2, 2, [s, 1.0, 2.0, s]).sum()
}

fn main() {}
