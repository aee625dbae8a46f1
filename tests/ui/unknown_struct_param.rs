use matgrad::differentiate;
use nalgebra::DMatrix;

#[derive(Clone)]
pub struct Mlp {
    pub w1: DMatrix<f64>,
}

#[differentiate]
fn loss(p: &Mlp, x: &DMatrix<f64>) -> f64 {
    (x * &p.w1).norm_squared()
}

fn main() {}
