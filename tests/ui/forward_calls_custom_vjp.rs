use matgrad::{custom_vjp, differentiate};

#[custom_vjp(clip_rule)]
fn clip(v: f64) -> f64 {
    v.min(1.0)
}

fn clip_rule(v: f64, _y: &f64, g: f64) -> f64 {
    if v < 1.0 { g } else { 0.0 }
}

// A `#[custom_vjp]` function has no forward rule: `#[custom_jvp]` declares one.
#[differentiate(forward)]
fn f(x: f64) -> f64 {
    clip(x) * x
}

fn main() {
    let _ = f_grad(0.5);
}
