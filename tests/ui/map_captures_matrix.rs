use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let y = x.map(|v| v * w[(0, 0)]);
    let z = x.map(|v| v + w.sum());
    y.sum() + z.sum()
}

fn main() {}
