use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn f(x: &DMatrix<f64>, y: &DMatrix<f64>, s: f64) -> f64 {
    let a = x.zip_map(y, |p, [q]| p * s);
    let b = x.zip_map(y, f64::max);
    let c = x.map(|v| DMatrix::from_fn(2, 2, |i, _| v * i as f64).sum());
    a.sum() + b.sum() + c.sum()
}

fn main() {}
