use matgrad::differentiate;
use nalgebra::DMatrix;

macro_rules! square {
    ($e:expr) => {
        $e * $e
    };
}

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    x.map(|v| square!(v) + 1.0).sum()
}

fn main() {}
