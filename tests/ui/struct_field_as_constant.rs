use matgrad::{differentiate, Differentiable};
use nalgebra::DMatrix;

#[derive(Clone, Differentiable)]
pub struct Stack {
    pub layers: Vec<DMatrix<f64>>,
}

#[differentiate(wrt(p))]
fn loops_over_a_field(p: &Stack, x: &DMatrix<f64>) -> f64 {
    let mut acc = 0.0;
    for w in p.layers.iter().rev() {
        acc += (x * w).norm_squared();
    }
    acc
}

fn main() {}
