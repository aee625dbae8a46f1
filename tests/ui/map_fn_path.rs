use matgrad::differentiate;
use nalgebra::DMatrix;

/// Not differentiated: it has no pullback.
fn sq(v: f64) -> f64 {
    v * v
}

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    x.map(sq).sum()
}

fn main() {}
