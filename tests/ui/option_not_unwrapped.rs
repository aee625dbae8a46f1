use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn inverse_sum(x: &DMatrix<f64>) -> f64 {
    let inv = x.clone().try_inverse();
    inv.map(|m| m.sum()).unwrap_or(0.0)
}

fn main() {}
