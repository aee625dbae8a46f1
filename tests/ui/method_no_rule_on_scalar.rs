use matgrad::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    x.atan2(2.0) + x.exp_m1()
}

fn main() {}
