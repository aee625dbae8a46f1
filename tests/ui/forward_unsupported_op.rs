use matgrad::differentiate;
use nalgebra::DMatrix;

// Reverse mode has a rule for the singular vectors; forward mode does not yet. `_grad` still
// works.
#[differentiate(forward)]
fn f(x: &DMatrix<f64>) -> f64 {
    let u = x.clone().svd(true, true).u.unwrap();
    u.column(0).sum() + x.determinant()
}

fn main() {
    let x = DMatrix::<f64>::identity(2, 2);
    let _ = f_grad(&x);
    let _ = f_jvp(&x, &x);
    let _ = f_hvp(&x, &x);
}
