//! Linear algebra through `#[differentiate]`: inverse, solves, determinants, Cholesky and LU
//! factorizations, symmetric eigenvalues and singular values, matrix powers. Each rule is
//! checked against central differences on several sizes, the Matrix Cookbook identities
//! against their closed forms, and the singular points against the documented values.

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::{check_gradient, differentiate};
use nalgebra::{DMatrix, DVector, SMatrix};

fn vector(n: usize, seed: u64) -> DVector<f64> {
    DVector::from_column_slice(mat(n, 1, seed).as_slice())
}

/// A well-conditioned n×n matrix (diagonally dominant).
fn regular(n: usize, seed: u64) -> DMatrix<f64> {
    mat(n, n, seed) + DMatrix::identity(n, n) * 3.0
}

/// A matrix with distinct singular values (`mat` alone is rank-deficient: its entries are
/// affine in i and j modulo a prime).
fn generic(r: usize, c: usize, seed: u64) -> DMatrix<f64> {
    mat(r, c, seed)
        + DMatrix::from_fn(r, c, |i, j| if i == j { 0.9 * (i + 1) as f64 } else { 0.1 * (i * j * j) as f64 })
}

/// A symmetric positive definite `a aᵀ + I`.
fn spd(a: &DMatrix<f64>) -> DMatrix<f64> {
    a * a.transpose() + DMatrix::identity(a.nrows(), a.nrows())
}

const SIZES: &[usize] = &[1, 2, 4];

// ---------------------------------------------------------------- inverse

/// f(X) = ⟨W, X⁻¹⟩ + ‖X⁻¹‖² (the inverse taken twice, with `unwrap` and `expect`)
#[differentiate(wrt(x))]
fn inverse(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let inv = x.clone().try_inverse().unwrap();
    let again = x.clone().try_inverse().expect("x is invertible");
    inv.dot(w) + again.norm_squared()
}

#[test]
fn try_inverse_matches_differences() {
    for &n in SIZES {
        let (x, w) = (regular(n, 1), mat(n, n, 2));
        let (v, dx) = inverse_grad(&x, &w);
        assert_eq!(v, inverse(&x, &w));
        assert_fd(|x: &DMatrix<f64>| inverse(x, &w), &x, &dx, 1e-6);
    }
}

/// Matrix Cookbook (61): ∂ tr(X⁻¹A)/∂X = −(X⁻¹AX⁻¹)ᵀ
#[differentiate(wrt(x))]
fn trace_inverse_a(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    let inv = x.clone().try_inverse().unwrap();
    (inv * a).trace()
}

#[test]
fn cookbook_trace_of_inverse() {
    for &n in SIZES {
        let (x, a) = (regular(n, 3), mat(n, n, 4));
        let (_, dx) = trace_inverse_a_grad(&x, &a);
        let xi = x.clone().try_inverse().unwrap();
        assert_close(&dx, &-(&xi * &a * &xi).transpose(), 1e-10);
    }
}

// ---------------------------------------------------------------- determinants

/// f(X) = det X
#[differentiate]
fn det(x: &DMatrix<f64>) -> f64 {
    x.determinant()
}

/// f(X) = ln det X
#[differentiate]
fn ln_det(x: &DMatrix<f64>) -> f64 {
    x.determinant().ln()
}

/// Matrix Cookbook (49), (51): ∂ det X/∂X = det(X) X⁻ᵀ, ∂ ln det X/∂X = X⁻ᵀ
#[test]
fn cookbook_determinants() {
    for &n in SIZES {
        let x = regular(n, 5);
        let xit = x.clone().try_inverse().unwrap().transpose();
        let (d, dx) = det_grad(&x);
        assert_close(&dx, &(&xit * d), 1e-10);
        assert_fd(det, &x, &dx, 1e-6);
        let (_, dl) = ln_det_grad(&x);
        assert_close(&dl, &xit, 1e-10);
        assert_fd(ln_det, &x, &dl, 1e-6);
    }
}

/// At a singular X the gradient of det is the cofactor matrix (continuous there):
/// X = [[1, 2], [2, 4]] has cof(X) = [[4, −2], [−2, 1]]; the zero 3×3 matrix has cofactors 0;
/// a rank-2 3×3 matrix has a rank-1 cofactor matrix, checked against differences.
#[test]
fn determinant_at_singular_matrices_is_the_cofactor_matrix() {
    let x = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]);
    let (d, dx) = det_grad(&x);
    assert_eq!(d, 0.0);
    assert_close(&dx, &DMatrix::from_row_slice(2, 2, &[4.0, -2.0, -2.0, 1.0]), 1e-12);
    let (_, dz) = det_grad(&DMatrix::zeros(3, 3));
    assert_close(&dz, &DMatrix::zeros(3, 3), 0.0);
    let a = mat(3, 2, 6);
    let x = &a * mat(2, 3, 7);
    let (_, dx) = det_grad(&x);
    assert!(dx.norm() > 1e-3);
    assert_fd(det, &x, &dx, 1e-5);
}

// ---------------------------------------------------------------- Cholesky

/// The Gaussian negative log-likelihood with S = a aᵀ + I, through one factorization used
/// three times: f(a) = ln det S + tr(S⁻¹ C) + ‖S⁻¹‖² + det S / 10 + ‖L‖²  (L = chol(S))
#[differentiate(wrt(a))]
fn chol_all(a: &DMatrix<f64>, c: &DMatrix<f64>, id: &DMatrix<f64>) -> f64 {
    let s = a * a.transpose() + id;
    let chol = s.cholesky().expect("S is positive definite");
    let sc = chol.solve(c);
    let inv = chol.inverse();
    let l = chol.l();
    chol.ln_determinant() + sc.trace() + inv.norm_squared() + chol.determinant() / 10.0 + l.norm_squared()
}

#[test]
fn cholesky_rules_match_differences() {
    for &(n, k) in &[(1, 1), (2, 3), (4, 2), (3, 3)] {
        let a = mat(n, k, 8);
        let c = spd(&mat(n, n, 9));
        let id = DMatrix::identity(n, n);
        let (v, da) = chol_all_grad(&a, &c, &id);
        assert_eq!(v, chol_all(&a, &c, &id));
        assert_fd(|a: &DMatrix<f64>| chol_all(a, &c, &id), &a, &da, 1e-6);
    }
}

/// ∂ ln det S/∂S = S⁻¹ and ∂ tr(S⁻¹C)/∂S = −sym(S⁻¹CS⁻¹) (S symmetric: the symmetric gradient)
#[differentiate(wrt(s))]
fn nll(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().unwrap();
    chol.ln_determinant() + chol.solve(c).trace()
}

#[test]
fn cholesky_closed_forms_are_symmetric() {
    for &n in SIZES {
        let s = spd(&mat(n, n, 10));
        let c = mat(n, n, 11); // not symmetric: the gradient is still symmetrized
        let (_, ds) = nll_grad(&s, &c);
        let si = s.clone().try_inverse().unwrap();
        let m = &si * &c * &si;
        assert_close(&ds, &(&si - (&m + m.transpose()) / 2.0), 1e-10);
    }
}

// ---------------------------------------------------------------- the trace of a solve, one shared inverse

/// f(A, B) = tr(A⁻¹B) through LU (nalgebra's trace takes square matrices only):
/// df = tr(−A⁻¹ dA X + A⁻¹ dB) with X = A⁻¹B, so ∂f/∂A = −A⁻ᵀ Xᵀ and ∂f/∂B = A⁻ᵀ.
#[differentiate(wrt(a, b))]
fn lu_trace(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let lu = a.clone().lu();
    lu.solve(b).expect("A is invertible").trace()
}

#[test]
fn lu_trace_of_a_solve_matches_closed_forms() {
    for &n in &[1, 3, 7] {
        let (a, b) = (regular(n, 40), mat(n, n, 41));
        let (v, da, db) = lu_trace_grad(&a, &b);
        assert_eq!(v, lu_trace(&a, &b));
        let ai = a.clone().try_inverse().unwrap();
        let x = &ai * &b;
        assert_close(&da, &-(ai.transpose() * x.transpose()), 1e-10);
        assert_close(&db, &ai.transpose(), 1e-10);
        assert_fd(|a: &DMatrix<f64>| lu_trace(a, &b), &a, &da, 1e-6);
        assert_fd(|b: &DMatrix<f64>| lu_trace(&a, b), &b, &db, 1e-6);
    }
}

/// The Gaussian's two readers of S⁻¹ in every position: in a loop body with the factor outside
/// (one inverse per iteration), in a branch arm, and ln det alone (its inverse computed in the
/// sweep). With S = AAᵀ + I (so that central differences in A see a symmetric S),
/// f(A) = Σₖ (k + 1)(ln det S + tr(S⁻¹C)) + [tr S > 0] ln det S:
/// ∂f/∂S = G = Σₖ (k + 1)(S⁻¹ − sym(S⁻¹CS⁻¹)) + S⁻¹ (symmetric), ∂f/∂A = (G + Gᵀ)A = 2GA.
#[differentiate(wrt(a))]
fn shared_inverse(a: &DMatrix<f64>, c: &DMatrix<f64>, id: &DMatrix<f64>, steps: usize) -> f64 {
    let s = a * a.transpose() + id;
    let chol = s.clone().cholesky().unwrap();
    let mut total = 0.0;
    for k in 0..steps {
        total += (k + 1) as f64 * (chol.ln_determinant() + chol.solve(c).trace());
    }
    if s.trace() > 0.0 {
        let inner = s.clone().cholesky().unwrap();
        total += inner.ln_determinant();
    }
    total
}

#[test]
fn shared_inverse_in_loops_and_branches() {
    for &n in &[1, 2, 3, 6, 7] {
        let (a, c, id) = (mat(n, n, 42), mat(n, n, 43), DMatrix::identity(n, n));
        let (v, da) = shared_inverse_grad(&a, &c, &id, 3);
        assert_eq!(v, shared_inverse(&a, &c, &id, 3));
        let si = spd(&a).try_inverse().unwrap();
        let m = &si * &c * &si;
        let g = (&si - (&m + m.transpose()) / 2.0) * 6.0 + &si;
        assert_close(&da, &(g * &a * 2.0), 1e-9);
        assert_fd(|a: &DMatrix<f64>| shared_inverse(a, &c, &id, 3), &a, &da, 1e-6);
    }
}

/// The same on fixed sizes in f32 and f64: f(S) = ln det S + tr(S⁻¹C), ∂f/∂S = S⁻¹ − sym(S⁻¹CS⁻¹).
#[differentiate(wrt(s))]
fn fixed_nll<T: nalgebra::RealField + Copy>(s: &SMatrix<T, 3, 3>, c: &SMatrix<T, 3, 3>) -> T {
    let chol = s.cholesky().unwrap();
    chol.ln_determinant() + chol.solve(c).trace()
}

#[test]
fn fixed_trace_of_a_solve_in_f64_and_f32() {
    let a = SMatrix::<f64, 3, 3>::from_fn(|i, j| 0.3 * i as f64 - 0.2 * j as f64 + if i == j { 1.0 } else { 0.0 });
    let s = a * a.transpose() + SMatrix::<f64, 3, 3>::identity();
    let c = SMatrix::<f64, 3, 3>::from_fn(|i, j| 0.1 * (i * 3 + j) as f64 - 0.3);
    let (v, ds) = fixed_nll_grad(&s, &c);
    assert_eq!(v, fixed_nll(&s, &c));
    let si = s.try_inverse().unwrap();
    let m = si * c * si;
    let want = si - (m + m.transpose()) / 2.0;
    assert!((ds - want).norm() < 1e-10 * want.norm());
    let (s32, c32) = (s.map(|v| v as f32), c.map(|v| v as f32));
    let (v32, ds32) = fixed_nll_grad(&s32, &c32);
    assert_eq!(v32, fixed_nll(&s32, &c32));
    assert!((ds32.map(|v| v as f64) - want).norm() < 1e-4 * want.norm());
}

/// The shared inverse from the factor (`S⁻¹ = L⁻ᵀL⁻¹`: `L⁻ᵀ` two columns at a time from the
/// columns before them read four at a time, then a product) and the symmetrized adjoints, on
/// every size from 1 to 17: odd and even, below and above the product kernel's limit (n > 5),
/// every count of columns modulo 4. ∂f/∂S = S⁻¹ − sym(S⁻¹CS⁻¹) (C not symmetric) against the
/// closed form, the value bit for bit.
#[test]
fn trace_of_a_solve_on_every_size() {
    for n in 1..=17 {
        let s = spd(&mat(n, n, 50));
        let c = mat(n, n, 51);
        let (v, ds) = nll_grad(&s, &c);
        assert_eq!(v, nll(&s, &c));
        let si = s.clone().try_inverse().unwrap();
        let m = &si * &c * &si;
        assert_close(&ds, &(&si - (&m + m.transpose()) / 2.0), 1e-10);
    }
}

/// The same through S = AAᵀ + I, against central differences in A (which see a symmetric S):
/// f(A) = ln det S + tr(S⁻¹C).
#[differentiate(wrt(a))]
fn nll_of_a(a: &DMatrix<f64>, c: &DMatrix<f64>, id: &DMatrix<f64>) -> f64 {
    let chol = (a * a.transpose() + id).cholesky().unwrap();
    chol.ln_determinant() + chol.solve(c).trace()
}

#[test]
fn trace_of_a_solve_matches_differences() {
    for n in [1, 2, 5, 6, 7, 9, 12] {
        let (a, c, id) = (mat(n, n, 52), mat(n, n, 53), DMatrix::identity(n, n));
        let (v, da) = nll_of_a_grad(&a, &c, &id);
        assert_eq!(v, nll_of_a(&a, &c, &id));
        assert_fd(|a: &DMatrix<f64>| nll_of_a(a, &c, &id), &a, &da, 1e-6);
    }
}

/// A solve against a non-square right-hand side beside `ln det` (the general solve rule, its
/// contribution symmetrized, and the shared inverse): f(S) = ln det S + ⟨W, S⁻¹B⟩ with B, W n×k,
/// ∂f/∂S = S⁻¹ − sym(S⁻¹WXᵀ), X = S⁻¹B.
#[differentiate(wrt(s))]
fn solve_rect(s: &DMatrix<f64>, b: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().unwrap();
    chol.ln_determinant() + chol.solve(b).dot(w)
}

#[test]
fn solve_of_a_non_square_right_hand_side_on_every_size() {
    for n in 1..=9 {
        for k in [1, 3, n + 2] {
            let (s, b, w) = (spd(&mat(n, n, 54)), mat(n, k, 55), mat(n, k, 56));
            let (v, ds) = solve_rect_grad(&s, &b, &w);
            assert_eq!(v, solve_rect(&s, &b, &w));
            let si = s.clone().try_inverse().unwrap();
            let m = &si * &w * (&si * &b).transpose();
            assert_close(&ds, &(&si - (&m + m.transpose()) / 2.0), 1e-10);
        }
    }
}

/// The trace of a solve on dynamic sizes in f32 and f64 (the product kernel's f32 path above 5).
#[differentiate(wrt(s))]
fn nll_dyn<T: nalgebra::RealField + Copy>(s: &DMatrix<T>, c: &DMatrix<T>) -> T {
    let chol = s.clone().cholesky().unwrap();
    chol.ln_determinant() + chol.solve(c).trace()
}

#[test]
fn trace_of_a_solve_in_f32_and_f64_on_dynamic_sizes() {
    for n in [1, 3, 6, 7, 16] {
        let (s, c) = (spd(&mat(n, n, 57)), mat(n, n, 58));
        let si = s.clone().try_inverse().unwrap();
        let m = &si * &c * &si;
        let want = &si - (&m + m.transpose()) / 2.0;
        let (v, ds) = nll_dyn_grad(&s, &c);
        assert_eq!(v, nll_dyn(&s, &c));
        assert_close(&ds, &want, 1e-10);
        let (s32, c32) = (s.map(|v| v as f32), c.map(|v| v as f32));
        let (v32, ds32) = nll_dyn_grad(&s32, &c32);
        assert_eq!(v32, nll_dyn(&s32, &c32));
        assert!((ds32.map(|v| v as f64) - &want).norm() < 1e-4 * want.norm(), "n = {n}");
    }
}

/// The same on fixed sizes 1×1 and 7×7 (no product kernel: the lower triangle of U Uᵀ mirrored).
#[differentiate(wrt(s))]
fn fixed_nll_1<T: nalgebra::RealField + Copy>(s: &SMatrix<T, 1, 1>, c: &SMatrix<T, 1, 1>) -> T {
    let chol = s.cholesky().unwrap();
    chol.ln_determinant() + chol.solve(c).trace()
}

#[differentiate(wrt(s))]
fn fixed_nll_7<T: nalgebra::RealField + Copy>(s: &SMatrix<T, 7, 7>, c: &SMatrix<T, 7, 7>) -> T {
    let chol = s.cholesky().unwrap();
    chol.ln_determinant() + chol.solve(c).trace()
}

#[test]
fn fixed_trace_of_a_solve_on_sizes_1_and_7() {
    let closed = |s: &DMatrix<f64>, c: &DMatrix<f64>| {
        let si = s.clone().try_inverse().unwrap();
        let m = &si * c * &si;
        &si - (&m + m.transpose()) / 2.0
    };
    let (s, c) = (SMatrix::<f64, 1, 1>::new(2.5), SMatrix::<f64, 1, 1>::new(-0.7));
    let (v, ds) = fixed_nll_1_grad(&s, &c);
    assert_eq!(v, fixed_nll_1(&s, &c));
    assert!((ds[0] - (0.4 + 0.7 * 0.16)).abs() < 1e-12);
    let (v32, ds32) = fixed_nll_1_grad(&s.map(|v| v as f32), &c.map(|v| v as f32));
    assert_eq!(v32, fixed_nll_1(&s.map(|v| v as f32), &c.map(|v| v as f32)));
    assert!((ds32[0] as f64 - ds[0]).abs() < 1e-6);
    let (s7, c7) = (spd(&mat(7, 7, 59)), mat(7, 7, 60));
    let want = closed(&s7, &c7);
    let (s, c) = (
        SMatrix::<f64, 7, 7>::from_iterator(s7.iter().copied()),
        SMatrix::<f64, 7, 7>::from_iterator(c7.iter().copied()),
    );
    let (v, ds) = fixed_nll_7_grad(&s, &c);
    assert_eq!(v, fixed_nll_7(&s, &c));
    assert!((DMatrix::from_iterator(7, 7, ds.iter().copied()) - &want).norm() < 1e-10 * want.norm());
    let (s32, c32) = (s.map(|v| v as f32), c.map(|v| v as f32));
    let (v32, ds32) = fixed_nll_7_grad(&s32, &c32);
    assert_eq!(v32, fixed_nll_7(&s32, &c32));
    assert!((DMatrix::from_iterator(7, 7, ds32.iter().map(|&v| v as f64)) - &want).norm() < 1e-4 * want.norm());
}

/// f(L, B) = ⟨W, L⁻¹B⟩ + ⟨V, U⁻¹B⟩ with U = Lᵀ's storage read as upper triangular
#[differentiate(wrt(l, b))]
fn triangular(l: &DMatrix<f64>, b: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let x = l.solve_lower_triangular(b).unwrap();
    let y = l.solve_upper_triangular(b).expect("nonzero diagonal");
    x.dot(w) + y.dot(w)
}

#[test]
fn triangular_solves_match_differences() {
    for &(n, k) in &[(1, 1), (3, 1), (3, 4), (4, 2)] {
        let (l, b, w) = (regular(n, 12), mat(n, k, 13), mat(n, k, 14));
        let (_, dl, db) = triangular_grad(&l, &b, &w);
        assert_fd(|l: &DMatrix<f64>| triangular(l, &b, &w), &l, &dl, 1e-6);
        assert_fd(|b: &DMatrix<f64>| triangular(&l, b, &w), &b, &db, 1e-6);
    }
}

// ---------------------------------------------------------------- LU

/// One LU factorization, two solves: f(A, B) = ⟨W, A⁻¹B⟩ + ‖A⁻¹B‖² + ‖A⁻¹ 2B‖²
#[differentiate(wrt(a, b))]
fn lu_solves(a: &DMatrix<f64>, b: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let lu = a.clone().lu();
    let x = lu.solve(b).unwrap();
    let b2 = b * 2.0;
    let y = lu.solve(&b2).expect("A is invertible");
    x.dot(w) + x.norm_squared() + y.norm_squared()
}

#[test]
fn lu_solve_matches_differences() {
    for &(n, k) in &[(1, 1), (3, 1), (3, 4), (4, 2)] {
        let (a, b, w) = (regular(n, 15), mat(n, k, 16), mat(n, k, 17));
        let (v, da, db) = lu_solves_grad(&a, &b, &w);
        assert_eq!(v, lu_solves(&a, &b, &w));
        assert_fd(|a: &DMatrix<f64>| lu_solves(a, &b, &w), &a, &da, 1e-6);
        assert_fd(|b: &DMatrix<f64>| lu_solves(&a, b, &w), &b, &db, 1e-6);
    }
}

// ---------------------------------------------------------------- spectra

/// f(A) = Σᵢ wᵢ λᵢ(A + Aᵀ) + Σᵢ wᵢ λᵢ(A + Aᵀ)³, both spellings (the order of the eigenvalues
/// matters: the `_grad`'s value must be the function's)
#[differentiate(wrt(a))]
fn eigen(a: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    let s = a + a.transpose();
    let l1 = s.symmetric_eigenvalues();
    let l2 = s.clone().symmetric_eigen().eigenvalues;
    l1.dot(w) + l2.map(|v| v.powi(3)).dot(w)
}

#[test]
fn symmetric_eigenvalues_match_differences() {
    for &n in SIZES {
        let (a, w) = (generic(n, n, 18), vector(n, 19));
        let (v, da) = eigen_grad(&a, &w);
        assert_eq!(v, eigen(&a, &w));
        assert_fd(|a: &DMatrix<f64>| eigen(a, &w), &a, &da, 1e-6);
    }
}

/// At a repeated eigenvalue (S = I) a function that treats the eigenvalues alike still has a
/// gradient: Σλ = tr S, so ∂/∂S = I.
#[differentiate]
fn eigen_sum(s: &DMatrix<f64>) -> f64 {
    s.symmetric_eigenvalues().sum()
}

#[test]
fn eigenvalues_at_a_repeated_eigenvalue() {
    let (_, ds) = eigen_sum_grad(&DMatrix::identity(3, 3));
    assert_close(&ds, &DMatrix::identity(3, 3), 1e-12);
}

/// Eigenvectors: f(A) = ⟨W, U diag(c) Uᵀ⟩ + Σᵢ (uᵢ · v)², S = (A + Aᵀ)/2 = U Λ Uᵀ, with constant
/// W, c (distinct entries) and v; both terms are independent of each vector's sign. By hand
/// (Giles 2008 §3.1): Ū = (W + Wᵀ) U diag(c) + 2 v (vᵀU), S̄ = sym(U (F ⊙ UᵀŪ) Uᵀ) with
/// Fᵢⱼ = 1/(λⱼ − λᵢ) (i ≠ j), and Ā = sym(S̄); checked against central differences.
#[differentiate(wrt(a))]
fn eigenvectors(a: &DMatrix<f64>, w: &DMatrix<f64>, c: &DVector<f64>, v: &DVector<f64>) -> f64 {
    let s = (a + a.transpose()) * 0.5;
    let u = s.symmetric_eigen().eigenvectors;
    let proj = &u * DMatrix::from_diagonal(c) * u.transpose();
    proj.dot(w) + (v.transpose() * &u).map(|x| x * x).sum()
}

#[test]
fn symmetric_eigenvectors_match_differences() {
    for &n in &[2, 3, 4] {
        let (a, w) = (generic(n, n, 22), mat(n, n, 23));
        let c = DVector::from_fn(n, |i, _| 1.0 + 0.7 * i as f64);
        let v = vector(n, 24);
        let (value, da) = eigenvectors_grad(&a, &w, &c, &v);
        assert_eq!(value, eigenvectors(&a, &w, &c, &v));
        assert_fd(|a: &DMatrix<f64>| eigenvectors(a, &w, &c, &v), &a, &da, 1e-6);
    }
}

/// At a repeated eigenvalue (S = diag(1, 1, 3)) the vectors of the repeated one are not unique
/// and their derivative is infinite: the gradient is not finite there (documented), even for
/// f = ⟨W, U diag(2, 2, 5) Uᵀ⟩, which treats them alike. It is never a silently wrong number.
#[differentiate(wrt(a))]
fn projector(a: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let s = (a + a.transpose()) * 0.5;
    let u = s.symmetric_eigen().eigenvectors;
    let c = DMatrix::from_diagonal(&DVector::from_vec(vec![2.0, 2.0, 5.0]));
    (&u * c * u.transpose()).dot(w)
}

#[test]
fn eigenvectors_at_a_repeated_eigenvalue() {
    let a = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 1.0, 3.0]));
    let w = mat(3, 3, 25);
    let (_, da) = projector_grad(&a, &w);
    assert!(da.iter().any(|x| !x.is_finite()), "{da}");
}

/// Eigenvectors of a fixed-size matrix: f(S) = (u₀ · e₀)² for S = (A + Aᵀ)/2 (Matrix3).
#[differentiate]
fn first_vector(a: &SMatrix<f64, 3, 3>) -> f64 {
    let s = (a + a.transpose()) * 0.5;
    let u = s.symmetric_eigen().eigenvectors;
    u[(0, 0)] * u[(0, 0)]
}

#[test]
fn fixed_size_eigenvectors() {
    let a = SMatrix::<f64, 3, 3>::from_fn(|i, j| if i == j { (i + 1) as f64 } else { 0.3 * (i + j) as f64 });
    let (_, da) = first_vector_grad(&a);
    let check = check_gradient(first_vector, &a, &da, 1e-6, 1e-6);
    assert!(check.ok, "{check:?}");
}

/// f(A) = Σᵢ wᵢ σᵢ(A) + Σᵢ wᵢ σᵢ(A)³, both spellings (in the same, descending order)
#[differentiate(wrt(a))]
fn singular(a: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    let s1 = a.singular_values();
    let s2 = a.clone().svd(true, true).singular_values;
    s1.dot(w) + s2.map(|v| v.powi(3)).dot(w)
}

#[test]
fn singular_values_match_differences() {
    for &(r, c) in &[(3, 3), (5, 2), (2, 4), (1, 1), (1, 4)] {
        let a = generic(r, c, 20);
        let w = vector(r.min(c), 21);
        let (v, da) = singular_grad(&a, &w);
        assert_eq!(v, singular(&a, &w));
        assert_fd(|a: &DMatrix<f64>| singular(a, &w), &a, &da, 1e-6);
    }
}

/// ‖σ(A)‖² = ‖A‖²_F: the gradient is 2A everywhere, also where singular values repeat (A = 0).
#[differentiate]
fn sigma_squared(a: &DMatrix<f64>) -> f64 {
    a.singular_values().norm_squared()
}

#[test]
fn singular_values_at_repeated_values() {
    for a in [DMatrix::zeros(3, 2), DMatrix::identity(3, 3), mat(2, 3, 22)] {
        let (_, da) = sigma_squared_grad(&a);
        assert_close(&da, &(&a * 2.0), 1e-10);
    }
}

// ---------------------------------------------------------------- powers

/// f(X) = ⟨W, X³⟩ + ⟨W, X⁰⟩ + ⟨W, X¹⟩
#[differentiate(wrt(x))]
fn powers(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    x.pow(3).dot(w) + x.pow(0).dot(w) + x.pow(1).dot(w)
}

#[test]
fn pow_matches_differences() {
    for &n in SIZES {
        let (x, w) = (mat(n, n, 23), mat(n, n, 24));
        let (_, dx) = powers_grad(&x, &w);
        assert_fd(|x: &DMatrix<f64>| powers(x, &w), &x, &dx, 1e-6);
    }
}

// ---------------------------------------------------------------- Cookbook, static sizes, f32

/// Matrix Cookbook (100), (111), (70): ∂ tr(AX)/∂X = Aᵀ, ∂ tr(XᵀAX)/∂X = (A + Aᵀ)X,
/// ∂ aᵀXb/∂X = abᵀ
#[differentiate(wrt(x))]
fn cookbook_traces(x: &DMatrix<f64>, a: &DMatrix<f64>, aa: &DMatrix<f64>, u: &DMatrix<f64>, v: &DMatrix<f64>) -> f64 {
    let t1 = (a * x).trace();
    let t2 = (x.transpose() * aa * x).trace();
    let t3 = u.dot(&(x * v));
    t1 + t2 + t3
}

#[test]
fn cookbook_trace_identities() {
    for &(r, c) in &[(3, 3), (4, 2), (2, 5)] {
        let x = mat(r, c, 25);
        let (a, aa, u, v) = (mat(c, r, 26), mat(r, r, 27), mat(r, 1, 28), mat(c, 1, 29));
        let (_, dx) = cookbook_traces_grad(&x, &a, &aa, &u, &v);
        let want = a.transpose() + (&aa + aa.transpose()) * &x + &u * v.transpose();
        assert_close(&dx, &want, 1e-10);
    }
}

/// The same rules on fixed sizes, generic over the float type:
/// f(X) = ln det(X) + tr(X⁻¹) + ln det(XXᵀ) via Cholesky + ⟨1, (XXᵀ)⁻¹ X⟩ via LU
#[differentiate(wrt(x))]
fn fixed<T: nalgebra::RealField + Copy>(x: &SMatrix<T, 3, 3>) -> T {
    let inv = x.try_inverse().unwrap();
    let s = x * x.transpose();
    let chol = s.cholesky().unwrap();
    let lu = s.lu();
    let y = lu.solve(x).unwrap();
    x.determinant().ln() + inv.trace() + chol.ln_determinant() + y.sum()
}

#[test]
fn fixed_sizes_in_f64_and_f32() {
    let x = SMatrix::<f64, 3, 3>::from_fn(|i, j| if i == j { 3.0 } else { 0.3 * (i as f64) - 0.2 * (j as f64) });
    let (_, dx) = fixed_grad(&x);
    let check = check_gradient(fixed::<f64>, &x, &dx, 1e-6, 1e-6);
    assert!(check.ok, "{check:?}");
    let x32 = x.map(|v| v as f32);
    let (_, dx32) = fixed_grad(&x32);
    let check = check_gradient(fixed::<f32>, &x32, &dx32, 1e-2, 2e-2);
    assert!(check.ok, "{check:?}");
    assert!((dx32.map(|v| v as f64) - dx).norm() < 1e-3 * dx.norm());
}

/// f32 on dynamic sizes: f(X) = ln det(X) + ‖eig(X + Xᵀ)‖² + Σσ(X)
#[differentiate]
fn dyn32(x: &DMatrix<f32>) -> f32 {
    let s = x + x.transpose();
    x.determinant().ln() + s.symmetric_eigenvalues().norm_squared() + x.singular_values().sum()
}

#[test]
fn dynamic_f32() {
    let x = regular(3, 30).map(|v| v as f32);
    let (_, dx) = dyn32_grad(&x);
    let check = check_gradient(dyn32, &x, &dx, 1e-2, 2e-2);
    assert!(check.ok, "{check:?}");
}

// ---------------------------------------------------------------- every rule, f32 and f64, dynamic and static

/// Every square linear-algebra rule in one function, stamped out for `DMatrix` and for
/// `SMatrix` of several sizes, and checked against central differences in f64 and f32:
/// f(X, B) = tr X⁻¹ + det X + ln det S + det S + tr S⁻¹ + ‖chol(S)‖² + Σ S⁻¹B (Cholesky)
/// + Σ X⁻¹B (LU) + Σ L⁻¹B + Σ U⁻¹B + max λ(S) + ‖λ(S)‖² + Σσ(X) + tr X³ + ‖diag X‖²
/// + Σ diag(diag X) B, with S = XXᵀ + I.
macro_rules! linalg_sweep {
    ($name:ident, $m:ty, $b:ty) => {
        #[differentiate(wrt(x, b))]
        fn $name<T: nalgebra::RealField + Copy>(x: &$m, b: &$b, id: &$m) -> T {
            let inv = x.clone_owned().try_inverse().unwrap();
            let s = x * x.transpose() + id;
            let chol = s.clone_owned().cholesky().expect("S is positive definite");
            let lu = x.clone_owned().lu();
            let y1 = chol.solve(b);
            let y2 = lu.solve(b).unwrap();
            let y3 = x.solve_lower_triangular(b).unwrap();
            let y4 = x.solve_upper_triangular(b).expect("nonzero diagonal");
            let eig = s.symmetric_eigenvalues();
            let sv = x.singular_values();
            let d = x.diagonal();
            let dm = nalgebra::OMatrix::from_diagonal(&d);
            let t1 = inv.trace() + x.determinant() + chol.ln_determinant() + chol.determinant();
            let t2 = chol.inverse().trace() + chol.l().norm_squared() + y1.sum() + y2.sum();
            let t3 = y3.sum() + y4.sum() + eig.max() + eig.norm_squared() + sv.sum();
            t1 + t2 + t3 + x.pow(3).trace() + d.norm_squared() + (dm * b).sum()
        }
    };
}

linalg_sweep!(sweep_dyn, DMatrix<T>, DMatrix<T>);
linalg_sweep!(sweep_1, SMatrix<T, 1, 1>, SMatrix<T, 1, 3>);
linalg_sweep!(sweep_2, SMatrix<T, 2, 2>, SMatrix<T, 2, 1>);
linalg_sweep!(sweep_3, SMatrix<T, 3, 3>, SMatrix<T, 3, 2>);

/// Checks `grad` against central differences in f64 (tight) or f32 (loose).
fn fd<V: matgrad::Perturb>(f: impl FnMut(&V) -> V::Scalar, x: &V, grad: &V::Adj, f32: bool) {
    let (h, tol) = if f32 { (2e-2, 3e-2) } else { (1e-6, 1e-6) };
    let check = check_gradient(f, x, grad, nalgebra::convert(h), nalgebra::convert(tol));
    assert!(check.ok, "{check:?}");
}

/// The sweep's inputs: X regular with distinct singular values, B.
fn sweep_inputs(n: usize, k: usize) -> (DMatrix<f64>, DMatrix<f64>) {
    (generic(n, n, 40) * 0.5 + DMatrix::identity(n, n) * 2.0, mat(n, k, 41))
}

#[test]
fn every_linalg_rule_dynamic_f64_and_f32() {
    for &(n, k) in &[(1, 1), (2, 3), (3, 1), (4, 2)] {
        let (x, b) = sweep_inputs(n, k);
        let id = DMatrix::identity(n, n);
        let (_, dx, db) = sweep_dyn_grad(&x, &b, &id);
        fd(|x: &DMatrix<f64>| sweep_dyn(x, &b, &id), &x, &dx, false);
        fd(|b: &DMatrix<f64>| sweep_dyn(&x, b, &id), &b, &db, false);
        let (x, b, id) = (x.map(|v| v as f32), b.map(|v| v as f32), id.map(|v| v as f32));
        let (_, dx, db) = sweep_dyn_grad(&x, &b, &id);
        fd(|x: &DMatrix<f32>| sweep_dyn(x, &b, &id), &x, &dx, true);
        fd(|b: &DMatrix<f32>| sweep_dyn(&x, b, &id), &b, &db, true);
    }
}

macro_rules! static_sweep {
    ($test:ident, $f:ident, $f_grad:ident, $n:literal, $k:literal) => {
        #[test]
        fn $test() {
            let (x, b) = sweep_inputs($n, $k);
            let x = SMatrix::<f64, $n, $n>::from_column_slice(x.as_slice());
            let b = SMatrix::<f64, $n, $k>::from_column_slice(b.as_slice());
            let id = SMatrix::<f64, $n, $n>::identity();
            let (_, dx, db) = $f_grad(&x, &b, &id);
            fd(|x: &SMatrix<f64, $n, $n>| $f(x, &b, &id), &x, &dx, false);
            fd(|b: &SMatrix<f64, $n, $k>| $f(&x, b, &id), &b, &db, false);
            let (x, b, id) = (x.cast::<f32>(), b.cast::<f32>(), id.cast::<f32>());
            let (_, dx, db) = $f_grad(&x, &b, &id);
            fd(|x: &SMatrix<f32, $n, $n>| $f(x, &b, &id), &x, &dx, true);
            fd(|b: &SMatrix<f32, $n, $k>| $f(&x, b, &id), &b, &db, true);
        }
    };
}

static_sweep!(every_linalg_rule_static_1x1, sweep_1, sweep_1_grad, 1, 3);
static_sweep!(every_linalg_rule_static_2x2, sweep_2, sweep_2_grad, 2, 1);
static_sweep!(every_linalg_rule_static_3x3, sweep_3, sweep_3_grad, 3, 2);

/// Singular values on non-square static and dynamic shapes, f32 and f64.
macro_rules! sv_sweep {
    ($name:ident, $m:ty) => {
        #[differentiate]
        fn $name<T: nalgebra::RealField + Copy>(x: &$m) -> T {
            let s = x.singular_values();
            s.max() + s.norm_squared() + s.sum()
        }
    };
}

sv_sweep!(sv_dyn, DMatrix<T>);
sv_sweep!(sv_tall, SMatrix<T, 4, 2>);
sv_sweep!(sv_wide, SMatrix<T, 2, 3>);
sv_sweep!(sv_row, SMatrix<T, 1, 4>);

#[test]
fn singular_values_every_shape_and_type() {
    for &(r, c) in &[(3, 3), (5, 2), (2, 4), (1, 1), (1, 4), (4, 1)] {
        let x = generic(r, c, 42);
        let (_, dx) = sv_dyn_grad(&x);
        fd(sv_dyn::<f64>, &x, &dx, false);
        let x = x.map(|v| v as f32);
        let (_, dx) = sv_dyn_grad(&x);
        fd(sv_dyn::<f32>, &x, &dx, true);
    }
    let x = SMatrix::<f64, 4, 2>::from_column_slice(generic(4, 2, 43).as_slice());
    let (_, dx) = sv_tall_grad(&x);
    fd(sv_tall::<f64>, &x, &dx, false);
    let (_, dx) = sv_tall_grad(&x.cast::<f32>());
    fd(sv_tall::<f32>, &x.cast::<f32>(), &dx, true);
    let x = SMatrix::<f64, 2, 3>::from_column_slice(generic(2, 3, 44).as_slice());
    let (_, dx) = sv_wide_grad(&x);
    fd(sv_wide::<f64>, &x, &dx, false);
    let (_, dx) = sv_wide_grad(&x.cast::<f32>());
    fd(sv_wide::<f32>, &x.cast::<f32>(), &dx, true);
    let x = SMatrix::<f64, 1, 4>::from_column_slice(generic(1, 4, 45).as_slice());
    let (_, dx) = sv_row_grad(&x);
    fd(sv_row::<f64>, &x, &dx, false);
    let (_, dx) = sv_row_grad(&x.cast::<f32>());
    fd(sv_row::<f32>, &x.cast::<f32>(), &dx, true);
}

// ---------------------------------------------------------------- LU determinant, quadform, singular inputs

/// f(A, B) = det A (through `lu()`) + ⟨W, quadform(A, B)⟩ = det A + ⟨W, BᵀAB⟩
/// ∂/∂A = det(A) A⁻ᵀ + B W Bᵀ,  ∂/∂B = A B Wᵀ + Aᵀ B W
#[differentiate]
fn lu_det_quadform(a: &DMatrix<f64>, b: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let lu = a.clone().lu();
    lu.determinant() + matgrad::quadform(a, b).dot(w)
}

#[test]
fn lu_determinant_and_quadform() {
    for &(n, k) in &[(1, 1), (3, 2), (2, 4), (4, 1)] {
        let (a, b, w) = (regular(n, 50), mat(n, k, 51), mat(k, k, 52));
        let (_, da, db, _) = lu_det_quadform_grad(&a, &b, &w);
        let d = a.determinant();
        let ait = a.clone().try_inverse().unwrap().transpose();
        assert_close(&da, &(ait * d + &b * &w * b.transpose()), 1e-10);
        assert_close(&db, &(&a * &b * w.transpose() + a.transpose() * &b * &w), 1e-10);
        assert_fd(|a: &DMatrix<f64>| lu_det_quadform(a, &b, &w), &a, &da, 1e-6);
    }
    // singular A through LU: the cofactor matrix, as for `determinant()` on the matrix
    let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]);
    let (b, w) = (DMatrix::zeros(2, 1), DMatrix::zeros(1, 1));
    let (_, da, _, _) = lu_det_quadform_grad(&a, &b, &w);
    assert_close(&da, &DMatrix::from_row_slice(2, 2, &[4.0, -2.0, -2.0, 1.0]), 1e-12);
}

/// A singular matrix has no inverse and a non-positive-definite one no Cholesky factor: the
/// `_grad` panics exactly where the function does, with the user's message.
#[differentiate]
fn inv_sum(x: &DMatrix<f64>) -> f64 {
    x.clone().try_inverse().expect("x must be invertible").sum()
}

#[differentiate]
fn chol_logdet(s: &DMatrix<f64>) -> f64 {
    s.clone().cholesky().expect("s must be positive definite").ln_determinant()
}

#[test]
#[should_panic(expected = "x must be invertible")]
fn inverse_of_a_singular_matrix_panics_like_the_function() {
    inv_sum_grad(&DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]));
}

#[test]
#[should_panic(expected = "s must be positive definite")]
fn cholesky_of_an_indefinite_matrix_panics_like_the_function() {
    chol_logdet_grad(&DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]));
}

/// The inverse through an LU factorization that also solves:
/// f(A, B) = ⟨W, A⁻¹⟩ + Σ A⁻¹B, one `lu()` for both; the closed form of the first term is
/// −A⁻ᵀ W A⁻ᵀ (as for `try_inverse()` on the matrix).
#[differentiate(wrt(a))]
fn lu_inverse(a: &DMatrix<f64>, b: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let lu = a.clone().lu();
    let inv = lu.try_inverse().expect("invertible");
    let x = lu.solve(b).unwrap();
    inv.dot(w) + x.sum()
}

#[test]
fn lu_try_inverse() {
    for &(n, k) in &[(1, 1), (3, 2), (4, 3)] {
        let (a, b, w) = (regular(n, 53), mat(n, k, 54), mat(n, n, 55));
        let (v, da) = lu_inverse_grad(&a, &b, &w);
        assert_eq!(v, lu_inverse(&a, &b, &w));
        assert_fd(|a: &DMatrix<f64>| lu_inverse(a, &b, &w), &a, &da, 1e-6);
        let (_, da0) = lu_inverse_grad(&a, &DMatrix::zeros(n, k), &w);
        let ait = a.clone().try_inverse().unwrap().transpose();
        let ones = DMatrix::from_element(n, k, 1.0);
        let ax = a.clone().lu().solve(&DMatrix::zeros(n, k)).unwrap();
        let want = -(&ait * &w * &ait) - &ait * ones * ax.transpose();
        assert_close(&da0, &want, 1e-10);
    }
}

/// ln det S + ⟨S⁻¹, C⟩ written with the inverse: the adjoint of `ln_determinant` reuses the
/// inverse the forward pass computed. ∂/∂S = S⁻¹ − S⁻¹CS⁻¹ (S, C symmetric).
#[differentiate(wrt(s))]
fn nll_with_inverse(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().expect("S is SPD");
    let ld = chol.ln_determinant();
    let inv = chol.inverse();
    ld + inv.dot(c)
}

#[test]
fn ln_determinant_reuses_the_forward_inverse() {
    for n in [1, 3, 6] {
        let a = DMatrix::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 5) as f64 * 0.2 - 0.3);
        let s = &a * a.transpose() + DMatrix::identity(n, n);
        let b = DMatrix::from_fn(n, n, |i, j| ((i + 2 * j) % 3) as f64 * 0.3);
        let c = &b * b.transpose();
        let (v, ds) = nll_with_inverse_grad(&s, &c);
        assert!((v - nll_with_inverse(&s, &c)).abs() < 1e-12);
        let inv = s.clone().try_inverse().unwrap();
        let want = &inv - &inv * &c * &inv;
        assert!((&ds - &want).abs().max() < 1e-10, "{ds} vs {want}");
    }
}
