use matgrad::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    x.exp2() + x.to_degrees()
}

fn main() {}
