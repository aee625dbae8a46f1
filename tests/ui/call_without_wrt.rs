use matgrad::differentiate;
use nalgebra::DMatrix;

/// Differentiated only with respect to `w`.
#[differentiate(wrt(w))]
fn inner(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (x * w).norm_squared()
}

/// Calls `inner` with a differentiated `x`: `inner` has no gradient for it.
#[differentiate]
fn outer(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    inner(w, x)
}

fn main() {}
