//! In-place updates (issue 12) as new values computed from the old: the overwritten part of
//! the old value gets a zero adjoint. Every update on differentiated and constant targets, in
//! every position (function body, branch arm, loop body, nested loop, nested block), checked
//! against derivatives by hand and central differences.

mod common;

use common::{assert_close, assert_fd, mat, SHAPES};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, RowDVector};

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
}

// ---------------------------------------------------------------- entries

/// f(X, e) = ‖Y‖² with Y = X, Y₀₀ = e², Y₁₀ += 3e (X at least 2×1).
/// ∂f/∂X = 2Y with entry (0, 0) zeroed (overwritten), ∂f/∂e = 2Y₀₀·2e + 2Y₁₀·3.
#[differentiate]
fn entries(x: &DMatrix<f64>, e: f64) -> f64 {
    let mut y = x.clone();
    y[(0, 0)] = e * e;
    y[(1, 0)] += 3.0 * e;
    y.norm_squared()
}

#[test]
fn entry_assignment_and_compound_assignment() {
    for &(r, c) in SHAPES.iter().filter(|s| s.0 >= 2) {
        let (x, e) = (mat(r, c, 1), 0.7);
        let (value, dx, de) = entries_grad(&x, e);
        let mut y = x.clone();
        y[(0, 0)] = e * e;
        y[(1, 0)] += 3.0 * e;
        assert_eq!(value, y.norm_squared());
        let mut want = 2.0 * &y;
        want[(0, 0)] = 0.0;
        assert_close(&dx, &want, 1e-12);
        close(de, 2.0 * y[(0, 0)] * 2.0 * e + 2.0 * y[(1, 0)] * 3.0, 1e-12);
        assert_fd(|x: &DMatrix<f64>| entries(x, e), &x, &dx, 1e-6);
        assert_fd(|e: &f64| entries(&x, *e), &e, &de, 1e-7);
    }
}

/// A one-hot constant built in place, and a vector entry: f(v, s) = ⟨H, v vᵀ⟩ + (w·v) with
/// H = 0 except H₀₁ = 1 (constant), w = v with w₂ = s.
/// ∂f/∂v = (H + Hᵀ) v + w + (v with entry 2 zeroed)… written out: ∂/∂v = H v + Hᵀ v + w̃ + ṽ
/// where w̃ = w and ṽ = v with entry 2 replaced by 0; ∂f/∂s = v₂.
#[differentiate]
fn one_hot(v: &DVector<f64>, s: f64) -> f64 {
    let n = v.len();
    let mut h = DMatrix::zeros(n, n);
    h[(0, 1)] = 1.0;
    let mut w = v.clone();
    w[2] = s;
    (&h * v).dot(v) + w.dot(v)
}

#[test]
fn constant_built_in_place_and_vector_entry() {
    let (v, s) = (DVector::from_vec(vec![0.3, -1.2, 0.8, 2.0]), 1.5);
    let (value, dv, ds) = one_hot_grad(&v, s);
    assert_eq!(value, one_hot(&v, s));
    let mut h = DMatrix::zeros(4, 4);
    h[(0, 1)] = 1.0;
    let mut w = v.clone();
    w[2] = s;
    let mut vt = v.clone();
    vt[2] = 0.0;
    assert_close(&dv, &(&h * &v + h.transpose() * &v + &w + vt), 1e-12);
    close(ds, v[2], 1e-12);
    assert_fd(|v: &DVector<f64>| one_hot(v, s), &v, &dv, 1e-6);
}

// ---------------------------------------------------------------- in-place methods

/// Every in-place method on a differentiated target X (m×n, m, n ≥ 2), with a column c, a row
/// r and scalars s, t:
/// Y₁ = X ⊙ X (component_mul_assign), Y₂ = 2·Y₁ (scale_mut), Y₃ = Y₂ + t (add_scalar_mut),
/// Y₄ = Y₃ with column 1 := c, Y₅ = Y₄ with row 0 := r, Y₆ = Y₅ with rows 0, 1 swapped, Y₇ =
/// Y₆ with columns 0, 1 swapped, Y₈ = Y₇ with the diagonal := s, Y₉ = Y₈ + X, Y₁₀ = Y₉ − X ⊙ X;
/// f = ⟨W, Y₁₀⟩ for a constant W. The derivative is checked against central differences.
#[differentiate(wrt(x, c, r, s, t))]
fn methods(x: &DMatrix<f64>, c: &DVector<f64>, r: &RowDVector<f64>, s: f64, t: f64, w: &DMatrix<f64>) -> f64 {
    let mut y = x.clone();
    y.component_mul_assign(x);
    y.scale_mut(2.0);
    y.add_scalar_mut(t);
    y.set_column(1, c);
    y.set_row(0, r);
    y.swap_rows(0, 1);
    y.swap_columns(0, 1);
    y.fill_diagonal(s);
    y += x;
    y -= x.component_mul(x);
    y.dot(w)
}

#[test]
fn in_place_methods_on_a_differentiated_target() {
    for (m, n) in [(3, 3), (4, 2), (2, 5), (2, 2)] {
        let (x, w) = (mat(m, n, 2), mat(m, n, 3));
        let (c, r) = (DVector::from_fn(m, |i, _| 0.5 - i as f64), RowDVector::from_fn(n, |_, j| 0.2 * j as f64 + 0.1));
        let (s, t) = (0.4, -0.3);
        let (value, dx, dc, dr, ds, dt) = methods_grad(&x, &c, &r, s, t, &w);
        assert!((value - methods(&x, &c, &r, s, t, &w)).abs() < 1e-12);
        // By hand: trace W through the permutations back to Y₅ … (the swaps exchange rows 0, 1
        // and columns 0, 1 of W); the diagonal of the swapped W belongs to s.
        let mut wp = w.clone();
        wp.swap_columns(0, 1);
        wp.swap_rows(0, 1);
        let k = m.min(n);
        // s̄ = Σᵢ W_ii (the diagonal written last); t̄ = Σ of W̃ over entries never overwritten,
        // where W̃ is W permuted back with the diagonal (in Y₇'s coordinates) zeroed.
        let ds_want: f64 = (0..k).map(|i| w[(i, i)]).sum();
        close(ds, ds_want, 1e-12);
        let mut wd = w.clone();
        wd.fill_diagonal(0.0);
        wd.swap_columns(0, 1);
        wd.swap_rows(0, 1);
        // wd is now the adjoint of Y₅; row 0 belongs to r, then column 1 to c.
        assert_close(&dr, &wd.row(0).into_owned(), 1e-12);
        let mut w4 = wd.clone();
        w4.row_mut(0).fill(0.0);
        assert_close(&dc, &w4.column(1).into_owned(), 1e-12);
        let mut w3 = w4.clone();
        w3.column_mut(1).fill(0.0);
        close(dt, w3.sum(), 1e-12);
        // x̄ = 4 X ⊙ W₃ (through 2 X ⊙ X) + W − 2 X ⊙ W
        let dx_want = 4.0 * x.component_mul(&w3) + &w - 2.0 * x.component_mul(&w);
        assert_close(&dx, &dx_want, 1e-12);
        assert_fd(|x: &DMatrix<f64>| methods(x, &c, &r, s, t, &w), &x, &dx, 1e-6);
        assert_fd(|c: &DVector<f64>| methods(&x, c, &r, s, t, &w), &c, &dc, 1e-6);
        assert_fd(|r: &RowDVector<f64>| methods(&x, &c, r, s, t, &w), &r, &dr, 1e-6);
    }
}

/// `fill` and `fill_diagonal` on a constant, and `fill` on a differentiated matrix (whose old
/// value then gets a zero adjoint): f(X, s) = ⟨D, X⟩ + Σ F with D = I·s built in place
/// (zeros then fill_diagonal) and F = X then fill(s) (so F = s 11ᵀ).
/// ∂f/∂X = D = s I (F does not depend on X), ∂f/∂s = tr X + mn.
#[differentiate]
fn fills(x: &DMatrix<f64>, s: f64) -> f64 {
    let mut d = DMatrix::zeros(x.nrows(), x.ncols());
    d.fill_diagonal(s);
    let mut f = x.clone();
    f.fill(s);
    d.dot(x) + f.sum()
}

#[test]
fn fill_on_constants_and_on_differentiated_values() {
    for &(m, n) in SHAPES {
        let (x, s) = (mat(m, n, 4), 0.9);
        let (value, dx, ds) = fills_grad(&x, s);
        assert!((value - fills(&x, s)).abs() < 1e-12);
        let mut want = DMatrix::zeros(m, n);
        want.fill_diagonal(s);
        assert_close(&dx, &want, 1e-12);
        let tr: f64 = (0..m.min(n)).map(|i| x[(i, i)]).sum();
        close(ds, tr + (m * n) as f64, 1e-12);
        assert_fd(|s: &f64| fills(&x, *s), &s, &ds, 1e-7);
    }
}

/// A constant built in place with set_row and fill_diagonal (the "cannot borrow as mutable"
/// case): P = 0 with row 0 := 1ᵀ and diagonal := 2, f(X) = ⟨P, X⟩, ∂f/∂X = P.
#[differentiate]
fn constant_rows(x: &DMatrix<f64>) -> f64 {
    let mut p = DMatrix::zeros(x.nrows(), x.ncols());
    p.set_row(0, &RowDVector::from_element(x.ncols(), 1.0));
    p.fill_diagonal(2.0);
    p.swap_columns(0, x.ncols() - 1);
    p.dot(x)
}

#[test]
fn constants_built_in_place() {
    for &(m, n) in SHAPES {
        let x = mat(m, n, 5);
        let (_, dx) = constant_rows_grad(&x);
        let mut p = DMatrix::zeros(m, n);
        p.row_mut(0).fill(1.0);
        p.fill_diagonal(2.0);
        p.swap_columns(0, n - 1);
        assert_close(&dx, &p, 1e-12);
    }
}

// ---------------------------------------------------------------- every position

/// Updates in a branch arm, a loop body, a nested loop and a nested block, on a
/// differentiated Y and a constant Z: Y = X; if k > 1 { Y₀₀ = s } else { Y₀₀ += s; Y /= 2 };
/// for i { Yᵢ₀ += s·i; for j ≥ 1 { Yᵢⱼ *= 2 } }; { last column of Y := its first; diag := s² };
/// Z = 0, for i { Zᵢᵢ = s; at i = 1 swap Z's rows };  f = ‖Y‖² + Σ Z.
/// Checked against central differences, in both arms.
#[differentiate(wrt(x, s))]
fn positions(x: &DMatrix<f64>, s: f64, k: usize) -> f64 {
    let mut y = x.clone();
    if k > 1 {
        y[(0, 0)] = s;
    } else {
        y[(0, 0)] += s;
        y.scale_mut(0.5);
    }
    let m = y.nrows();
    let n = y.ncols();
    for i in 0..m {
        y[(i, 0)] += s * i as f64;
        for j in 1..n {
            y[(i, j)] *= 2.0;
        }
    }
    {
        let c = y.column(0).into_owned();
        y.set_column(y.ncols() - 1, &c);
        y.fill_diagonal(s * s);
    }
    let mut z = DMatrix::zeros(2, 2);
    for i in 0..2 {
        z[(i, i)] = s;
        if i == 1 {
            z.swap_rows(0, 1);
        }
    }
    y.norm_squared() + z.sum()
}

#[test]
fn updates_in_every_position() {
    for &(m, n) in &[(3, 3), (4, 2), (2, 5)] {
        for k in [0, 2] {
            let (x, s) = (mat(m, n, 6), 0.6);
            let (value, dx, ds) = positions_grad(&x, s, k);
            assert!((value - positions(&x, s, k)).abs() < 1e-12);
            assert_fd(|x: &DMatrix<f64>| positions(x, s, k), &x, &dx, 1e-6);
            assert_fd(|s: &f64| positions(&x, *s, k), &s, &ds, 1e-6);
        }
    }
}

/// f32, fixed size: Y = X (2×3); Y₀₁ = s; Y's row 1 := r; Y *= s (scale_mut); f = Σ Y
/// = s (s + Σⱼ≠₁ X₀ⱼ + Σ r).  ∂f/∂X = s at (0, 0) and (0, 2), 0 elsewhere; ∂f/∂r = s 1ᵀ;
/// ∂f/∂s = 2s + Σⱼ≠₁ X₀ⱼ + Σ r.
#[differentiate]
fn fixed32(x: &nalgebra::SMatrix<f32, 2, 3>, r: &nalgebra::RowVector3<f32>, s: f32) -> f32 {
    let mut y = *x;
    y[(0, 1)] = s;
    y.set_row(1, r);
    y.scale_mut(s);
    y.sum()
}

#[test]
fn fixed_size_f32_updates() {
    let x = nalgebra::SMatrix::<f32, 2, 3>::new(0.5, -1.0, 2.0, 0.3, 0.4, 0.6);
    let r = nalgebra::RowVector3::new(1.0f32, -2.0, 0.5);
    let s = 0.7f32;
    let (value, dx, dr, ds) = fixed32_grad(&x, &r, s);
    assert!((value - fixed32(&x, &r, s)).abs() < 1e-6);
    let want = nalgebra::SMatrix::<f32, 2, 3>::new(s, 0.0, s, 0.0, 0.0, 0.0);
    assert!((dx - want).abs().max() < 1e-6, "{dx}");
    assert!((dr - nalgebra::RowVector3::repeat(s)).abs().max() < 1e-6);
    assert!((ds - (2.0 * s + 0.5 + 2.0 + r.sum())).abs() < 1e-5, "{ds}");
}

/// In-place updates written without `;` at the end of an arm and of a block (their value is
/// `()`), and a `match` arm: P = 0; if k > 0 { P.fill_diagonal(s) } else { P.fill(s) };
/// match k { 0 => P.swap_rows(0, 1), _ => { P[(0, 1)] = 2s } }; f = ⟨W, P⟩.
/// k > 0: P = diag(s) with P₀₁ = 2s, f′ = tr W + 2W₀₁ over min(m, n) diagonal entries;
/// k = 0: P = s 11ᵀ with rows 0, 1 swapped, f′ = Σ W.
#[differentiate(wrt(s))]
fn tails(s: f64, k: usize, w: &DMatrix<f64>) -> f64 {
    let mut p = DMatrix::zeros(w.nrows(), w.ncols());
    if k > 0 {
        p.fill_diagonal(s)
    } else {
        p.fill(s)
    }
    match k {
        0 => p.swap_rows(0, 1),
        _ => {
            p[(0, 1)] = 2.0 * s;
        }
    }
    {
        p.scale_mut(1.0)
    }
    p.dot(w)
}

#[test]
fn updates_as_tail_expressions() {
    let w = mat(3, 4, 12);
    let (_, d1) = tails_grad(0.5, 1, &w);
    close(d1, w[(0, 0)] + w[(1, 1)] + w[(2, 2)] + 2.0 * w[(0, 1)], 1e-12);
    let (_, d0) = tails_grad(0.5, 0, &w);
    close(d0, w.sum(), 1e-12);
}
