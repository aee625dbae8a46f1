use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate(wrt(p), forward)]
fn f(p: &(DMatrix<f64>, f64)) -> f64 {
    p.0.norm_squared() * p.1
}

fn main() {}
