use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(s: f64) -> f64 {
    DMatrix::from_iterator(2, 2, (0..4).map(|k| s * k as f64)).sum()
}

fn main() {}
