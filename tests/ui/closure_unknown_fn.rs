use matgrad::differentiate;
use nalgebra::DMatrix;

fn gelu(v: f64) -> f64 {
    v
}

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    x.map(|v| gelu(v) * 2.0).sum()
}

fn main() {}
