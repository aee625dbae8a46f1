//! A Kabsch/Procrustes rotation fit from an SVD, differentiated through the singular vectors.
//!
//! For centred point sets P, Q (3×n), the rotation that best maps P onto Q is
//! R = V diag(1, 1, d) Uᵀ with H = P Qᵀ = U Σ Vᵀ and d = sign det(V Uᵀ) (so that det R = 1).
//! `aligned` is the residual after that fit, ‖R P − Q‖², a function of P through R's SVD; its
//! `_grad` runs the rules of `svd(true, true).u` and `.v_t`.
//!
//! Because R minimises the residual over rotations, its own change does not move the residual to
//! first order (the envelope theorem): ∂f/∂P = 2 Rᵀ (R P − Q). The example checks the generated
//! gradient against that closed form and against central differences, then uses it to deform P
//! until it matches Q up to a rotation (gradient descent on the aligned residual).
//!
//! Run with `cargo run --example kabsch`.

use matgrad::differentiate;
use nalgebra::{Matrix3, Matrix3xX, Rotation3, Vector3};

/// The Kabsch rotation of `p` onto `q` and the residual ‖R P − Q‖² after it.
#[differentiate(wrt(p))]
fn aligned(p: &Matrix3xX<f64>, q: &Matrix3xX<f64>) -> f64 {
    let h = p * q.transpose();
    let u = h.svd(true, true).u.unwrap();
    let v = h.svd(true, true).v_t.unwrap().transpose();
    let d = (v * u.transpose()).determinant().signum();
    let r = v * Matrix3::new(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, d) * u.transpose();
    (r * p - q).norm_squared()
}

/// The same rotation, computed directly (for the closed form).
fn kabsch(p: &Matrix3xX<f64>, q: &Matrix3xX<f64>) -> Matrix3<f64> {
    let svd = (p * q.transpose()).svd(true, true);
    let (u, v) = (svd.u.expect("an SVD"), svd.v_t.expect("an SVD").transpose());
    let d = (v * u.transpose()).determinant().signum();
    v * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, d)) * u.transpose()
}

/// Centred points: the columns minus their mean.
fn centred(m: Matrix3xX<f64>) -> Matrix3xX<f64> {
    let mean = m.column_mean();
    let mut out = m;
    for mut col in out.column_iter_mut() {
        col -= &mean;
    }
    out
}

fn main() {
    let n = 8;
    // A point cloud, and the same cloud rotated and slightly deformed.
    let p = centred(Matrix3xX::from_fn(n, |i, j| ((3 * j + 5 * i) % 7) as f64 * 0.4 - 1.0 + 0.1 * (i * j) as f64));
    let truth = Rotation3::from_euler_angles(0.4, -0.7, 1.1);
    let q = centred(truth * &p + Matrix3xX::from_fn(n, |i, j| 0.05 * (((i + 2 * j) % 5) as f64 - 2.0)));

    let fitted = kabsch(&p, &q);
    let angle = Rotation3::from_matrix_unchecked(fitted.transpose() * truth.matrix()).angle();
    println!("Kabsch rotation recovered to {angle:.2e} rad of the true one");

    // The gradient through the SVD against the envelope theorem and central differences.
    let (value, dp) = aligned_grad(&p, &q);
    let by_hand = 2.0 * fitted.transpose() * (fitted * &p - &q);
    let gap = (&dp - &by_hand).amax();
    println!("residual {value:.4}; generated vs 2Rᵀ(RP − Q): max gap {gap:.1e}");
    assert!(gap < 1e-8, "{dp}\n{by_hand}");
    let check = matgrad::check_gradient(|p: &Matrix3xX<f64>| aligned(p, &q), &p, &dp, 1e-6, 1e-6);
    assert!(check.ok, "{check:?}");
    println!("central differences agree (max relative error {:.1e})", check.max_rel_error);

    // Deform P until it is Q up to a rotation: gradient descent on the aligned residual.
    let mut x = p.clone();
    for step in 0..=200 {
        let (f, dx) = aligned_grad(&x, &q);
        if step % 50 == 0 {
            println!("step {step:3}: ‖R P − Q‖² = {f:.3e}");
        }
        x -= 0.1 * dx;
    }
    assert!(aligned(&x, &q) < 1e-8 * aligned(&p, &q).max(1.0));
}
