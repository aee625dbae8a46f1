use matgrad::differentiate;

// `sin_cos` whose pair is not bound by a tuple pattern.
#[differentiate]
fn f(t: f64) -> f64 {
    let pair = t.sin_cos();
    pair.0 * pair.1
}

fn main() {
    let _ = f_grad(1.0);
}
