//! The lane kernels (`matgrad::lanes`) against the scalar functions, entry by entry, over the
//! whole range of f64 and f32: ±0, ±∞, NaN, subnormals, the largest and smallest normals,
//! arguments that overflow and underflow, and a sweep of magnitudes in between. With the
//! `simd` feature a lane holds several entries and the kernels are within
//! [`matgrad::lanes::ULPS`] of the scalar function (which is within 1 ulp of the correctly rounded
//! value, so the kernels' own bound holds up to that); `sqrt`, `recip` and `powi` are the scalar
//! results bit for bit. Without `simd` a lane is the scalar: every kernel is the scalar function.

use matgrad::lanes::{Lane, Wide, ULPS};

/// Distance in units in the last place between two floats of the same sign class, via the
/// ordered integer representation; `None` when one is NaN and the other not.
fn ulps_f64(a: f64, b: f64) -> Option<u64> {
    if a.is_nan() || b.is_nan() {
        return (a.is_nan() && b.is_nan()).then_some(0);
    }
    let key = |x: f64| {
        let i = x.to_bits() as i64;
        if i < 0 {
            i64::MIN - i
        } else {
            i
        }
    };
    Some(key(a).abs_diff(key(b)))
}

fn ulps_f32(a: f32, b: f32) -> Option<u64> {
    if a.is_nan() || b.is_nan() {
        return (a.is_nan() && b.is_nan()).then_some(0);
    }
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        i64::from(if i < 0 { i32::MIN - i } else { i })
    };
    Some(key(a).abs_diff(key(b)))
}

/// Special values, and ±2ᵏ·m over every binary exponent for a few mantissas.
fn args_f64() -> Vec<f64> {
    let mut v = vec![0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MIN_POSITIVE, f64::MAX, f64::MIN];
    v.extend([5e-324, 1e-310, 2.2e-308, 709.78, 709.79, 710.0, -708.4, -744.0, -745.1, -746.0, 19.06, 19.07]);
    v.extend([1e-8, 5e-8, 1e-7, 0.5, 1.0, 1.5, 2.0, 0.1, 0.3, 0.693, 1e300]);
    for e in -1074..=1023 {
        for m in [1.0, 1.1, 1.37, 1.5, 1.999] {
            let x = m * 2f64.powi(e);
            if x.is_finite() && x != 0.0 {
                v.push(x);
            }
        }
    }
    for k in -4000..=4000 {
        v.push(f64::from(k) * 0.0123);
    }
    let n = v.len();
    for i in 0..n {
        v.push(-v[i]);
    }
    v
}

fn args_f32() -> Vec<f32> {
    let mut v = vec![0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MIN_POSITIVE, f32::MAX, f32::MIN];
    v.extend([1e-45, 1e-40, 1.1e-38, 88.72, 88.73, 89.0, -87.3, -103.0, -104.0, 9.01, 9.02, 2e-4, 1e-4]);
    for e in -149..=127 {
        for m in [1.0f32, 1.1, 1.37, 1.5, 1.999] {
            let x = m * 2f32.powi(e);
            if x.is_finite() && x != 0.0 {
                v.push(x);
            }
        }
    }
    for k in -4000..=4000 {
        v.push(k as f32 * 0.0123);
    }
    let n = v.len();
    for i in 0..n {
        v.push(-v[i]);
    }
    v
}

/// The lane function `lane` against the scalar `scalar` at every argument, each argument in
/// every position of a lane (the other entries other arguments); returns the largest distance.
fn check<T: matgrad::Real + core::fmt::Debug>(
    name: &str,
    args: &[T],
    lane: impl Fn(Wide<T>) -> Wide<T>,
    scalar: impl Fn(T) -> T,
    ulps: impl Fn(T, T) -> Option<u64>,
    bound: u64,
) -> u64 {
    let w = <Wide<T> as Lane>::WIDTH;
    let mut worst = 0;
    let mut bad = Vec::new();
    for start in 0..w.min(args.len()) {
        for chunk in args[start..].chunks(w) {
            let mut out = vec![T::zero(); chunk.len()];
            lane(Wide::<T>::load(chunk)).store(&mut out);
            for (&x, &got) in chunk.iter().zip(&out) {
                let want = scalar(x);
                let d = ulps(got, want);
                if d.is_none_or(|d| d > bound) && bad.len() < 8 {
                    bad.push(format!(
                        "{name}({x:?}) = {got:?} by the lane kernel, {want:?} by the scalar ({d:?} ulps)"
                    ));
                }
                worst = worst.max(d.unwrap_or(u64::MAX));
            }
        }
    }
    println!("{name}: at most {worst} ulps from the scalar function");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    worst
}

/// The bound of the polynomial kernels: [`ULPS`] with lanes, 0 (the scalar function) without.
fn bound() -> u64 {
    if <Wide<f64> as Lane>::WIDTH == 1 {
        0
    } else {
        u64::from(ULPS)
    }
}

#[test]
fn f64_kernels_against_the_scalar_functions() {
    let a = args_f64();
    let b = bound();
    check("exp", &a, Lane::exp, f64::exp, ulps_f64, b);
    check("ln", &a, Lane::ln, f64::ln, ulps_f64, b);
    check("tanh", &a, Lane::tanh, f64::tanh, ulps_f64, b);
    check("sqrt", &a, Lane::sqrt, f64::sqrt, ulps_f64, 0);
    check("recip", &a, Lane::recip, f64::recip, ulps_f64, 0);
    for n in [-7, -3, -2, -1, 0, 1, 2, 3, 4, 5, 8, 13] {
        check("powi", &a, |x| x.powi(n), |x| x.powi(n), ulps_f64, 0);
    }
    let logistic = |x: Wide<f64>| Wide::<f64>::splat(1.0) / (Wide::<f64>::splat(1.0) + (-x).exp());
    check("logistic", &a, logistic, |x| 1.0 / (1.0 + (-x).exp()), ulps_f64, b);
}

#[test]
fn f32_kernels_against_the_scalar_functions() {
    let a = args_f32();
    let b = bound();
    check("exp", &a, Lane::exp, f32::exp, ulps_f32, b);
    check("ln", &a, Lane::ln, f32::ln, ulps_f32, b);
    check("tanh", &a, Lane::tanh, f32::tanh, ulps_f32, b);
    check("sqrt", &a, Lane::sqrt, f32::sqrt, ulps_f32, 0);
    check("recip", &a, Lane::recip, f32::recip, ulps_f32, 0);
    for n in [-7, -3, -2, -1, 0, 1, 2, 3, 4, 5, 8, 13] {
        check("powi", &a, |x| x.powi(n), |x| x.powi(n), ulps_f32, 0);
    }
    let logistic = |x: Wide<f32>| Wide::<f32>::splat(1.0) / (Wide::<f32>::splat(1.0) + (-x).exp());
    check("logistic", &a, logistic, |x| 1.0 / (1.0 + (-x).exp()), ulps_f32, b);
}
