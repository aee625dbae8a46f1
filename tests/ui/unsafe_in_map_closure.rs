use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    x.map(|v| unsafe { core::ptr::read(&v) }).sum()
}

fn main() {}
