use matgrad::differentiate;

// An exit inside an expression (here an operand of `*`): bind the branch first.
#[differentiate]
fn f(x: f64) -> f64 {
    let y = 2.0 * if x > 1.0 { return x } else { x };
    y
}

fn main() {}
