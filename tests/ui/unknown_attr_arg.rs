use matgrad::differentiate;

#[differentiate(with(x))]
fn f(x: f64) -> f64 {
    x * x
}

fn main() {}
