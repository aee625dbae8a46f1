//! Every generated program's `_grad` (see `build.rs`) against central differences: the value
//! must equal the function's, every gradient must match `check_gradient`. A failing program is
//! printed in full, to be made a regression test.

use std::panic::{catch_unwind, AssertUnwindSafe};

use matgrad::{check_gradient, Perturb, Real};
use nalgebra::{ComplexField, DMatrix, SMatrix};

pub struct Program {
    pub name: &'static str,
    pub source: &'static str,
    pub check: fn() -> Result<(), String>,
}

#[allow(unused, clippy::all)]
mod programs {
    use super::*;
    use matgrad::differentiate;
    use nalgebra::RealField;
    include!(concat!(env!("OUT_DIR"), "/programs.rs"));
}

/// The step and tolerance of central differences for each scalar type.
trait Tolerance: Real {
    const H: f64;
    const TOL: f64;
    const EPS: f64;
    /// A larger step, tried last: for a function whose evaluation loses digits (a product with
    /// large entries inverted, a trace of the small inverse), the rounding error at `H` exceeds
    /// the tolerance while the truncation error at this step is still far below it. A wrong
    /// gradient differs at every step.
    const COARSE: f64;
}

impl Tolerance for f64 {
    const H: f64 = 1e-6;
    const TOL: f64 = 1e-5;
    const EPS: f64 = f64::EPSILON;
    const COARSE: f64 = 6.4e-5;
}

/// f32 central differences are coarse (truncation error h²·f‴ against rounding error ε·f/h):
/// the f64 programs check the maths, the f32 ones that the generated code is generic.
impl Tolerance for f32 {
    const H: f64 = 4e-3;
    const TOL: f64 = 3e-2;
    const EPS: f64 = f32::EPSILON as f64;
    // (f32's step is coarse already)
    const COARSE: f64 = 4e-3;
}

/// A deterministic input entry in about [-1, 1].
fn entry(seed: usize, k: usize) -> f64 {
    let x = ((seed * 7919 + k * 104_729 + 17) as u64).wrapping_mul(2_654_435_761) % 10_007;
    2.0 * x as f64 / 10_007.0 - 1.0
}

fn input_scalar<T: Real>(seed: usize) -> T {
    nalgebra::convert(entry(seed, 0))
}

fn input_dynamic<T: Real>(r: usize, c: usize, seed: usize) -> DMatrix<T> {
    DMatrix::from_fn(r, c, |i, j| nalgebra::convert(entry(seed, i + j * r)))
}

fn input_static<T: Real, const R: usize, const C: usize>(seed: usize) -> SMatrix<T, R, C> {
    SMatrix::from_fn(|i, j| nalgebra::convert(entry(seed, i + j * R)))
}

/// `_grad`'s value is the function's.
fn same_value<T: Tolerance>(grad: T, forward: T) -> Result<(), String> {
    let tol: T = nalgebra::convert(T::TOL * 1e-3);
    let scale = forward.abs().max(T::one());
    match (grad - forward).abs() <= tol * scale {
        true => Ok(()),
        false => Err(format!("value {grad} from `_grad`, {forward} from the function")),
    }
}

/// The gradient `g` of `f` at `x` (parameter `name`) agrees with central differences. Besides
/// the tolerance, an entry may be off by the rounding error of the differences themselves,
/// `4ε|f|/h`: a large value can hide a small gradient (`‖X‖⁴ + sum(sin B)` in B).
///
/// The derivative is that of the path that ran: where a step of `h` crosses a branch's or an
/// early exit's threshold, the difference spans two paths (a jump of the value, seen as a huge
/// slope). Such a check is repeated with `h/16`, whose stencil no longer crosses it.
fn fd<V, F>(name: &str, mut f: F, x: &V, g: &V::Adj) -> Result<(), String>
where
    V: Perturb,
    V::Scalar: Tolerance,
    F: FnMut(&V) -> V::Scalar,
{
    let mut check_with = |h: f64| {
        let h: V::Scalar = nalgebra::convert(h);
        let rounding = nalgebra::convert::<f64, V::Scalar>(4.0 * V::Scalar::EPS) * ComplexField::abs(f(x)) / h;
        let tol = nalgebra::convert::<f64, V::Scalar>(V::Scalar::TOL) + rounding;
        check_gradient(&mut f, x, g, h, tol)
    };
    let check = check_with(V::Scalar::H);
    if check.ok || check_with(V::Scalar::H / 16.0).ok || check_with(V::Scalar::COARSE).ok {
        return Ok(());
    }
    Err(format!("gradient of `{name}` differs from central differences: {check:?}"))
}

#[test]
fn generated_gradients_match_central_differences() {
    let mut failures = Vec::new();
    for p in programs::PROGRAMS {
        let result = catch_unwind(AssertUnwindSafe(p.check)).unwrap_or_else(|_| Err("panicked".into()));
        if let Err(e) = result {
            failures.push(format!("{}: {e}\n{}", p.name, p.source));
        }
    }
    eprintln!("checked {} generated programs", programs::PROGRAMS.len());
    assert!(
        failures.is_empty(),
        "{} of {} generated programs fail (make each a regression test):\n\n{}",
        failures.len(),
        programs::PROGRAMS.len(),
        failures.join("\n")
    );
}
