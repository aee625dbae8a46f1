use matgrad::Differentiable;
use nalgebra::DMatrix;

#[derive(Clone, Differentiable)]
#[differentiable(skip)]
struct Model {
    w: DMatrix<f64>,
    #[differentiable(constant)]
    rate: f64,
    #[differentiable(skip, skip)]
    steps: usize,
}

fn main() {}
