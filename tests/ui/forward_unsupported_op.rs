use matgrad::differentiate;
use nalgebra::DMatrix;

// Reverse mode has a rule for `determinant`; forward mode does not yet. `_grad` still works.
#[differentiate(forward)]
fn f(x: &DMatrix<f64>) -> f64 {
    let y = x * x;
    y.determinant() + y.norm_squared()
}

fn main() {
    let x = DMatrix::<f64>::identity(2, 2);
    let _ = f_grad(&x);
    let _ = f_jvp(&x, &x);
    let _ = f_hvp(&x, &x);
}
