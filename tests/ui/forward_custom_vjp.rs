use matgrad::custom_vjp;

#[custom_vjp(clip_rule, forward)]
fn clip(v: f64) -> f64 {
    v.min(1.0)
}

fn clip_rule(v: f64, _y: &f64, g: f64) -> f64 {
    if v < 1.0 { g } else { 0.0 }
}

fn main() {
    let _ = clip_grad(0.5);
}
