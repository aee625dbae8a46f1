use matgrad::{custom_jvp, differentiate};

// The rule has `_jvp`'s signature: the parameters, one tangent per parameter, `(value, tangent)`.
#[custom_jvp(clip_rule)]
fn clip(v: f64) -> f64 {
    v.min(1.0)
}

#[differentiate]
fn clip_rule(v: f64) -> f64 {
    v.min(1.0)
}

fn main() {}
