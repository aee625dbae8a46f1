//! The optimisers on quadratics with a known minimum, over a derived struct, a matrix and a
//! tuple, in f64 and f32.

use matgrad::{differentiate, Adam, Differentiable, Sgd};
use nalgebra::{DMatrix, SMatrix, SVector};

#[derive(Clone, Debug, Differentiable)]
struct Params {
    w: DMatrix<f64>,
    b: f64,
    #[differentiable(skip)]
    label: &'static str,
}

/// f(P) = ‖A ⊙ (W − C)‖² + 3 (b − 2)², A > 0 entrywise: minimum 0 at W = C, b = 2.
/// ∇_W f = 2 A ⊙ A ⊙ (W − C), ∂f/∂b = 6 (b − 2).
#[differentiate(wrt(p))]
fn quadratic(p: &Params, a: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let e = (&p.w - c).component_mul(a);
    let d = p.b - 2.0;
    e.norm_squared() + 3.0 * d * d
}

fn problem() -> (Params, DMatrix<f64>, DMatrix<f64>) {
    let a = DMatrix::from_fn(2, 3, |i, j| 0.5 + 0.25 * (i + j) as f64);
    let c = DMatrix::from_fn(2, 3, |i, j| i as f64 - 0.5 * j as f64);
    (Params { w: DMatrix::zeros(2, 3), b: -1.0, label: "q" }, a, c)
}

/// The gradient the macro computes is the closed form above.
#[test]
fn the_objective_has_the_closed_form_gradient() {
    let (p, a, c) = problem();
    let (_, g) = quadratic_grad(&p, &a, &c);
    let expected = 2.0 * a.component_mul(&a).component_mul(&(&p.w - &c));
    assert!((&g.w - expected).norm() < 1e-12);
    assert!((g.b - 6.0 * (p.b - 2.0)).abs() < 1e-12);
}

fn minimise(mut step: impl FnMut(&mut Params, &Params), steps: usize) -> Params {
    let (mut p, a, c) = problem();
    for _ in 0..steps {
        let (_, g) = quadratic_grad(&p, &a, &c);
        step(&mut p, &g);
    }
    p
}

fn assert_at_minimum(p: &Params, tol: f64) {
    let (_, _, c) = problem();
    assert!((&p.w - &c).amax() < tol, "W = {} C = {c}", p.w);
    assert!((p.b - 2.0).abs() < tol, "b = {}", p.b);
    assert_eq!(p.label, "q", "a skipped field is left alone");
}

#[test]
fn gradient_descent_converges() {
    let mut sgd = Sgd::new(0.05);
    assert_at_minimum(&minimise(|p, g| sgd.step(p, g), 400), 1e-6);
}

/// Heavy ball with μ = 0.9, η = 0.05: on curvature λ ∈ [0.5, 6] (2a² and 6) the iteration's
/// roots z² − (1 + μ − ηλ) z + μ = 0 are complex, |z| = √μ ≈ 0.949, so 400 steps shrink the
/// error by about 0.949⁴⁰⁰ ≈ 10⁻⁹ (times a transient factor below 10).
#[test]
fn momentum_converges() {
    let mut heavy = Sgd::with_momentum(0.05, 0.9);
    assert_at_minimum(&minimise(|p, g| heavy.step(p, g), 400), 1e-6);
}

/// Plain descent's first step is −η g exactly; with momentum, the second is −η (μ g₁ + g₂).
#[test]
fn momentum_steps_by_hand() {
    let mut x = 1.0_f64;
    let mut sgd = Sgd::with_momentum(0.1, 0.5);
    sgd.step(&mut x, &2.0);
    assert!((x - 0.8).abs() < 1e-15);
    sgd.step(&mut x, &4.0);
    assert!((x - (0.8 - 0.1 * (0.5 * 2.0 + 4.0))).abs() < 1e-15);
}

#[test]
fn adam_converges() {
    let mut adam = Adam::new(0.05);
    assert_at_minimum(&minimise(|p, g| adam.step(p, g), 2000), 1e-4);
    assert_eq!(adam.t, 2000);
}

/// Adam's first step is −η sign(g) entrywise (m̂ = g, v̂ = g², ε negligible).
#[test]
fn adam_first_step_is_the_learning_rate_times_the_sign() {
    let mut x = SVector::<f32, 3>::new(1.0, -2.0, 0.5);
    let g = SVector::<f32, 3>::new(4.0, -0.1, 0.0);
    let mut adam = Adam::new(0.01_f32);
    adam.step(&mut x, &g);
    assert!((x - SVector::<f32, 3>::new(0.99, -1.99, 0.5)).norm() < 1e-6, "{x}");
}

/// f32, fixed sizes, a tuple of parameters: f(X, s) = ‖X − C‖² + (s + 1)², minimum at (C, −1).
#[test]
fn tuple_parameters_in_f32() {
    let c = SMatrix::<f32, 2, 2>::new(1.0, 2.0, -1.0, 0.5);
    let mut x = (SMatrix::<f32, 2, 2>::zeros(), 3.0_f32);
    let mut sgd = Sgd::with_momentum(0.1_f32, 0.5);
    for _ in 0..200 {
        let g = (2.0 * (x.0 - c), 2.0 * (x.1 + 1.0));
        sgd.step(&mut x, &g);
    }
    assert!((x.0 - c).amax() < 1e-5 && (x.1 + 1.0).abs() < 1e-5);
    assert_eq!(x.len(), 5);
}
