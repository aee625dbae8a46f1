use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(s: &DMatrix<f64>) -> f64 {
    if let Some(inv) = s.clone().try_inverse() {
        inv.sum()
    } else {
        0.0
    }
}

fn main() {}
