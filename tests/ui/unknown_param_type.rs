use matgrad::differentiate;
use nalgebra::DMatrix;

type Weights = DMatrix<f64>;

#[differentiate]
fn f(w: &Weights) -> f64 {
    w.norm_squared()
}

fn main() {}
