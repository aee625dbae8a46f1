use matgrad::differentiate;
use nalgebra::DMatrix;

// `inner` has no `forward`: `outer`'s forward mode finds no `inner_tangent` (rustc's error, on
// the call, as reverse mode's for a function with no `_pullback`).
#[differentiate]
fn inner(x: &DMatrix<f64>) -> f64 {
    x.norm_squared()
}

#[differentiate(forward)]
fn outer(x: &DMatrix<f64>) -> f64 {
    inner(x) * 2.0
}

fn main() {
    let x = DMatrix::<f64>::identity(2, 2);
    let _ = outer_grad(&x);
    let _ = outer_jvp(&x, &x);
}
