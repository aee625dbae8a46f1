use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    let mut acc = 0.0;
    for i in 0..x.nrows() {
        acc += x[(i, 0)];
    }
    acc
}

fn main() {}
