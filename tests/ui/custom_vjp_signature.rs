use matgrad::custom_vjp;
use nalgebra::DVector;

/// The rule must take (x, &value, adjoint) and return the gradient of x.
#[custom_vjp(wrong_rule)]
fn black_box(x: &DVector<f64>) -> f64 {
    x.norm_squared()
}

fn wrong_rule(x: &DVector<f64>, g: f64) -> DVector<f64> {
    x * (2.0 * g)
}

fn main() {}
