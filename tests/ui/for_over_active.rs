use matgrad::differentiate;
use nalgebra::DVector;

#[differentiate]
fn f(x: &DVector<f64>) -> f64 {
    let mut acc = 0.0;
    for v in x.iter() {
        acc += v * v;
    }
    acc
}

fn main() {}
