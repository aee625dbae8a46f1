use matgrad::differentiate;

#[differentiate(wrt(x), order = 2)]
fn f(x: f64, y: f64) -> f64 {
    x * y
}

fn main() {}
