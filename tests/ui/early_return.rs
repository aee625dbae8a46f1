use matgrad::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let y = x * 2.0;
    return y;
    let _unreachable = 1.0;
}

fn main() {}
