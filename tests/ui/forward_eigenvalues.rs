use matgrad::differentiate;
use nalgebra::DMatrix;

// Reverse mode has a rule for the symmetric eigenvalues; forward mode does not yet.
#[differentiate(forward)]
fn f(s: &DMatrix<f64>) -> f64 {
    s.symmetric_eigenvalues().sum()
}

fn main() {}
