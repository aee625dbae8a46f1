//! A two-link planar arm and a pose in SE(2), each built from angles with `Matrix2::new(c, -s,
//! s, c)` and fitted by gradient descent on gradients generated at compile time.
//!
//! 1. Inverse kinematics: the joint angles θ₁, θ₂ that put the arm's tip at a target, the tip
//!    being R(θ₁) (l₁ e₁ + R(θ₂) l₂ e₁) (e₁ the first axis).
//! 2. A pose in SE(2): the angle θ and translation t that map points pᵢ onto qᵢ = R(θ) pᵢ + t,
//!    from Σᵢ ‖R(θ) pᵢ + t − qᵢ‖². The rotation is exact by construction (no penalty term, unlike
//!    `examples/pose.rs`, which fits a 3×3 matrix).
//!
//! Fixed-size f64 matrices only; run with `cargo run --example planar_arm`.

use matgrad::differentiate;
use nalgebra::{Matrix2, SMatrix, Vector2};

/// The rotation by `theta`.
fn rotation(theta: f64) -> Matrix2<f64> {
    let (s, c) = theta.sin_cos();
    Matrix2::new(c, -s, s, c)
}

/// ‖tip(θ₁, θ₂) − target‖² for links of lengths `l1`, `l2`.
#[differentiate(wrt(theta1, theta2))]
fn reach(theta1: f64, theta2: f64, l1: f64, l2: f64, target: &Vector2<f64>) -> f64 {
    let r1 = Matrix2::new(theta1.cos(), -theta1.sin(), theta1.sin(), theta1.cos());
    let r2 = Matrix2::new(theta2.cos(), -theta2.sin(), theta2.sin(), theta2.cos());
    let elbow = Vector2::new(l1, 0.0);
    let forearm = r2 * Vector2::new(l2, 0.0);
    (r1 * (elbow + forearm) - target).norm_squared()
}

type Points = SMatrix<f64, 2, 6>;

/// Σᵢ ‖R(θ) pᵢ + t − qᵢ‖².
#[differentiate(wrt(theta, t))]
fn pose(theta: f64, t: &Vector2<f64>, p: &Points, q: &Points) -> f64 {
    let c = theta.cos();
    let s = theta.sin();
    let r = Matrix2::new(c, -s, s, c);
    let mut fit = 0.0;
    for i in 0..6 {
        fit += (r * p.column(i) + t - q.column(i)).norm_squared();
    }
    fit
}

fn main() {
    // 1. Inverse kinematics.
    let (l1, l2) = (1.0, 0.7);
    let target = rotation(0.9) * Vector2::new(1.3, 0.0);
    let (mut a, mut b) = (0.1, 0.3);
    let first = reach(a, b, l1, l2, &target);
    for step in 0..=300 {
        let (loss, da, db) = reach_grad(a, b, l1, l2, &target);
        if step % 100 == 0 {
            println!("arm step {step:3}: ‖tip − target‖² = {loss:.3e}");
        }
        a -= 0.2 * da;
        b -= 0.2 * db;
    }
    let last = reach(a, b, l1, l2, &target);
    println!("arm: {first:.3e} -> {last:.3e} at θ₁ = {a:.4}, θ₂ = {b:.4}");
    assert!(last < 1e-12, "the arm did not reach its target");

    // 2. A pose in SE(2).
    let (theta_true, t_true) = (-1.1, Vector2::new(0.4, -0.25));
    let p = Points::from_fn(|i, j| ((i * 3 + j * 5) % 7) as f64 / 3.5 - 1.0 + 0.1 * j as f64);
    let q = Points::from_fn(|i, j| (rotation(theta_true) * p.column(j) + t_true)[i]);
    let (mut theta, mut t) = (0.0, Vector2::zeros());
    let first = pose(theta, &t, &p, &q);
    for step in 0..=200 {
        let (loss, dtheta, dt) = pose_grad(theta, &t, &p, &q);
        if step % 50 == 0 {
            println!("pose step {step:3}: loss {loss:.3e}");
        }
        theta -= 0.05 * dtheta;
        t -= dt * 0.05;
    }
    let last = pose(theta, &t, &p, &q);
    let (theta_err, t_err) = ((theta - theta_true).abs(), (t - t_true).abs().max());
    println!("pose: {first:.3e} -> {last:.3e}; |θ − θ_true| = {theta_err:.1e}, |t − t_true| = {t_err:.1e}");
    assert!(theta_err < 1e-6 && t_err < 1e-6, "the pose fit did not converge");
}
