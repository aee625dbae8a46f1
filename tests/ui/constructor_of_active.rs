use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(s: f64) -> f64 {
    DMatrix::from_fn(2, 2, |i, j| s * (i + j) as f64).sum()
}

fn main() {}
