//! Forward mode of a fixed-size function makes no heap allocation: `_jvp` and `_hvp` of the
//! pose fit and of a network layer, loops included. Counted with a global allocator, per
//! thread, as in `tests/allocations.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use matgrad::differentiate;
use nalgebra::{Matrix3, SMatrix, SVector, Vector3};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (r, ALLOCATIONS.with(Cell::get) - before)
}

#[differentiate(wrt(w, b), forward)]
fn layer(w: &SMatrix<f64, 3, 4>, b: &SVector<f64, 3>, x: &SMatrix<f64, 4, 5>, y: &SMatrix<f64, 3, 5>) -> f64 {
    let ones = SMatrix::<f64, 1, 5>::from_element(1.0);
    let z = w * x + b * ones;
    let a = z.map(|v| v.tanh());
    let r = a - y;
    r.norm_squared() + 0.01 * w.transpose().norm_squared() + b.sum()
}

#[differentiate(wrt(r, t), forward)]
fn pose(r: &Matrix3<f32>, t: &Vector3<f32>, p: &SMatrix<f32, 3, 8>, q: &SMatrix<f32, 3, 8>) -> f32 {
    let mut fit = 0.0;
    for i in 0..8 {
        let e = r * p.column(i) + t - q.column(i);
        if e.norm_squared() > 10.0 {
            fit += e.norm();
        } else {
            fit += e.norm_squared();
        }
    }
    let gram = r.tr_mul(r) - Matrix3::identity();
    fit + gram.norm_squared()
}

#[test]
fn fixed_size_jvp_and_hvp_do_not_allocate() {
    let w = SMatrix::<f64, 3, 4>::from_fn(|i, j| 0.1 * (i as f64 - j as f64));
    let b = SVector::<f64, 3>::new(0.1, -0.2, 0.3);
    let x = SMatrix::<f64, 4, 5>::from_fn(|i, j| (i * j) as f64 * 0.05);
    let y = SMatrix::<f64, 3, 5>::from_element(0.2);
    let (tw, tb) = (SMatrix::<f64, 3, 4>::from_element(0.3), SVector::<f64, 3>::new(1.0, 0.0, -1.0));
    let ((value, tangent), count) = allocations_in(|| layer_jvp(&w, &b, &x, &y, &tw, &tb));
    assert_eq!(count, 0, "the fixed-size `_jvp` allocated");
    assert_eq!(value, layer(&w, &b, &x, &y));
    assert!(tangent != 0.0);
    let ((_, gw, _, hw, hb), count) = allocations_in(|| layer_hvp(&w, &b, &x, &y, &tw, &tb));
    assert_eq!(count, 0, "the fixed-size `_hvp` allocated");
    assert!(gw.norm() > 0.0 && hw.norm() > 0.0 && hb.norm() > 0.0);
}

#[test]
fn fixed_size_loops_and_branches_in_forward_mode_do_not_allocate() {
    let r = Matrix3::<f32>::identity();
    let t = Vector3::<f32>::new(0.1, -0.2, 0.3);
    let p = SMatrix::<f32, 3, 8>::from_fn(|i, j| ((i * 5 + j * 3) % 7) as f32 / 3.5 - 1.0);
    let q = SMatrix::<f32, 3, 8>::from_fn(|i, j| ((i * 3 + j * 5) % 7) as f32 / 3.5 - 1.0);
    let (vr, vt) = (Matrix3::<f32>::from_element(0.1), Vector3::<f32>::new(0.5, 0.1, -0.4));
    let ((_, tangent), count) = allocations_in(|| pose_jvp(&r, &t, &p, &q, &vr, &vt));
    assert_eq!(count, 0, "the fixed-size `_jvp` with a loop allocated");
    assert!(tangent != 0.0);
    let ((_, _, _, hr, ht), count) = allocations_in(|| pose_hvp(&r, &t, &p, &q, &vr, &vt));
    assert_eq!(count, 0, "the fixed-size `_hvp` with a loop allocated");
    assert!(hr.norm() > 0.0 && ht.norm() > 0.0);
}

/// The linear-algebra rules of forward mode on fixed sizes, and a fixed-size struct parameter.
#[differentiate(wrt(a), forward)]
fn linalg(a: &Matrix3<f64>, s: &Matrix3<f64>) -> f64 {
    let spd = s + a * a.transpose() * 0.1;
    let l = spd.cholesky().unwrap().l();
    a.determinant()
        + a.pow(3).trace()
        + a.lp_norm(3)
        + a.exp().trace()
        + a.abs().sum()
        + l.sum()
        + spd.symmetric_eigenvalues().sum()
        + l.solve_lower_triangular(a).unwrap().norm_squared()
}

#[derive(Clone, Copy, Debug, PartialEq, matgrad::Differentiable)]
pub struct Rigid {
    pub r: Matrix3<f64>,
    pub t: Vector3<f64>,
}

#[differentiate(wrt(p), forward)]
fn rigid(p: &Rigid, x: &Vector3<f64>) -> f64 {
    (p.r * x + p.t).norm_squared() + p.r.determinant()
}

#[test]
fn fixed_size_linear_algebra_and_structs_in_forward_mode_do_not_allocate() {
    let a = Matrix3::<f64>::new(1.0, 0.2, -0.1, 0.3, 0.9, 0.2, -0.2, 0.1, 1.1);
    let s = Matrix3::<f64>::identity() * 2.0;
    let v = Matrix3::<f64>::from_element(0.1);
    let ((_, tangent), count) = allocations_in(|| linalg_jvp(&a, &s, &v));
    assert_eq!(count, 0, "the fixed-size `_jvp` of the linear-algebra rules allocated");
    assert!(tangent != 0.0);
    let ((_, _, hv), count) = allocations_in(|| linalg_hvp(&a, &s, &v));
    assert_eq!(count, 0, "the fixed-size `_hvp` of the linear-algebra rules allocated");
    assert!(hv.norm() > 0.0);
    let p = Rigid { r: a, t: Vector3::new(0.1, 0.2, 0.3) };
    let (t, x) = (Rigid { r: v, t: Vector3::new(1.0, 0.0, -1.0) }, Vector3::new(0.5, -0.5, 1.0));
    let ((_, tangent), count) = allocations_in(|| rigid_jvp(&p, &x, &t));
    assert_eq!(count, 0, "the fixed-size `_jvp` of a struct allocated");
    assert!(tangent != 0.0);
    let ((_, _, hv), count) = allocations_in(|| rigid_hvp(&p, &x, &t));
    assert_eq!(count, 0, "the fixed-size `_hvp` of a struct allocated");
    assert!(hv.r.norm() > 0.0);
}
