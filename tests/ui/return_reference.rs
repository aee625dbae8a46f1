use matgrad::differentiate;

#[differentiate]
fn f(x: &f64) -> &f64 {
    x
}

fn main() {}
