use matgrad::{custom_jvp, differentiate};

// The rule has `_jvp`'s signature: the parameters, one tangent per parameter, `(value, tangent)`.
// A rule that does not fit is an error on its name showing the expected type (and its pullback's).
#[custom_jvp(clip_rule)]
fn clip(v: f64) -> f64 {
    v.min(1.0)
}

#[differentiate]
fn clip_rule(v: f64) -> f64 {
    v.min(1.0)
}

fn main() {}
