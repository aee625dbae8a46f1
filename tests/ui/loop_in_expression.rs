use matgrad::differentiate;

// A `loop` used as an operand: bind its value with `let` first.
#[differentiate]
fn f(x: f64) -> f64 {
    let mut y = x;
    let z = 1.0
        + loop {
            y = y * 2.0;
            if y > 10.0 {
                break y;
            }
        };
    z
}

fn main() {}
