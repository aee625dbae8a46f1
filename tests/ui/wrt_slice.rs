use matgrad::differentiate;

#[differentiate(wrt(x, weights))]
fn f(x: f64, weights: &[f64]) -> f64 {
    x * weights[0]
}

fn main() {}
