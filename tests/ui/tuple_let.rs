use matgrad::differentiate;

#[differentiate]
fn f(x: f64, z: f64) -> f64 {
    let (a, b) = (x, z);
    a * b
}

fn main() {}
