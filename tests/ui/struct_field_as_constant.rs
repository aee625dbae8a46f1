use matgrad::{differentiate, Differentiable};
use nalgebra::DMatrix;

#[derive(Clone, Differentiable)]
pub struct Stack {
    pub layers: Vec<DMatrix<f64>>,
}

#[derive(Clone, Differentiable)]
pub struct Model {
    pub w: DMatrix<f64>,
    pub size: f64,
}

#[differentiate(wrt(p))]
fn loops_over_a_field(p: &Stack, x: &DMatrix<f64>) -> f64 {
    let mut acc = 0.0;
    for w in p.layers.iter().rev() {
        acc += (x * w).norm_squared();
    }
    acc
}

#[differentiate(wrt(m))]
fn size_from_a_differentiated_field(m: &Model) -> f64 {
    let ones = DMatrix::from_element(2, 2, m.size);
    (&m.w + ones).norm_squared()
}

fn main() {}
