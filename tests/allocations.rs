//! `_grad` of a fixed-size function performs no heap allocation; for dynamic sizes it allocates
//! only the intermediates the maths needs. Counted with a global allocator (per thread, so that
//! tests running in parallel do not disturb each other).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use matgrad::differentiate;
use nalgebra::{DMatrix, DMatrixView, RowDVector, SMatrix, SVector};

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
    assert!(common::same_value(value, layer(&w, &b, &x, &y)));
    assert!(dw.norm() > 0.0 && db.norm() > 0.0);
}

/// Pose residual over 8 points, fixed sizes: f(R, t) = ‖RP + t1ᵀ − Q‖².
#[differentiate(wrt(r, t))]
fn pose(r: &SMatrix<f64, 3, 3>, t: &SVector<f64, 3>, p: &SMatrix<f64, 3, 8>, q: &SMatrix<f64, 3, 8>) -> f64 {
    let ones = SMatrix::<f64, 1, 8>::from_element(1.0);
    (r * p + t * ones - q).norm_squared()
}

#[test]
fn fixed_size_pose_grad_does_not_allocate() {
    let r = SMatrix::<f64, 3, 3>::from_fn(|i, j| if i == j { 1.0 } else { 0.1 * (i as f64 - j as f64) });
    let t = SVector::<f64, 3>::new(0.1, -0.2, 0.3);
    let p = SMatrix::<f64, 3, 8>::from_fn(|i, j| ((i * 8 + j) % 5) as f64 * 0.3 - 0.6);
    let q = SMatrix::<f64, 3, 8>::from_fn(|i, j| ((i + 3 * j) % 7) as f64 * 0.2 - 0.5);
    let ((value, dr, dt), count) = allocations_in(|| pose_grad(&r, &t, &p, &q));
    assert_eq!(count, 0, "the fixed-size pose gradient allocated");
    let e = r * p + t * SMatrix::<f64, 1, 8>::from_element(1.0) - q;
    assert_eq!(value, pose(&r, &t, &p, &q));
    assert!((dr - 2.0 * e * p.transpose()).norm() < 1e-12);
    assert!((dt - 2.0 * e.column_sum()).norm() < 1e-12);
}

// ---------------------------------------------------------------------------------------------
// Dynamic sizes: the generated gradient against the hand-written one (as in the benchmarks),
// counted in the same test, at a size below nalgebra's fast-kernel limit (any dimension ≤ 5)
// and one above it (where `gemm` itself allocates packing buffers, in both).

/// `Aᵀ B` without copying A: a strided view on the fast kernel, `tr_mul` below its limit.
fn tr_mul_fast(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let (k, m, n) = (a.nrows(), a.ncols(), b.ncols());
    if k > 5 && m > 5 && n > 5 {
        DMatrixView::from_slice_with_strides(a.as_slice(), m, k, k, 1) * b
    } else {
        a.tr_mul(b)
    }
}

/// `A Bᵀ` without copying B on the fast kernel.
fn mul_tr_fast(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    let (m, k, n) = (a.nrows(), a.ncols(), b.nrows());
    if k > 5 && m > 5 && n > 5 {
        a * DMatrixView::from_slice_with_strides(b.as_slice(), k, n, n, 1)
    } else {
        a * b.transpose()
    }
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

/// The hand-written gradient: XW turned into the factor 2(a − Y) ⊙ a ⊙ (1 − a) in place.
fn network_hand(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> (f64, DMatrix<f64>) {
    let mut g = x * w;
    let mut value = 0.0;
    g.zip_apply(y, |z, y| {
        let a = 1.0 / (1.0 + (-*z).exp());
        let r = a - y;
        value += r * r;
        *z = 2.0 * r * a * (1.0 - a);
    });
    (value, tr_mul_fast(x, &g))
}

/// Generated: Z = XW, A = σ(Z) in Z's buffer (R = A − Y and R̄ = 2R in it too), the stored
/// σ′(Z), and W̄ = XᵀZ̄ (Z̄ = R̄ ⊙ σ′ in R̄'s buffer): 3. The hand-written gradient fuses σ, the
/// residual and σ′ into one pass over XW and stores no σ′: 2. The one more is that matrix.
#[test]
fn dynamic_grad_allocates_only_intermediates() {
    for (n, d, k) in [(20, 6, 4), (32, 16, 8)] {
        let x = DMatrix::from_fn(n, d, |i, j| ((i + 2 * j) % 7) as f64 * 0.1 - 0.3);
        let w = DMatrix::from_fn(d, k, |i, j| ((3 * i + j) % 5) as f64 * 0.1 - 0.2);
        let y = DMatrix::from_element(n, k, 0.5);
        let (_, forward) = allocations_in(|| network(&w, &x, &y));
        let ((v, dw), grad) = allocations_in(|| network_grad(&w, &x, &y));
        let ((v_hand, dw_hand), hand) = allocations_in(|| network_hand(&w, &x, &y));
        assert!((v - v_hand).abs() < 1e-12 && (dw - dw_hand).norm() < 1e-12);
        eprintln!("network {n}x{d}: forward {forward}, generated gradient {grad}, hand-written {hand} allocations");
        // On the fast kernel, each product also allocates matrixmultiply's packing buffer.
        let packing = usize::from(n > 5 && d > 5 && k > 5);
        assert_eq!(forward, 2 + packing);
        assert_eq!(grad, 3 + 2 * packing, "network_grad");
        assert!(grad <= hand + 1, "network_grad made {grad} allocations, the hand-written gradient {hand}");
    }
}

/// Dictionary learning: f(D, R) = ‖X − DR‖².
#[differentiate(wrt(d, r))]
fn dictionary(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}

/// DR turned into −2(X − DR) in place, then the two products.
fn dictionary_hand(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> (f64, DMatrix<f64>, DMatrix<f64>) {
    let mut e = d * r;
    let mut value = 0.0;
    e.zip_apply(x, |e, x| {
        let r = x - *e;
        value += r * r;
        *e = -2.0 * r;
    });
    (value, mul_tr_fast(&e, r), tr_mul_fast(d, &e))
}

/// Generated: P = DR, X − P in P's buffer, −2(X − P) in it too (the sign folded into the
/// scaling), D̄ and R̄: 3, as many as by hand.
#[test]
fn dictionary_grad_allocates_as_much_as_by_hand() {
    for (m, n, k) in [(7, 9, 3), (24, 20, 8)] {
        let x = DMatrix::from_fn(m, n, |i, j| ((i + 2 * j) % 7) as f64 * 0.1 - 0.3);
        let d = DMatrix::from_fn(m, k, |i, j| ((3 * i + j) % 5) as f64 * 0.1 - 0.2);
        let r = DMatrix::from_fn(k, n, |i, j| ((i + j) % 3) as f64 * 0.2 - 0.1);
        let ((v, dd, dr), grad) = allocations_in(|| dictionary_grad(&x, &d, &r));
        let ((v_hand, dd_hand, dr_hand), hand) = allocations_in(|| dictionary_hand(&x, &d, &r));
        assert!((v - v_hand).abs() < 1e-12 && (dd - dd_hand).norm() < 1e-12 && (dr - dr_hand).norm() < 1e-12);
        eprintln!("dictionary {m}x{n}: generated gradient {grad}, hand-written {hand} allocations");
        assert!(grad <= hand, "dictionary_grad made {grad} allocations, the hand-written gradient {hand}");
    }
}

/// Two-layer perceptron, the biases added with the broadcast helper.
#[differentiate(wrt(w1, b1, w2, b2))]
fn mlp(
    w1: &DMatrix<f64>,
    b1: &RowDVector<f64>,
    w2: &DMatrix<f64>,
    b2: &RowDVector<f64>,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
) -> f64 {
    let h = matgrad::add_row_vector(x * w1, b1).map(|v| v.tanh());
    let out = matgrad::add_row_vector(h * w2, b2);
    (out - y).norm_squared()
}

/// Biases added in place, E = 2(out − Y) in place, 1 − H² applied in place.
#[allow(clippy::type_complexity)]
fn mlp_hand(
    w1: &DMatrix<f64>,
    b1: &RowDVector<f64>,
    w2: &DMatrix<f64>,
    b2: &RowDVector<f64>,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
) -> (f64, DMatrix<f64>, RowDVector<f64>, DMatrix<f64>, RowDVector<f64>) {
    let mut h = x * w1;
    for (mut col, b) in h.column_iter_mut().zip(b1.iter()) {
        col.apply(|v| *v = (*v + b).tanh());
    }
    let mut e = &h * w2;
    let mut value = 0.0;
    for ((mut col, b), ycol) in e.column_iter_mut().zip(b2.iter()).zip(y.column_iter()) {
        col.zip_apply(&ycol, |v, y| {
            let r = *v + b - y;
            value += r * r;
            *v = 2.0 * r;
        });
    }
    let (dw2, db2) = (tr_mul_fast(&h, &e), e.row_sum());
    let mut dz = mul_tr_fast(&e, w2);
    dz.zip_apply(&h, |d, h| *d *= 1.0 - h * h);
    let (dw1, db1) = (tr_mul_fast(x, &dz), dz.row_sum());
    (value, dw1, db1, dw2, db2)
}

/// Hand-written: H, E, the five gradients, and at this size (below the fast kernel) the copy W₂ᵀ:
/// 8. Generated: the same, the biases added in the products' buffers: 8 (the tanh layer stores
/// no derivative: the reverse pass computes 1 − H² from H, as the hand-written one does).
#[test]
fn mlp_grad_allocates_the_hand_written_intermediates_and_what_its_formulation_needs() {
    let (n, d, h, k) = (16, 4, 3, 2);
    let x = DMatrix::from_fn(n, d, |i, j| ((i + 2 * j) % 7) as f64 * 0.1 - 0.3);
    let w1 = DMatrix::from_fn(d, h, |i, j| ((3 * i + j) % 5) as f64 * 0.1 - 0.2);
    let w2 = DMatrix::from_fn(h, k, |i, j| ((i + j) % 3) as f64 * 0.2 - 0.1);
    let b1 = RowDVector::from_fn(h, |_, j| 0.1 * j as f64);
    let b2 = RowDVector::from_fn(k, |_, j| -0.1 * j as f64);
    let y = DMatrix::from_element(n, k, 0.5);
    let ((v, dw1, db1, dw2, db2), grad) = allocations_in(|| mlp_grad(&w1, &b1, &w2, &b2, &x, &y));
    let ((v_h, dw1_h, db1_h, dw2_h, db2_h), hand) = allocations_in(|| mlp_hand(&w1, &b1, &w2, &b2, &x, &y));
    assert!((v - v_h).abs() < 1e-12 && (dw1 - dw1_h).norm() < 1e-12 && (dw2 - dw2_h).norm() < 1e-12);
    assert!((db1 - db1_h).norm() < 1e-12 && (db2 - db2_h).norm() < 1e-12);
    eprintln!("mlp: generated gradient {grad}, hand-written {hand} allocations");
    assert!(grad <= hand, "mlp_grad made {grad} allocations, the hand-written gradient {hand}");
}

/// A loop with a constant trip count over fixed-size matrices: its tape is an array on the
/// stack. f(R, t) = Σᵢ ‖R pᵢ + t − qᵢ‖² in f32.
#[differentiate(wrt(r, t))]
fn pose_loop(r: &SMatrix<f32, 3, 3>, t: &SVector<f32, 3>, p: &SMatrix<f32, 3, 8>, q: &SMatrix<f32, 3, 8>) -> f32 {
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
    let ((value, dr, _), count) = allocations_in(|| pose_loop_grad(&r, &t, &p, &q));
    assert_eq!(count, 0, "the fixed-size loop's gradient allocated");
    assert_eq!(value, pose_loop(&r, &t, &p, &q));
    assert!(dr.norm() > 0.0);

    let w = SMatrix::<f64, 3, 3>::from_fn(|i, j| 0.3 * (i as f64 - j as f64) + 0.5 * (i == j) as u8 as f64);
    let h0 = SVector::<f64, 3>::new(0.5, -0.4, 0.3);
    let gate = [true, false, true, true, false, true];
    let ((value, dw), count) = allocations_in(|| recurrence_grad(&w, &h0, gate));
    assert_eq!(count, 0, "the fixed-size recurrence's gradient allocated");
    assert!(common::same_value(value, recurrence(&w, &h0, gate)));
    let check = matgrad::check_gradient(|w: &SMatrix<f64, 3, 3>| recurrence(w, &h0, gate), &w, &dw, 1e-6, 1e-7);
    assert!(check.ok, "{check:?}");
}

/// Early exits in bounded loops over fixed sizes: a fixed-point iteration leaving with `break`
/// once it settles, an early `return` from inside the loop, `continue`, and a walk over the
/// columns of the parameter. The tapes are arrays and a count: no heap.
#[differentiate(wrt(w))]
fn settle(w: &SMatrix<f32, 3, 3>, v: &SVector<f32, 3>, cap: f32) -> f32 {
    let mut u = *v;
    for _ in 0..32 {
        let next = (w * u).map(|x| 0.5 * x.tanh()) + v;
        if (next - u).norm() < 1e-6 {
            break;
        }
        u = next;
        if u.norm_squared() > cap {
            return u.norm_squared();
        }
    }
    let mut s = 0.0f32;
    for (j, c) in w.column_iter().enumerate() {
        if j == 1 {
            continue;
        }
        s += c.dot(&u);
    }
    s
}

#[test]
fn fixed_size_early_exits_do_not_allocate() {
    let w = SMatrix::<f32, 3, 3>::from_fn(|i, j| 0.2 * (i as f32 - j as f32) + 0.3 * (i == j) as u8 as f32);
    let v = SVector::<f32, 3>::new(0.5, -0.4, 0.3);
    for cap in [1e9f32, 0.3] {
        let ((value, dw), count) = allocations_in(|| settle_grad(&w, &v, cap));
        assert_eq!(count, 0, "the fixed-size loop with exits allocated (cap {cap})");
        assert_eq!(value, settle(&w, &v, cap));
        assert!(dw.norm() > 0.0);
    }
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

/// A fixed-size model held in a struct: its gradient, a struct of the same type, is built
/// without the heap (`zero_like` and the field slots included), and so are the trait's
/// operations an optimiser uses. f = w ‖R P + t1ᵀ − Q‖² ⇒ R̄ = 2w E Pᵀ, t̄ = 2w E 1 (= E Pᵀ, E 1
/// at w = ½).
#[derive(Clone, Copy, matgrad::Differentiable)]
struct Pose {
    r: SMatrix<f64, 3, 3>,
    t: SVector<f64, 3>,
    #[differentiable(skip)]
    weight: f64,
}

#[differentiate(wrt(m))]
fn pose_struct(m: &Pose, p: &SMatrix<f64, 3, 8>, q: &SMatrix<f64, 3, 8>) -> f64 {
    let ones = SMatrix::<f64, 1, 8>::from_element(1.0);
    m.weight * (m.r * p + m.t * ones - q).norm_squared()
}

#[test]
fn fixed_size_struct_grad_does_not_allocate() {
    use matgrad::Differentiable;
    let m = Pose { r: SMatrix::identity(), t: SVector::<f64, 3>::new(0.1, -0.2, 0.3), weight: 0.5 };
    let p = SMatrix::<f64, 3, 8>::from_fn(|i, j| ((i * 8 + j) % 5) as f64 * 0.3 - 0.6);
    let q = SMatrix::<f64, 3, 8>::from_fn(|i, j| ((i + 3 * j) % 7) as f64 * 0.2 - 0.5);
    let ((value, dm), count) = allocations_in(|| pose_struct_grad(&m, &p, &q));
    assert_eq!(count, 0, "the fixed-size struct gradient allocated");
    assert_eq!(value, pose_struct(&m, &p, &q));
    let e = m.r * p + m.t * SMatrix::<f64, 1, 8>::from_element(1.0) - q;
    assert!((dm.r - e * p.transpose()).norm() < 1e-12);
    assert!((dm.t - e.column_sum()).norm() < 1e-12);
    assert_eq!(dm.weight, 0.5);
    let (_, count) = allocations_in(|| {
        let mut step = m.zero_like();
        step.add_scaled(-0.1, &dm);
        Differentiable::scale(&mut step, 0.5);
        let mut flat = [0.0; 12];
        step.write_flat(&mut flat);
        (Differentiable::dot(&step, &dm), step.from_flat(&flat))
    });
    assert_eq!(count, 0, "the trait's operations on a fixed-size struct allocated");
}
