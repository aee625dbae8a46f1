#![no_std]

use matgrad::differentiate;
// In no_std, `v.tanh()` on f32 is the `ComplexField` method (the generated code does not need it).
use nalgebra::{ComplexField, SMatrix, SVector};

/// A small fixed-size loss: f(W) = ‖tanh(W x) − y‖² + 0.1 ‖W‖².
#[differentiate(wrt(w))]
pub fn loss(w: &SMatrix<f32, 3, 4>, x: &SVector<f32, 4>, y: &SVector<f32, 3>) -> f32 {
    let h = (w * x).map(|v| v.tanh());
    (h - y).norm_squared() + 0.1 * w.norm_squared()
}

/// A loop with a constant trip count and a branch: its tape is an array on the stack.
/// f(R, t) = Σᵢ wᵢ ‖R pᵢ + t − qᵢ‖², with weight 1 or ½. Forward mode too (`pose_jvp`,
/// `pose_hvp`): no std and no heap either.
#[differentiate(wrt(r, t), forward)]
pub fn pose(r: &SMatrix<f32, 3, 3>, t: &SVector<f32, 3>, p: &SMatrix<f32, 3, 8>, q: &SMatrix<f32, 3, 8>) -> f32 {
    let mut total = 0.0;
    for i in 0..8 {
        let e = r * p.column(i) + t - q.column(i);
        if i % 2 == 0 {
            total += e.norm_squared();
        } else {
            total += 0.5 * e.norm_squared();
        }
    }
    total
}

/// An iteration until converged, bounded so that its tape is a fixed array and a count (a
/// `while` would need the heap): the fixed point of u = ½ cos(u) + s·w₀, with `break`.
#[differentiate(wrt(w), forward)]
pub fn settle(w: &SVector<f32, 3>, s: f32) -> f32 {
    let mut u = 0.0f32;
    for _ in 0..64 {
        let next = 0.5 * u.cos() + s * w[0];
        if (next - u).abs() < 1e-6 {
            break;
        }
        u = next;
    }
    u * w.norm()
}

/// One gradient step of the pose, callable from C.
#[no_mangle]
pub extern "C" fn matgrad_pose_step(r: &mut [f32; 9], t: &mut [f32; 3], p: &[f32; 24], q: &[f32; 24], rate: f32) -> f32 {
    let rm = SMatrix::<f32, 3, 3>::from_column_slice(r);
    let tv = SVector::<f32, 3>::from_column_slice(t);
    let (pm, qm) = (SMatrix::<f32, 3, 8>::from_column_slice(p), SMatrix::<f32, 3, 8>::from_column_slice(q));
    let (value, dr, dt) = pose_grad(&rm, &tv, &pm, &qm);
    r.copy_from_slice((rm - dr * rate).as_slice());
    t.copy_from_slice((tv - dt * rate).as_slice());
    value
}

/// Linear algebra on fixed sizes with no heap: a Gaussian negative log-likelihood through a
/// Cholesky factorization, an inverse, a determinant and eigenvalues.
#[differentiate(wrt(s))]
pub fn nll(s: &SMatrix<f32, 3, 3>, c: &SMatrix<f32, 3, 3>) -> f32 {
    let chol = s.cholesky().expect("positive definite");
    let inv = s.try_inverse().unwrap();
    chol.ln_determinant()
        + chol.solve(c).trace()
        + inv.row_sum().sum()
        + s.determinant()
        + s.symmetric_eigenvalues().max()
}

/// One gradient step, callable from C.
#[no_mangle]
pub extern "C" fn matgrad_step(w: &mut [f32; 12], x: &[f32; 4], y: &[f32; 3], rate: f32) -> f32 {
    let wm = SMatrix::<f32, 3, 4>::from_column_slice(w);
    let (value, dw) = loss_grad(&wm, &SVector::from_column_slice(x), &SVector::from_column_slice(y));
    w.copy_from_slice((wm - dw * rate).as_slice());
    value
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
