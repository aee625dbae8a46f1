use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>) -> f64 {
    let mut y = x.clone();
    y.column_mut(0)[1] = 1.0;
    y.sum()
}

fn main() {}
