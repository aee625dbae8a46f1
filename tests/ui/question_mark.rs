use matgrad::differentiate;

fn checked(v: f64) -> Option<f64> {
    Some(v)
}

#[differentiate]
fn f(x: f64) -> Option<f64> {
    let y = checked(x)?;
    Some(y)
}

fn main() {}
