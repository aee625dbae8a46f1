//! Embedded-style pose fit: a 3×3 rotation R and a translation t that map 8 points pᵢ onto
//! their matches qᵢ, found by gradient descent in f32 with fixed-size matrices only. The
//! gradient is generated at compile time; it makes no heap allocation (the loop over points
//! has a constant trip count, so its tape is an array on the stack) and compiles in a
//! `#![no_std]` crate (see `tests/no_std_crate`).
//!
//! The loss is Σᵢ ‖R pᵢ + t − qᵢ‖² + λ ‖RᵀR − I‖²: the second term keeps R a rotation.
//!
//! Run with `cargo run --release --example pose`.

use matgrad::differentiate;
use nalgebra::{Matrix3, Rotation3, SMatrix, Vector3};

type Points = SMatrix<f32, 3, 8>;

#[differentiate(wrt(r, t))]
fn pose_loss(r: &Matrix3<f32>, t: &Vector3<f32>, p: &Points, q: &Points, lambda: f32) -> f32 {
    let mut fit = 0.0;
    for i in 0..8 {
        let e = r * p.column(i) + t - q.column(i);
        fit += e.norm_squared();
    }
    let gram = r.tr_mul(r) - Matrix3::identity();
    fit + lambda * gram.norm_squared()
}

fn main() {
    // The true pose, and the points it maps.
    let truth = Rotation3::from_axis_angle(&nalgebra::Unit::new_normalize(Vector3::new(1.0, 2.0, 3.0)), 0.6);
    let t_true = Vector3::new(0.3, -0.2, 0.5);
    let p = Points::from_fn(|i, j| (((i * 5 + j * 3) % 7) as f32 / 3.5 - 1.0) * (1.0 + 0.1 * j as f32));
    let q = Points::from_fn(|i, j| (truth * p.column(j) + t_true)[i]);

    let (mut r, mut t) = (Matrix3::<f32>::identity(), Vector3::<f32>::zeros());
    let (rate, lambda) = (0.02, 1.0);
    let first = pose_loss(&r, &t, &p, &q, lambda);
    for step in 0..=200 {
        let (loss, dr, dt) = pose_loss_grad(&r, &t, &p, &q, lambda);
        if step % 50 == 0 {
            println!("step {step:3}: loss {loss:.3e}");
        }
        r -= dr * rate;
        t -= dt * rate;
    }
    let last = pose_loss(&r, &t, &p, &q, lambda);
    let rot_err = (r - truth.matrix()).abs().max();
    let t_err = (t - t_true).abs().max();
    let ortho = (r.tr_mul(&r) - Matrix3::identity()).abs().max();
    println!("loss {first:.3e} -> {last:.3e}; |R - R_true| = {rot_err:.1e}, |t - t_true| = {t_err:.1e}, |RᵀR - I| = {ortho:.1e}");
    assert!(last < 1e-6 * first && rot_err < 1e-3 && t_err < 1e-3, "the fit did not converge");
}
