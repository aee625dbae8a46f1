use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate]
fn svd_whole(a: &DMatrix<f64>) -> f64 {
    let svd = a.clone().svd(true, true);
    svd.singular_values.sum()
}

#[differentiate]
fn left_vectors(a: &DMatrix<f64>) -> f64 {
    let u = a.clone().svd(true, false).u;
    u.unwrap().sum()
}

fn main() {}
