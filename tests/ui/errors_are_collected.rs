use matgrad::differentiate;
use nalgebra::DMatrix;

fn clip(v: f64) -> f64 {
    v
}

#[differentiate]
fn f(x: &DMatrix<f64>, s: f64) -> f64 {
    let a = x.iter().sum::<f64>();
    let b = clip(s);
    let c = x.camax();
    a + b + c
}

fn main() {
    // The stub `f_grad` exists: no "cannot find function" below.
    let x = DMatrix::zeros(1, 1);
    let (_value, _dx, _ds) = f_grad(&x, 1.0);
}
