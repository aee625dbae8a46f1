use matgrad::differentiate;
use nalgebra::DMatrix;

// A collection parameter in forward mode is a `Vec` or an array: a slice's tangent would have
// no owned type of its own.
#[differentiate(wrt(ws), forward)]
fn f(ws: &[DMatrix<f64>]) -> f64 {
    ws[0].norm_squared()
}

fn main() {}
