use matgrad::differentiate;

#[differentiate(wrt(x))]
fn f(x: f64, pairs: &[(f64, f64)]) -> f64 {
    let mut acc = 0.0;
    for (a, b) in pairs.iter().copied() {
        acc += a * x + b;
    }
    acc
}

fn main() {}
