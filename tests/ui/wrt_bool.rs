use matgrad::differentiate;

#[differentiate(wrt(x, flag))]
fn f(x: f64, flag: bool) -> f64 {
    x * 2.0 + flag as u8 as f64
}

fn main() {}
