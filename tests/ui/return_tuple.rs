use matgrad::differentiate;

// A tuple of values is supported; a tuple holding an integer is not.
#[differentiate]
fn f(x: f64) -> (f64, usize) {
    (x, 3)
}

fn main() {}
