use matgrad::{custom_jvp, differentiate};
use nalgebra::DMatrix;

// `#[custom_jvp]` declares the rule of a function with one value; callers see only this error.
#[custom_jvp(split_rule)]
fn split(x: &DMatrix<f64>) -> (f64, f64) {
    (x.sum(), x.norm())
}

#[differentiate]
fn split_rule(x: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
    x.dot(t)
}

fn main() {
    let x = DMatrix::<f64>::identity(2, 2);
    let _ = split_jvp(&x, &x);
    let _ = split_grad(&x);
}
