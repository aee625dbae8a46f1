//! `_grad` of a fixed-size function performs no heap allocation; for dynamic sizes it allocates
//! only the intermediates the maths needs. Counted with a global allocator (per thread, so that
//! tests running in parallel do not disturb each other).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use matgrad::differentiate;
use nalgebra::{DMatrix, SMatrix, SVector};

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

/// A fixed-size network layer with every kind of op: product, map, broadcast-free bias,
/// transpose, scalar scaling, reductions.
#[differentiate(wrt(w, b))]
fn layer(w: &SMatrix<f64, 3, 4>, b: &SVector<f64, 3>, x: &SMatrix<f64, 4, 5>, y: &SMatrix<f64, 3, 5>) -> f64 {
    let ones = SMatrix::<f64, 1, 5>::from_element(1.0);
    let z = w * x + b * ones;
    let a = z.map(|v| v.tanh());
    let r = a - y;
    r.norm_squared() + 0.01 * w.transpose().norm_squared() + b.sum()
}

#[test]
fn fixed_size_grad_does_not_allocate() {
    let w = SMatrix::<f64, 3, 4>::from_fn(|i, j| 0.1 * (i as f64 - j as f64));
    let b = SVector::<f64, 3>::new(0.1, -0.2, 0.3);
    let x = SMatrix::<f64, 4, 5>::from_fn(|i, j| (i * j) as f64 * 0.05);
    let y = SMatrix::<f64, 3, 5>::from_element(0.2);
    let ((value, dw, db), count) = allocations_in(|| layer_grad(&w, &b, &x, &y));
    assert_eq!(count, 0, "the fixed-size gradient allocated");
    assert_eq!(value, layer(&w, &b, &x, &y));
    assert!(dw.norm() > 0.0 && db.norm() > 0.0);
}

/// f(W) = ‖σ(XW) − Y‖². The forward pass allocates Z = XW and A = σ(Z) (R = A − Y reuses A's
/// buffer). The gradient also stores σ′(Z), and allocates R̄ = 2R, Z̄ = R̄ ⊙ σ′, Xᵀ (the copy
/// that keeps XᵀZ̄ on nalgebra's fast kernel) and W̄: 7 in all. R̄ and Z̄ could reuse the
/// buffers of R and R̄, which are dead by then (5).
#[differentiate(wrt(w))]
fn network(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}

#[test]
fn dynamic_grad_allocates_only_intermediates() {
    let x = DMatrix::from_fn(20, 6, |i, j| ((i + 2 * j) % 7) as f64 * 0.1 - 0.3);
    let w = DMatrix::from_fn(6, 4, |i, j| ((3 * i + j) % 5) as f64 * 0.1 - 0.2);
    let y = DMatrix::from_element(20, 4, 0.5);
    let (_, forward) = allocations_in(|| network(&w, &x, &y));
    let (_, grad) = allocations_in(|| network_grad(&w, &x, &y));
    assert_eq!(forward, 2);
    eprintln!("network: forward {forward} allocations, gradient {grad}");
    assert!(grad <= 7, "network_grad made {grad} allocations");
}

/// A loop with a constant trip count over fixed-size matrices: its tape is an array on the
/// stack. f(R, t) = Σᵢ ‖R pᵢ + t − qᵢ‖² in f32.
#[differentiate(wrt(r, t))]
fn pose(r: &SMatrix<f32, 3, 3>, t: &SVector<f32, 3>, p: &SMatrix<f32, 3, 8>, q: &SMatrix<f32, 3, 8>) -> f32 {
    let mut total = 0.0;
    for i in 0..8 {
        let e = r * p.column(i) + t - q.column(i);
        total += e.norm_squared();
    }
    total
}

/// A recurrence with a branch per step and a constant trip count: still no heap. (A range,
/// not `for g in gate`: only a range's trip count is known to the macro.)
#[differentiate(wrt(w))]
#[allow(clippy::needless_range_loop)]
fn recurrence(w: &SMatrix<f64, 3, 3>, h0: &SVector<f64, 3>, gate: [bool; 6]) -> f64 {
    let mut h = *h0;
    for k in 0..6 {
        if gate[k] {
            h = (w * h).map(|v| v.tanh());
        } else {
            h = w.transpose() * h;
        }
    }
    h.norm_squared()
}

#[test]
fn fixed_size_loops_do_not_allocate() {
    let r = SMatrix::<f32, 3, 3>::identity();
    let t = SVector::<f32, 3>::new(0.1, -0.2, 0.3);
    let p = SMatrix::<f32, 3, 8>::from_fn(|i, j| (i + j) as f32 * 0.1);
    let q = SMatrix::<f32, 3, 8>::from_fn(|i, j| (i * j) as f32 * 0.1);
    let ((value, dr, _), count) = allocations_in(|| pose_grad(&r, &t, &p, &q));
    assert_eq!(count, 0, "the fixed-size loop's gradient allocated");
    assert_eq!(value, pose(&r, &t, &p, &q));
    assert!(dr.norm() > 0.0);

    let w = SMatrix::<f64, 3, 3>::from_fn(|i, j| 0.3 * (i as f64 - j as f64) + 0.5 * (i == j) as u8 as f64);
    let h0 = SVector::<f64, 3>::new(0.5, -0.4, 0.3);
    let gate = [true, false, true, true, false, true];
    let ((value, dw), count) = allocations_in(|| recurrence_grad(&w, &h0, gate));
    assert_eq!(count, 0, "the fixed-size recurrence's gradient allocated");
    assert_eq!(value, recurrence(&w, &h0, gate));
    let check = matgrad::check_gradient(|w: &SMatrix<f64, 3, 3>| recurrence(w, &h0, gate), &w, &dw, 1e-6, 1e-7);
    assert!(check.ok, "{check:?}");
}

/// Fixed-size linear algebra: a Gaussian negative log-likelihood through one Cholesky
/// factorization, an inverse, a determinant, eigenvalues, views and a row-wise softmax.
#[differentiate(wrt(a))]
fn gaussian(a: &SMatrix<f64, 3, 3>, c: &SMatrix<f64, 3, 3>) -> f64 {
    let s = a * a.transpose() + SMatrix::<f64, 3, 3>::identity();
    let chol = s.cholesky().expect("positive definite");
    let inv = a.try_inverse().unwrap();
    let p = matgrad::softmax_rows(&inv);
    chol.ln_determinant()
        + chol.solve(c).trace()
        + a.determinant()
        + s.symmetric_eigenvalues().max()
        + p.row(0).sum()
        + inv.fixed_view::<2, 2>(1, 1).norm_squared()
}

#[test]
fn fixed_size_linear_algebra_does_not_allocate() {
    let a = SMatrix::<f64, 3, 3>::from_fn(|i, j| if i == j { 2.0 } else { 0.1 * (i as f64 - j as f64) });
    let c = SMatrix::<f64, 3, 3>::identity();
    let ((value, da), count) = allocations_in(|| gaussian_grad(&a, &c));
    assert_eq!(count, 0, "the fixed-size linear-algebra gradient allocated");
    assert_eq!(value, gaussian(&a, &c));
    assert!(da.norm() > 0.0);
}
