use matgrad::differentiate;

// A tuple pattern with a `ref` binding (plain names are supported).
#[differentiate]
fn f(x: f64, z: f64) -> f64 {
    let (ref a, b) = (x, z);
    a * b
}

fn main() {}
