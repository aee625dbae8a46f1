use matgrad::Differentiable;
use nalgebra::DMatrix;

#[derive(Clone, Differentiable)]
struct Model {
    w: DMatrix<f64>,
    name: String,
}

fn main() {}
