use matgrad::differentiate;
use nalgebra::DVector;

// An iterator chain over a differentiated matrix (iterating its entries is supported).
#[differentiate]
fn f(x: &DVector<f64>) -> f64 {
    let mut acc = 0.0;
    for v in x.iter().map(|v| v * 2.0) {
        acc += v * v;
    }
    acc
}

fn main() {}
