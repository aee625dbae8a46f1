use matgrad::differentiate;

#[differentiate]
fn f(x: f64, flag: bool) -> f64 {
    let y = if flag { x * 2.0 };
    y
}

fn main() {}
