//! Reductions, extrema, views, diagonal, Kronecker products, and the broadcasting and loss
//! helpers, through `#[differentiate]`: central differences on square, tall, wide, 1×1 and 1×n
//! shapes, closed forms where they are short, and the documented tie-breaking of extrema.
// nalgebra's own `stack!` expands to `let ref …` in the functions below.
#![allow(clippy::toplevel_ref_arg)]

mod common;

use common::{assert_close, assert_fd, mat, SHAPES};
use matgrad::{check_gradient, differentiate};
use nalgebra::{DMatrix, DVector, RowDVector, SMatrix};

/// f(X) = ⟨u, row_sum X⟩ + ⟨v, column_sum X⟩ + 3 mean X + ⟨u, row_mean X⟩ + ⟨v, column_mean X⟩
/// ∂f/∂X = 1u + v1ᵀ + 3/(mn) + 1u/m + v1ᵀ/n
#[differentiate(wrt(x))]
fn sums(x: &DMatrix<f64>, u: &RowDVector<f64>, v: &DVector<f64>) -> f64 {
    x.row_sum().dot(u) + x.column_sum().dot(v) + 3.0 * x.mean() + x.row_mean().dot(u) + x.column_mean().dot(v)
}

#[test]
fn row_and_column_reductions() {
    for &(r, c) in SHAPES {
        let x = mat(r, c, 1);
        let u = RowDVector::from_fn(c, |_, j| 1.0 + j as f64);
        let v = DVector::from_fn(r, |i, _| 0.5 - i as f64);
        let (_, dx) = sums_grad(&x, &u, &v);
        let (m, n) = (r as f64, c as f64);
        let want = DMatrix::from_fn(r, c, |i, j| u[j] * (1.0 + 1.0 / m) + v[i] * (1.0 + 1.0 / n) + 3.0 / (m * n));
        assert_close(&dx, &want, 1e-12);
        assert_fd(|x: &DMatrix<f64>| sums(x, &u, &v), &x, &dx, 1e-7);
    }
}

/// f(X, Y) = 2 max X − min X + amax X + ⟨W, sup(X, Y)⟩ + ⟨W, inf(X, Y)⟩ ² …
#[differentiate]
fn extrema(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let s = x.sup(y);
    let i = x.inf(y);
    2.0 * x.max() - x.min() + x.amax() + s.norm_squared() + 3.0 * i.sum()
}

#[test]
fn extrema_match_differences() {
    for &(r, c) in SHAPES {
        let (x, y) = (mat(r, c, 2), mat(r, c, 3));
        let (_, dx, dy) = extrema_grad(&x, &y);
        assert_fd(|x: &DMatrix<f64>| extrema(x, &y), &x, &dx, 1e-6);
        assert_fd(|y: &DMatrix<f64>| extrema(&x, y), &y, &dy, 1e-6);
    }
}

/// Ties: `max`, `min` and `amax` send all of s̄ to the first extremal entry (column-major);
/// `sup`/`inf` send Ḡ to the left operand; `amax` at 0 gives 0.
#[differentiate]
fn ties(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    x.max() + 10.0 * x.min() + 100.0 * x.sup(y).sum() + 1000.0 * x.inf(y).sum()
}

#[differentiate]
fn amax_only(x: &DMatrix<f64>) -> f64 {
    x.amax()
}

#[test]
fn extrema_at_ties() {
    let x = DMatrix::from_row_slice(2, 2, &[1.0, 3.0, 3.0, -2.0]);
    let y = x.clone();
    let (_, dx, dy) = ties_grad(&x, &y);
    // max 3 first at (1, 0) (column-major), min −2 at (1, 1); sup and inf all to x
    assert_close(&dx, &DMatrix::from_row_slice(2, 2, &[1100.0, 1100.0, 1101.0, 1110.0]), 0.0);
    assert_close(&dy, &DMatrix::zeros(2, 2), 0.0);
    let (_, d0) = amax_only_grad(&DMatrix::zeros(2, 3));
    assert_close(&d0, &DMatrix::zeros(2, 3), 0.0);
    let (_, dn) = amax_only_grad(&DMatrix::from_row_slice(1, 3, &[1.0, -4.0, 4.0]));
    assert_close(&dn, &DMatrix::from_row_slice(1, 3, &[0.0, -1.0, 0.0]), 0.0);
}

/// f(X) = ‖row 0‖² + ⟨w, column c−1⟩ + ‖rows(0, r)‖ + sum(columns(0, 1)) + ‖view‖² + ‖diag‖²
#[differentiate(wrt(x))]
fn views(x: &DMatrix<f64>, i: usize, j: &usize) -> f64 {
    let r = x.row(i);
    let c = x.column(*j);
    let rs = x.rows(0, 1);
    let cs = x.columns(0, 1);
    let v = x.view((0, 0), (1, 1));
    r.norm_squared() + 2.0 * c.sum() + rs.norm() + 3.0 * cs.sum() + v.norm_squared()
}

#[test]
fn views_match_differences() {
    for &(r, c) in SHAPES {
        let x = mat(r, c, 4) + DMatrix::from_element(r, c, 0.1);
        let (i, j) = (r - 1, c - 1);
        let (_, dx) = views_grad(&x, i, &j);
        assert_fd(|x: &DMatrix<f64>| views(x, i, &j), &x, &dx, 1e-6);
    }
}

/// f(X, d) = ‖diag X‖² + ⟨W, diag(d)⟩ + ⟨K, X ⊗ B⟩ + ⟨K', A ⊗ X⟩
#[differentiate(wrt(x, d))]
fn diag_kron(x: &DMatrix<f64>, d: &DVector<f64>, b: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let dm = DMatrix::from_diagonal(d);
    let k1 = x.kronecker(b);
    let k2 = b.kronecker(x);
    x.diagonal().norm_squared() + dm.dot(w) + k1.norm_squared() + k2.sum()
}

#[test]
fn diagonal_and_kronecker() {
    for &n in &[1, 2, 3] {
        for &(p, q) in &[(2, 3), (1, 1), (3, 1)] {
            let (x, d, b, w) = (mat(n, n, 5), DVector::from_fn(n, |i, _| i as f64 - 0.3), mat(p, q, 6), mat(n, n, 7));
            let (_, dx, dd) = diag_kron_grad(&x, &d, &b, &w);
            assert_fd(|x: &DMatrix<f64>| diag_kron(x, &d, &b, &w), &x, &dx, 1e-6);
            let dd = DMatrix::from_column_slice(n, 1, dd.as_slice());
            let dm = DMatrix::from_column_slice(n, 1, d.as_slice());
            assert_fd(
                |d: &DMatrix<f64>| diag_kron(&x, &DVector::from_column_slice(d.as_slice()), &b, &w),
                &dm,
                &dd,
                1e-6,
            );
        }
    }
}

/// f(X) = ‖X[idx, :]‖² + sum(X[:, jdx] ⊙ W) + ‖reshape(X)‖ + sum(X[[0, 0], :]), with repeated
/// indices
#[differentiate(wrt(x))]
fn select_reshape(x: &DMatrix<f64>, idx: &[usize], jdx: &Vec<usize>, w: &DMatrix<f64>) -> f64 {
    let r = x.select_rows(idx);
    let c = x.select_columns(jdx);
    let flat = x.clone().reshape_generic(nalgebra::Dyn(1), nalgebra::Dyn(x.len()));
    let rows2 = x.select_rows(&[0, 0]);
    r.norm_squared() + c.component_mul(w).sum() + flat.norm() + rows2.sum()
}

#[test]
fn select_and_reshape_match_differences() {
    for &(r, c) in SHAPES {
        let x = mat(r, c, 31) + DMatrix::from_element(r, c, 0.2);
        let idx = [r - 1, 0, r - 1];
        let jdx = vec![0, c - 1, 0, 0];
        let w = mat(r, 4, 32);
        let (_, dx) = select_reshape_grad(&x, &idx, &jdx, &w);
        assert_fd(|x: &DMatrix<f64>| select_reshape(x, &idx, &jdx, &w), &x, &dx, 1e-6);
    }
}

/// Fixed views with a turbofish on a static matrix:
/// f(X) = ‖X[0..2, 1..3]‖² + sum(X[1, :]) · 2 + ⟨1, X[:, 2..4]⟩ and a reshape 2×6 → 3×4
#[differentiate]
fn fixed_views<T: nalgebra::RealField + Copy>(x: &SMatrix<T, 2, 6>) -> T {
    let v = x.fixed_view::<2, 2>(0, 1);
    let r = x.fixed_rows::<1>(1);
    let c = x.fixed_columns::<2>(2);
    let m = x.reshape_generic(nalgebra::Const::<3>, nalgebra::Const::<4>);
    v.norm_squared() + (r.sum() + r.sum()) + c.sum() + m.row(2).norm_squared()
}

#[test]
fn fixed_views_in_f64_and_f32() {
    let x = SMatrix::<f64, 2, 6>::from_fn(|i, j| 0.3 * i as f64 - 0.2 * j as f64 + 0.05 * (i * j) as f64);
    let (_, dx) = fixed_views_grad(&x);
    // closed form: 2X on the 2×2 view, +2 on row 1, +1 on columns 2..4, 2X on the entries
    // that land in row 2 of the 3×4 reshape (column-major: linear indices 2, 5, 8, 11)
    let mut want = SMatrix::<f64, 2, 6>::zeros();
    for i in 0..2 {
        for j in 1..3 {
            want[(i, j)] += 2.0 * x[(i, j)];
        }
        for j in 2..4 {
            want[(i, j)] += 1.0;
        }
    }
    for j in 0..6 {
        want[(1, j)] += 2.0;
    }
    for k in [2, 5, 8, 11] {
        want[k] += 2.0 * x[k];
    }
    assert!((dx - want).norm() < 1e-12, "{dx}{want}");
    let x32 = x.map(|v| v as f32);
    let (_, dx32) = fixed_views_grad(&x32);
    assert!(check_gradient(fixed_views::<f32>, &x32, &dx32, 1e-2, 1e-2).ok);
}

// ---------------------------------------------------------------- broadcasting and losses

/// A softmax classifier: f(W, b) = cross_entropy(X W + 1b, Y) + ‖softmax_rows(Z)‖² + Σ lse(Z)
/// + ‖Z + c1ᵀ‖²
#[differentiate(wrt(w, b, c))]
fn classifier(w: &DMatrix<f64>, b: &RowDVector<f64>, c: &DVector<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = matgrad::add_row_vector(&(x * w), b);
    let p = matgrad::softmax_rows(&z);
    let l = ::matgrad::logsumexp_rows(&z);
    let zc = matgrad::add_column_vector(&z, c);
    matgrad::cross_entropy(&z, y) + p.norm_squared() + l.sum() + zc.norm_squared()
}

#[test]
fn broadcasting_and_losses_match_differences() {
    for &(m, k, n) in &[(5, 3, 4), (1, 1, 1), (1, 4, 3), (3, 2, 1)] {
        let (w, x) = (mat(k, n, 8), mat(m, k, 9));
        let b = RowDVector::from_fn(n, |_, j| 0.2 * j as f64);
        let c = DVector::from_fn(m, |i, _| 0.1 - 0.3 * i as f64);
        let y = DMatrix::from_fn(m, n, |i, j| if j == i % n { 1.0 } else { 0.0 });
        let (v, dw, db, dc) = classifier_grad(&w, &b, &c, &x, &y);
        assert_eq!(v, classifier(&w, &b, &c, &x, &y));
        assert_fd(|w: &DMatrix<f64>| classifier(w, &b, &c, &x, &y), &w, &dw, 1e-6);
        let f = |b: &RowDVector<f64>| classifier(&w, b, &c, &x, &y);
        assert!(check_gradient(f, &b, &db, 1e-6, 1e-6).ok);
        let f = |c: &DVector<f64>| classifier(&w, &b, c, &x, &y);
        assert!(check_gradient(f, &c, &dc, 1e-6, 1e-6).ok);
    }
}

/// The cross-entropy's closed form: ∂/∂Z = (softmax(Z) − Y)/m for one-hot Y.
#[differentiate(wrt(z))]
fn ce(z: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    matgrad::cross_entropy(z, y)
}

#[test]
fn cross_entropy_closed_form_and_stability() {
    let z = DMatrix::from_row_slice(2, 3, &[1000.0, 0.0, -1000.0, 1.0, 2.0, 3.0]);
    let y = DMatrix::from_row_slice(2, 3, &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let (v, dz) = ce_grad(&z, &y);
    assert!(v.is_finite());
    assert_close(&dz, &((matgrad::softmax_rows(&z) - &y) / 2.0), 1e-12);
    assert!((matgrad::logsumexp_rows(&z)[0] - 1000.0).abs() < 1e-12);
}

/// Static sizes and f32: f(X) = ‖row_sum X‖² + max X + ‖softmax_rows(X)‖² + sum(X ⊗ X)
#[differentiate]
fn fixed<T: nalgebra::RealField + Copy>(x: &SMatrix<T, 2, 3>) -> T {
    let p = matgrad::softmax_rows(x);
    let k = x.kronecker(x);
    x.row_sum().norm_squared() + x.max() + p.norm_squared() + k.sum() + x.column(1).sum()
}

#[test]
fn fixed_sizes_in_f64_and_f32() {
    let x = SMatrix::<f64, 2, 3>::from_fn(|i, j| 0.3 * i as f64 - 0.7 * j as f64 + 0.1);
    let (_, dx) = fixed_grad(&x);
    assert!(check_gradient(fixed::<f64>, &x, &dx, 1e-6, 1e-6).ok);
    let x32 = x.map(|v| v as f32);
    let (_, dx32) = fixed_grad(&x32);
    assert!(check_gradient(fixed::<f32>, &x32, &dx32, 1e-2, 2e-2).ok);
}

// ---------------------------------------------------------------- every rule, f32 and f64, dynamic and static

/// Every reduction, view, structural and loss rule in one function, stamped out for `DMatrix`
/// and `SMatrix` of several shapes, checked against central differences in f64 and f32.
macro_rules! structure_sweep {
    ($name:ident, $m:ty, $row:ty, $col:ty, $k:ty) => {
        #[differentiate(wrt(x, y, u, v, k))]
        fn $name<T: nalgebra::RealField + Copy>(x: &$m, y: &$m, u: &$row, v: &$col, k: &$k) -> T {
            let t1 = x.row_sum().dot(u) + x.column_sum().dot(v) + x.mean() + x.row_mean().dot(u);
            let t2 = x.column_mean().dot(v) + x.max() + y.min() + x.amax();
            let t3 = x.sup(y).norm_squared() + x.inf(y).sum() + x.row(0).norm_squared() + x.column(0).sum();
            let t4 = x.rows(0, 1).norm() + x.columns(0, 1).sum() + x.view((0, 0), (1, 1)).sum();
            let t5 = x.select_rows(&[0, 0]).sum() + x.select_columns(&[0]).norm_squared();
            let t6 = x.kronecker(k).norm_squared() + k.kronecker(y).sum();
            let t7 = matgrad::softmax_rows(x).norm_squared() + matgrad::logsumexp_rows(y).sum();
            let t8 = matgrad::cross_entropy(x, y) + matgrad::add_row_vector(x, u).norm_squared();
            t1 + t2 + t3 + t4 + t5 + t6 + t7 + t8 + matgrad::add_column_vector(y, v).norm_squared()
        }
    };
}

structure_sweep!(st_dyn, DMatrix<T>, RowDVector<T>, DVector<T>, DMatrix<T>);
structure_sweep!(st_3x3, SMatrix<T, 3, 3>, nalgebra::RowSVector<T, 3>, nalgebra::SVector<T, 3>, SMatrix<T, 2, 1>);
structure_sweep!(st_4x2, SMatrix<T, 4, 2>, nalgebra::RowSVector<T, 2>, nalgebra::SVector<T, 4>, SMatrix<T, 1, 3>);
structure_sweep!(st_2x4, SMatrix<T, 2, 4>, nalgebra::RowSVector<T, 4>, nalgebra::SVector<T, 2>, SMatrix<T, 2, 2>);
structure_sweep!(st_1x1, SMatrix<T, 1, 1>, nalgebra::RowSVector<T, 1>, nalgebra::SVector<T, 1>, SMatrix<T, 1, 1>);
structure_sweep!(st_1x4, SMatrix<T, 1, 4>, nalgebra::RowSVector<T, 4>, nalgebra::SVector<T, 1>, SMatrix<T, 3, 2>);

/// Checks `grad` against central differences in f64 (tight) or f32 (loose).
fn fd<V: matgrad::Perturb>(f: impl FnMut(&V) -> V::Scalar, x: &V, grad: &V::Adj, f32: bool) {
    let (h, tol) = if f32 { (1e-2, 3e-2) } else { (1e-6, 1e-6) };
    let check = check_gradient(f, x, grad, nalgebra::convert(h), nalgebra::convert(tol));
    assert!(check.ok, "{check:?}");
}

/// Inputs with distinct entries: on every shape of the sweep, `x` and `0.9 y` differ by more
/// than 0.045 entrywise, and so do the two largest entries of `x` and of `|x|` and the two
/// smallest of `y` (no kink of `sup`/`inf`/`max`/`min`/`amax` within the f32 step).
fn distinct(r: usize, c: usize, seed: u64) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |i, j| 3.25 * ((i * c + j) as f64) + 0.11 * seed as f64 - 0.5 * (i as f64)).map(|v| v.sin())
}

/// `m` converted to any float type and any (matching) static or dynamic shape.
fn to<T: matgrad::Real, R: nalgebra::Dim, C: nalgebra::Dim>(m: &DMatrix<f64>) -> nalgebra::OMatrix<T, R, C>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    let (r, c) = (R::from_usize(m.nrows()), C::from_usize(m.ncols()));
    nalgebra::OMatrix::from_iterator_generic(r, c, m.iter().map(|&v| nalgebra::convert(v)))
}

macro_rules! check_sweep {
    ($f:ident, $g:ident, $t:ty, $r:expr, $c:expr, $kr:expr, $kc:expr) => {{
        let f32 = core::mem::size_of::<$t>() == 4;
        let x = to(&distinct($r, $c, 1));
        let y = to(&(distinct($r, $c, 2) * 0.9));
        let u = to(&distinct(1, $c, 3));
        let v = to(&distinct($r, 1, 4));
        let k = to(&distinct($kr, $kc, 5));
        let (_, dx, dy, du, dv, dk) = $g::<$t>(&x, &y, &u, &v, &k);
        fd(|x: &_| $f::<$t>(x, &y, &u, &v, &k), &x, &dx, f32);
        fd(|y: &_| $f::<$t>(&x, y, &u, &v, &k), &y, &dy, f32);
        fd(|u: &_| $f::<$t>(&x, &y, u, &v, &k), &u, &du, f32);
        fd(|v: &_| $f::<$t>(&x, &y, &u, v, &k), &v, &dv, f32);
        fd(|k: &_| $f::<$t>(&x, &y, &u, &v, k), &k, &dk, f32);
    }};
}

#[test]
fn every_structure_rule_dynamic_f64_and_f32() {
    for &(r, c) in SHAPES {
        check_sweep!(st_dyn, st_dyn_grad, f64, r, c, 2, 3);
        check_sweep!(st_dyn, st_dyn_grad, f32, r, c, 2, 3);
    }
}

macro_rules! static_structure {
    ($test:ident, $f:ident, $g:ident, $r:literal, $c:literal, $kr:literal, $kc:literal) => {
        #[test]
        fn $test() {
            check_sweep!($f, $g, f64, $r, $c, $kr, $kc);
            check_sweep!($f, $g, f32, $r, $c, $kr, $kc);
        }
    };
}

static_structure!(every_structure_rule_static_3x3, st_3x3, st_3x3_grad, 3, 3, 2, 1);
static_structure!(every_structure_rule_static_4x2, st_4x2, st_4x2_grad, 4, 2, 1, 3);
static_structure!(every_structure_rule_static_2x4, st_2x4, st_2x4_grad, 2, 4, 2, 2);
static_structure!(every_structure_rule_static_1x1, st_1x1, st_1x1_grad, 1, 1, 1, 1);
static_structure!(every_structure_rule_static_1x4, st_1x4, st_1x4_grad, 1, 4, 3, 2);

/// A row of −∞ logits: its log-sum-exp is −∞ and its gradient 0 (no NaN); other rows are
/// unaffected.
#[differentiate]
fn lse_sum(z: &DMatrix<f64>) -> f64 {
    matgrad::logsumexp_rows(z).sum()
}

#[test]
fn logsumexp_of_a_row_of_minus_infinity() {
    let z = DMatrix::from_row_slice(2, 2, &[f64::NEG_INFINITY, f64::NEG_INFINITY, 0.0, 0.0]);
    assert_eq!(matgrad::logsumexp_rows(&z)[0], f64::NEG_INFINITY);
    let (v, dz) = lse_sum_grad(&z);
    assert_eq!(v, f64::NEG_INFINITY);
    assert_eq!(dz, DMatrix::from_row_slice(2, 2, &[0.0, 0.0, 0.5, 0.5]));
}

/// A view borrows the matrix it views: the generated code must not move that matrix into a
/// later `+` while the view (or a view of it) is still read, in the forward or reverse pass.
/// f(A, B) = ‖(A + B)[0, 0..1]‖ + Σ(A + 2B) + Σ row 0 of (A + B)
#[differentiate]
fn views_outlive_moves(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let x = a + b;
    let r = x.row(0);
    let r2 = r.columns(0, 1);
    let y = &x + b;
    let k = r.sum();
    assert!(k.is_finite());
    r2.norm() + y.sum() + k
}

#[test]
fn views_keep_their_matrix_alive() {
    for &(r, c) in SHAPES {
        let (a, b) = (mat(r, c, 60), mat(r, c, 61));
        let (_, da, db) = views_outlive_moves_grad(&a, &b);
        assert_fd(|a: &DMatrix<f64>| views_outlive_moves(a, &b), &a, &da, 1e-6);
        assert_fd(|b: &DMatrix<f64>| views_outlive_moves(&a, b), &b, &db, 1e-6);
    }
}

// ---------------------------------------------------------------- concatenation

/// nalgebra's `stack!`: f(A, B, C) = ⟨W, [A B; C Cᵣ] ⊙ [A B; C Cᵣ]⟩ + Σ[A; A], where the
/// block Cᵣ = C[:, ..c₂] is a view of C and A is used twice.
/// ∂/∂A = 2 W₁₁ ⊙ A + 2, ∂/∂B = 2 W₁₂ ⊙ B, ∂/∂C = 2 W₂₁ ⊙ C + [2 W₂₂ ⊙ Cᵣ, 0] (block by block).
#[differentiate]
fn concat(a: &DMatrix<f64>, b: &DMatrix<f64>, c: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let cr = c.columns(0, b.ncols());
    let m = nalgebra::stack![a, b; c, cr];
    let twice = nalgebra::stack![a; a];
    m.component_mul(&m).dot(w) + twice.sum()
}

#[test]
fn stack_matches_closed_form_and_differences() {
    for &(r1, r2, c1, c2) in &[(2, 3, 2, 1), (1, 1, 1, 1), (3, 2, 4, 1), (1, 4, 3, 2)] {
        let (a, b, c) = (mat(r1, c1, 70), mat(r1, c2, 71), mat(r2, c1, 72));
        let w = mat(r1 + r2, c1 + c2, 73);
        let (v, da, db, dc, _) = concat_grad(&a, &b, &c, &w);
        assert_eq!(v, concat(&a, &b, &c, &w));
        let want_a = w.view((0, 0), (r1, c1)).component_mul(&a) * 2.0 + DMatrix::from_element(r1, c1, 2.0);
        assert_close(&da, &want_a, 1e-12);
        assert_close(&db, &(w.view((0, c1), (r1, c2)).component_mul(&b) * 2.0), 1e-12);
        let mut want_c = w.view((r1, 0), (r2, c1)).component_mul(&c) * 2.0;
        let cr = c.columns(0, c2);
        want_c.columns_mut(0, c2).zip_apply(&(w.view((r1, c1), (r2, c2)).component_mul(&cr) * 2.0), |d, x| *d += x);
        assert_close(&dc, &want_c, 1e-12);
        assert_fd(|a: &DMatrix<f64>| concat(a, &b, &c, &w), &a, &da, 1e-7);
    }
}

/// Zero blocks in `stack!`, the zero's height from its block row, its width from its block
/// column: M = [A 0; 0 B; 0 C] (A r₁×c₁, B r₂×c₂, C r₃×c₂) and N = [0 A; C 0] (A, C as
/// above, so N's zeros are r₁×c₂ and r₃×c₁); f = ⟨W, M⟩ + ‖N‖².
/// ∂f/∂A = W[A's block] + 2A, ∂f/∂B = W[B's block], ∂f/∂C = W[C's block] + 2C.
#[differentiate(wrt(a, b, c))]
fn zero_blocks(a: &DMatrix<f64>, b: &DMatrix<f64>, c: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let m = nalgebra::stack![a, 0; 0, b; 0, c];
    let n = nalgebra::stack![0, a; c, 0];
    m.dot(w) + n.norm_squared()
}

#[test]
fn stack_with_zero_blocks() {
    for &(r1, r2, r3, c1, c2) in &[(2, 3, 1, 2, 1), (1, 1, 1, 1, 1), (3, 2, 2, 4, 3)] {
        let (a, b, c) = (mat(r1, c1, 80), mat(r2, c2, 81), mat(r3, c2, 82));
        let w = mat(r1 + r2 + r3, c1 + c2, 83);
        let (v, da, db, dc) = zero_blocks_grad(&a, &b, &c, &w);
        assert!((v - zero_blocks(&a, &b, &c, &w)).abs() < 1e-12);
        assert_close(&da, &(w.view((0, 0), (r1, c1)) + 2.0 * &a), 1e-12);
        assert_close(&db, &w.view((r1, c1), (r2, c2)).into_owned(), 1e-12);
        assert_close(&dc, &(w.view((r1 + r2, c1), (r3, c2)) + 2.0 * &c), 1e-12);
        assert_fd(|c: &DMatrix<f64>| zero_blocks(&a, &b, c, &w), &c, &dc, 1e-6);
    }
}

/// A zero block on static sizes: [X 0; 0 Y] with X 2×2, Y 1×3 (zeros 2×3 and 1×2), f = ‖·‖²,
/// ∂f/∂X = 2X, ∂f/∂Y = 2Y.
#[differentiate]
fn zero_blocks_fixed(x: &SMatrix<f64, 2, 2>, y: &SMatrix<f64, 1, 3>) -> f64 {
    let m = nalgebra::stack![x, 0; 0, y];
    m.norm_squared()
}

#[test]
fn stack_with_zero_blocks_on_static_sizes() {
    let x = SMatrix::<f64, 2, 2>::new(1.0, -2.0, 0.5, 3.0);
    let y = SMatrix::<f64, 1, 3>::new(0.1, 0.2, -0.3);
    let (v, dx, dy) = zero_blocks_fixed_grad(&x, &y);
    assert!((v - (x.norm_squared() + y.norm_squared())).abs() < 1e-12);
    assert_eq!((dx, dy), (x * 2.0, y * 2.0));
}

/// `stack!` on static sizes, f64 and f32: f(X, Y, Z) = ‖[X Y; Z₁ Z₂]‖² + Σ[X; X] (X 2×2, Y 2×3,
/// Z 1×5 split into the views Z₁ = Z[:, ..2], Z₂ = Z[:, 2..])
#[differentiate]
fn concat_fixed<T: nalgebra::RealField + Copy>(x: &SMatrix<T, 2, 2>, y: &SMatrix<T, 2, 3>, z: &SMatrix<T, 1, 5>) -> T {
    let z1 = z.fixed_columns::<2>(0);
    let z2 = z.fixed_columns::<3>(2);
    let m = nalgebra::stack![x, y; z1, z2];
    let xx = nalgebra::stack![x; x];
    m.norm_squared() + xx.sum()
}

#[test]
fn stack_on_static_sizes() {
    let x = SMatrix::<f64, 2, 2>::new(1.0, -2.0, 0.5, 3.0);
    let y = SMatrix::<f64, 2, 3>::from_fn(|i, j| i as f64 - 0.5 * j as f64);
    let z = SMatrix::<f64, 1, 5>::from_fn(|_, j| 0.25 * j as f64);
    let (v, dx, dy, dz) = concat_fixed_grad(&x, &y, &z);
    assert_eq!(v, concat_fixed(&x, &y, &z));
    assert_eq!(dx, x * 2.0 + SMatrix::<f64, 2, 2>::from_element(2.0));
    assert_eq!((dy, dz), (y * 2.0, z * 2.0));
    let (x, y, z) = (x.cast::<f32>(), y.cast::<f32>(), z.cast::<f32>());
    let (v, dx, _, _) = concat_fixed_grad(&x, &y, &z);
    assert_eq!(v, concat_fixed(&x, &y, &z));
    assert_eq!(dx, x * 2.0 + SMatrix::<f32, 2, 2>::from_element(2.0));
}

/// f(b) = ⟨A, M + 1b⟩: ∂f/∂b = 1ᵀA, the column sums of A (closed form), on column lengths that
/// exercise the eight partial sums of the bias adjoint (none, exactly one round, rounds and a
/// tail), in f64 and f32, dynamic and static.
#[differentiate(wrt(b))]
fn bias_dyn(m: &DMatrix<f64>, b: &RowDVector<f64>, a: &DMatrix<f64>) -> f64 {
    matgrad::add_row_vector(m, b).component_mul(a).sum()
}

#[differentiate(wrt(b))]
fn bias_f32(m: &SMatrix<f32, 19, 3>, b: &nalgebra::RowSVector<f32, 3>, a: &SMatrix<f32, 19, 3>) -> f32 {
    matgrad::add_row_vector(m, b).component_mul(a).sum()
}

#[test]
fn bias_gradient_is_the_column_sums() {
    for &(rows, cols) in &[(1, 3), (7, 2), (8, 1), (9, 4), (17, 3), (33, 5)] {
        let m = mat(rows, cols, 3);
        let a = DMatrix::from_fn(rows, cols, |i, j| 1.0 + (i * cols + j) as f64 * 0.25);
        let b = RowDVector::from_fn(cols, |_, j| 0.5 - j as f64);
        let (_, db) = bias_dyn_grad(&m, &b, &a);
        for j in 0..cols {
            let want: f64 = (0..rows).map(|i| 1.0 + (i * cols + j) as f64 * 0.25).sum();
            assert!((db[j] - want).abs() <= 1e-12 * want.abs(), "{rows}×{cols}, column {j}: {} vs {want}", db[j]);
        }
    }
    let m = SMatrix::<f32, 19, 3>::from_fn(|i, j| (i + 2 * j) as f32 * 0.1);
    let a = SMatrix::<f32, 19, 3>::from_fn(|i, j| 1.0 + (i * 3 + j) as f32 * 0.25);
    let b = nalgebra::RowSVector::<f32, 3>::new(0.5, -0.5, 1.5);
    let (_, db) = bias_f32_grad(&m, &b, &a);
    for j in 0..3 {
        let want: f32 = (0..19).map(|i| 1.0 + (i * 3 + j) as f32 * 0.25).sum();
        assert!((db[j] - want).abs() <= 1e-5 * want.abs(), "column {j}: {} vs {want}", db[j]);
    }
}
