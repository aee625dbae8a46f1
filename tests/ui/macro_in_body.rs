use matgrad::differentiate;

macro_rules! square {
    ($e:expr) => {
        $e * $e
    };
}

#[differentiate]
fn f(x: f64) -> f64 {
    square!(x)
}

fn main() {}
