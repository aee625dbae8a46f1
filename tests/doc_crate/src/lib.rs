//! The README's network, documented by `cargo doc` in `tests/rustdoc.rs`.
use matgrad::differentiate;
use nalgebra::DMatrix;

/// One layer, a sigmoid, a squared error.
#[differentiate(wrt(w))]
pub fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}
