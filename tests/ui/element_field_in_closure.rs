use matgrad::{differentiate, Differentiable};
use nalgebra::DMatrix;

#[derive(Clone, Differentiable)]
pub struct Layer {
    pub w: DMatrix<f64>,
    pub s: f64,
}

#[derive(Clone, Differentiable)]
pub struct Net {
    pub layers: Vec<Layer>,
}

// A field of a collection's element read inside a `map` closure.
#[differentiate(wrt(p))]
fn f(p: &Net) -> f64 {
    let mut total = 0.0;
    for layer in &p.layers {
        total += layer.w.map(|v| v * layer.s).sum();
    }
    total
}

fn main() {
    let p = Net { layers: Vec::new() };
    let _ = f_grad(&p);
}
