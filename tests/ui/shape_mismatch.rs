// A wrong static shape is reported once, by rustc, on the user's expression: the generated
// `_grad`, `_jvp` and `_hvp` add no errors of their own (in a loop, a branch, a method call).
use matgrad::differentiate;
use nalgebra::SMatrix;

#[differentiate]
fn f(a: &SMatrix<f64, 2, 3>, b: &SMatrix<f64, 2, 3>) -> f64 {
    (a * b).norm_squared()
}

#[differentiate(forward)]
fn in_loop(a: &SMatrix<f64, 2, 3>, b: &SMatrix<f64, 3, 2>) -> f64 {
    let mut s = 0.0;
    for _ in 0..3 {
        if s < 1.0 {
            s += a.tr_mul(b).norm_squared();
        }
    }
    s
}

#[differentiate]
fn inner(a: &SMatrix<f64, 2, 3>, b: &SMatrix<f64, 3, 2>) -> f64 {
    a.dot(b)
}

// A product with a transpose, differentiated as one op (see `passes::simplify`), on either side.
#[differentiate(forward)]
fn transposed(a: &SMatrix<f64, 2, 3>, b: &SMatrix<f64, 3, 2>) -> f64 {
    (a.transpose() * b).norm_squared() + (b * a.transpose()).norm_squared()
}

fn main() {}
