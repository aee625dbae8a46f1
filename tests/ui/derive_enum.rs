use matgrad::Differentiable;
use nalgebra::DMatrix;

#[derive(Clone, Differentiable)]
enum Model {
    Linear(DMatrix<f64>),
    Constant(f64),
}

fn main() {}
