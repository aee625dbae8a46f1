//! Forward mode of the linear-algebra ops added after the first set: the determinant (of a
//! matrix, an LU and a Cholesky factorization), `pow`, `lp_norm`, Cholesky's `l()`, the
//! triangular solves, the symmetric eigenvalues, the singular values, and `exp` and `abs` of
//! matrices. Each `_jvp` against central differences of f along the tangent and a closed form
//! derived by hand (computed with nalgebra, not with matgrad's rules); each `_hvp` against central
//! differences of `_grad` along v; in a loop body and a branch arm; f32 and f64, SMatrix and
//! DMatrix, non-square where the op allows.

mod common;

use common::{assert_close, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, Matrix3, SMatrix};

const H: f64 = 1e-6;

fn assert_near(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
}

/// (f(x + ht) − f(x − ht)) / 2h of a matrix-valued `f`.
fn fd_mat<F: Fn(&DMatrix<f64>) -> DMatrix<f64>>(f: F, x: &DMatrix<f64>, t: &DMatrix<f64>) -> DMatrix<f64> {
    (f(&(x + t * H)) - f(&(x - t * H))) / (2.0 * H)
}

/// (f(x + ht) − f(x − ht)) / 2h of a scalar `f`.
fn fd<F: Fn(&DMatrix<f64>) -> f64>(f: F, x: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
    (f(&(x + t * H)) - f(&(x - t * H))) / (2.0 * H)
}

/// (∇f(x + hv) − ∇f(x − hv)) / 2h.
fn fd_grad<G: Fn(&DMatrix<f64>) -> DMatrix<f64>>(grad: G, x: &DMatrix<f64>, v: &DMatrix<f64>) -> DMatrix<f64> {
    let h = 1e-5;
    (grad(&(x + v * h)) - grad(&(x - v * h))) / (2.0 * h)
}

fn spd(n: usize, seed: u64) -> DMatrix<f64> {
    let a = mat(n, n, seed);
    &a * a.transpose() + DMatrix::identity(n, n) * n as f64
}

fn sym(n: usize, seed: u64) -> DMatrix<f64> {
    let a = mat(n, n, seed);
    &a + a.transpose()
}

/// A symmetric matrix with well separated eigenvalues 1, 3, 5, … (eigenvectors from `seed`).
fn separated(n: usize, seed: u64) -> DMatrix<f64> {
    let q = mat(n, n, seed).qr().q();
    let d = DMatrix::from_diagonal(&DVector::from_fn(n, |i, _| 1.0 + 2.0 * i as f64));
    &q * d * q.transpose()
}

// ----- the determinant -----

#[differentiate(wrt(a), forward)]
fn det(a: &DMatrix<f64>) -> f64 {
    a.determinant()
}

/// det of a matrix, of its LU factorization and (of the SPD SᵀS + I) of a Cholesky factor.
#[differentiate(wrt(a), forward)]
fn dets(a: &DMatrix<f64>) -> f64 {
    let s = a.tr_mul(a) + DMatrix::identity(a.nrows(), a.nrows());
    let lu = a.clone().lu();
    let chol = s.cholesky().unwrap();
    a.determinant() * 0.5 + lu.determinant() + chol.determinant().ln()
}

#[test]
fn determinant_jvp_is_d_tr_inverse_times_tangent() {
    for n in [1, 2, 3, 4] {
        let (a, t) = (mat(n, n, 1) + DMatrix::identity(n, n), mat(n, n, 2));
        let (value, tangent) = det_jvp(&a, &t);
        assert_eq!(value, det(&a));
        // ḋ = det(A) tr(A⁻¹ T)
        let closed = a.determinant() * (a.clone().try_inverse().unwrap() * &t).trace();
        assert_near(tangent, closed, 1e-10);
        assert_near(tangent, fd(det, &a, &t), 1e-7);
        let (_, tangent) = dets_jvp(&a, &t);
        assert_near(tangent, fd(dets, &a, &t), 1e-6);
    }
}

#[test]
fn determinant_jvp_and_hvp_are_finite_at_a_singular_matrix() {
    // rank 2 and rank 1 (det = 0): ḋ = ⟨cof(A), T⟩, the cofactor matrix (0 for rank ≤ n − 2
    // in a 4×4), and H V the derivative of the cofactor matrix (det is a polynomial: central
    // differences are exact up to rounding).
    let u = mat(4, 2, 3);
    for a in [&u * mat(2, 4, 4), mat(4, 1, 5) * mat(1, 4, 6)] {
        let (t, v) = (mat(4, 4, 7), mat(4, 4, 8));
        let (_, tangent) = det_jvp(&a, &t);
        assert!(tangent.is_finite());
        assert_near(tangent, fd(det, &a, &t), 1e-7);
        let (_, g, hv) = det_hvp(&a, &v);
        assert_close(&g, &det_grad(&a).1, 1e-12);
        assert_close(&hv, &fd_grad(|a| det_grad(a).1, &a, &v), 1e-6);
    }
}

#[test]
fn determinant_hvp_matches_central_differences_of_grad() {
    for n in [1, 2, 3, 5] {
        let (a, v) = (mat(n, n, 1) + DMatrix::identity(n, n) * 2.0, mat(n, n, 3));
        let (value, g, hv) = det_hvp(&a, &v);
        assert_eq!(value, det(&a));
        assert_close(&g, &det_grad(&a).1, 1e-12);
        assert_close(&hv, &fd_grad(|a| det_grad(a).1, &a, &v), 1e-6);
        // H V = d tr(A⁻¹V) A⁻ᵀ − d A⁻ᵀ Vᵀ A⁻ᵀ
        let it = a.clone().try_inverse().unwrap().transpose();
        let d = a.determinant();
        let closed = &it * (d * (it.transpose() * &v).trace()) - &it * v.transpose() * &it * d;
        assert_close(&hv, &closed, 1e-9);
        let (_, _, hv) = dets_hvp(&a, &v);
        assert_close(&hv, &fd_grad(|a| dets_grad(a).1, &a, &v), 1e-5);
    }
}

#[differentiate(wrt(a), forward)]
fn det_f32(a: &Matrix3<f32>) -> f32 {
    a.determinant()
}

#[test]
fn determinant_fixed_size_f32() {
    let a = Matrix3::<f32>::new(2.0, 0.3, -0.1, 0.2, 1.5, 0.4, -0.3, 0.1, 1.2);
    let t = Matrix3::<f32>::new(0.1, -0.2, 0.3, 0.0, 0.5, -0.1, 0.2, 0.2, -0.4);
    let (_, tangent) = det_f32_jvp(&a, &t);
    let (a64, t64) = (a.cast::<f64>(), t.cast::<f64>());
    let closed = a64.determinant() * (a64.try_inverse().unwrap() * t64).trace();
    assert!((f64::from(tangent) - closed).abs() < 1e-5, "{tangent} vs {closed}");
    let (_, _, hv) = det_f32_hvp(&a, &t);
    let it = a64.try_inverse().unwrap().transpose();
    let d = a64.determinant();
    let closed = it * (d * (it.transpose() * t64).trace()) - it * t64.transpose() * it * d;
    assert!((hv.cast::<f64>() - closed).abs().max() < 1e-4, "{hv} vs {closed}");
}

// ----- matrix powers -----

#[differentiate(wrt(a), forward)]
fn cube(a: &DMatrix<f64>) -> DMatrix<f64> {
    a.pow(3)
}

#[differentiate(wrt(a), forward)]
fn powers(a: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    (a.pow(3) * c).norm_squared() + a.pow(1).sum() + a.pow(0).trace() + a.pow(2).trace()
}

#[test]
fn pow_jvp_is_the_sum_of_the_words() {
    for n in [1, 2, 4] {
        let (a, t) = (mat(n, n, 1), mat(n, n, 2));
        let (value, tangent) = cube_jvp(&a, &t);
        assert_eq!(value, cube(&a));
        // (A³)˙ = T A² + A T A + A² T
        let closed = &t * &a * &a + &a * &t * &a + &a * &a * &t;
        assert_close(&tangent, &closed, 1e-12);
        assert_close(&tangent, &fd_mat(cube, &a, &t), 1e-7);
    }
}

#[test]
fn pow_hvp_matches_central_differences_of_grad() {
    for n in [1, 3, 4] {
        let (a, c, v) = (mat(n, n, 1), mat(n, 2, 2), mat(n, n, 3));
        let (value, g, hv) = powers_hvp(&a, &c, &v);
        assert_eq!(value, powers(&a, &c));
        assert_close(&g, &powers_grad(&a, &c).1, 1e-12);
        assert_close(&hv, &fd_grad(|a| powers_grad(a, &c).1, &a, &v), 1e-6);
        let (_, tangent) = powers_jvp(&a, &c, &v);
        assert_near(tangent, fd(|a| powers(a, &c), &a, &v), 1e-7);
    }
}

#[differentiate(wrt(a), forward)]
fn pow_f32(a: &Matrix3<f32>) -> f32 {
    a.pow(2).trace()
}

#[test]
fn pow_fixed_size_f32() {
    let a = Matrix3::<f32>::new(0.5, 0.3, -0.1, 0.2, 0.4, 0.4, -0.3, 0.1, 0.2);
    let t = Matrix3::<f32>::new(0.1, -0.2, 0.3, 0.0, 0.5, -0.1, 0.2, 0.2, -0.4);
    // tr(A²)˙ = 2 tr(A T), H V = 2 Vᵀ
    let (_, tangent) = pow_f32_jvp(&a, &t);
    assert!((tangent - 2.0 * (a * t).trace()).abs() < 1e-5);
    let (_, _, hv) = pow_f32_hvp(&a, &t);
    assert!((hv - t.transpose() * 2.0).abs().max() < 1e-5, "{hv}");
}

// ----- lp norms -----

#[differentiate(wrt(x), forward)]
fn lp(x: &DMatrix<f64>) -> f64 {
    x.lp_norm(3) + x.lp_norm(1) * 0.5 + x.lp_norm(2) * 0.25
}

#[test]
fn lp_norm_jvp_and_hvp() {
    for &(r, c) in &[(3, 3), (5, 2), (1, 4), (4, 1), (1, 1)] {
        let (x, t) = (mat(r, c, 1), mat(r, c, 2));
        let (value, tangent) = lp_jvp(&x, &t);
        assert_eq!(value, lp(&x));
        // (‖x‖_p)˙ = ⟨sign(x) |x|^(p−1), t⟩ / ‖x‖_p^(p−1)
        let dp = |p: i32| {
            let s = x.lp_norm(p);
            x.zip_map(&t, |v, w| v.signum() * v.abs().powi(p - 1) * w).sum() / s.powi(p - 1)
        };
        assert_near(tangent, dp(3) + 0.5 * dp(1) + 0.25 * dp(2), 1e-12);
        assert_near(tangent, fd(lp, &x, &t), 1e-7);
        let (_, g, hv) = lp_hvp(&x, &t);
        assert_close(&g, &lp_grad(&x).1, 1e-12);
        assert_close(&hv, &fd_grad(|x| lp_grad(x).1, &x, &t), 1e-6);
    }
}

// ----- Cholesky's factor -----

#[differentiate(wrt(s), forward)]
fn factor(s: &DMatrix<f64>) -> DMatrix<f64> {
    s.clone().cholesky().unwrap().l()
}

#[differentiate(wrt(s), forward)]
fn factor_loss(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let l = s.clone().cholesky().unwrap().l();
    (&l * c).norm_squared() + l.sum()
}

#[test]
fn cholesky_factor_jvp_is_l_phi() {
    for n in [1, 2, 4] {
        let (s, v) = (spd(n, 1), sym(n, 2));
        let (value, tangent) = factor_jvp(&s, &v);
        assert_eq!(value, factor(&s));
        // L̇ = L Φ(L⁻¹ V L⁻ᵀ), Φ the lower triangle with the diagonal halved
        let l = factor(&s);
        let li = l.clone().try_inverse().unwrap();
        let mut m = &li * &v * li.transpose();
        for j in 0..n {
            m[(j, j)] *= 0.5;
        }
        let closed = &l * m.lower_triangle();
        assert_close(&tangent, &closed, 1e-12);
        assert_close(&tangent, &fd_mat(factor, &s, &v), 1e-7);
    }
}

#[test]
fn cholesky_factor_hvp_matches_central_differences_of_grad() {
    for n in [1, 3, 4] {
        let (s, c, v) = (spd(n, 1), mat(n, 2, 2), sym(n, 3));
        let (value, g, hv) = factor_loss_hvp(&s, &c, &v);
        assert_eq!(value, factor_loss(&s, &c));
        assert_close(&g, &factor_loss_grad(&s, &c).1, 1e-12);
        assert_close(&hv, &fd_grad(|s| factor_loss_grad(s, &c).1, &s, &v), 1e-6);
    }
}

// ----- triangular solves -----

#[differentiate(wrt(l, b), forward)]
fn lower_solve(l: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    l.solve_lower_triangular(b).unwrap()
}

#[differentiate(wrt(u, b), forward)]
fn upper_solve(u: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let x = u.solve_upper_triangular(b).expect("nonzero diagonal");
    x.norm_squared() + x.sum()
}

#[differentiate(wrt(l), forward)]
fn lower_solve_loss(l: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let x = l.solve_lower_triangular(b).unwrap();
    x.norm_squared() + x.sum()
}

fn triangular(n: usize, seed: u64) -> DMatrix<f64> {
    mat(n, n, seed) + DMatrix::identity(n, n) * 3.0
}

#[test]
fn triangular_solve_jvp_reads_the_triangle() {
    for &(n, k) in &[(3, 2), (1, 1), (4, 1), (2, 5)] {
        let (l, b, tl, tb) = (triangular(n, 1), mat(n, k, 2), mat(n, n, 3), mat(n, k, 4));
        let (value, tangent) = lower_solve_jvp(&l, &b, &tl, &tb);
        assert_eq!(value, lower_solve(&l, &b));
        // Ẋ = L⁻¹ (Ḃ − tril(L̇) X) (the solve reads L's lower triangle)
        let lt = l.lower_triangle();
        let x = lt.clone().try_inverse().unwrap() * &b;
        let closed = lt.try_inverse().unwrap() * (&tb - tl.lower_triangle() * &x);
        assert_close(&tangent, &closed, 1e-12);
        let f = |s: f64| lower_solve(&(&l + &tl * s), &(&b + &tb * s));
        assert_close(&tangent, &((f(H) - f(-H)) / (2.0 * H)), 1e-7);
    }
}

#[test]
fn triangular_solve_hvp_matches_central_differences_of_grad() {
    for &(n, k) in &[(3, 2), (1, 1), (4, 3)] {
        let (l, b, v) = (triangular(n, 1), mat(n, k, 2), mat(n, n, 3));
        let (value, g, hv) = lower_solve_loss_hvp(&l, &b, &v);
        assert_eq!(value, lower_solve_loss(&l, &b));
        assert_close(&g, &lower_solve_loss_grad(&l, &b).1, 1e-12);
        assert_close(&hv, &fd_grad(|l| lower_solve_loss_grad(l, &b).1, &l, &v), 1e-6);
        // both differentiated, upper: each h against central differences of its gradient
        let (u, vu, vb) = (triangular(n, 5), mat(n, n, 6), mat(n, k, 7));
        let (_, _, _, hu, hb) = upper_solve_hvp(&u, &b, &vu, &vb);
        let grads = |s: f64| upper_solve_grad(&(&u + &vu * s), &(&b + &vb * s));
        let (p, m) = (grads(1e-5), grads(-1e-5));
        assert_close(&hu, &((p.1 - m.1) / 2e-5), 1e-6);
        assert_close(&hb, &((p.2 - m.2) / 2e-5), 1e-6);
        let (_, tangent) = upper_solve_jvp(&u, &b, &vu, &vb);
        let f = |s: f64| upper_solve(&(&u + &vu * s), &(&b + &vb * s));
        assert_near(tangent, (f(H) - f(-H)) / (2.0 * H), 1e-7);
    }
}

// ----- symmetric eigenvalues -----

#[differentiate(wrt(s), forward)]
fn eigenvalues(s: &DMatrix<f64>) -> DVector<f64> {
    s.symmetric_eigenvalues()
}

#[differentiate(wrt(s), forward)]
fn eigen_loss(s: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    let l = s.clone().symmetric_eigen().eigenvalues;
    l.dot(w) + s.symmetric_eigenvalues().norm_squared()
}

#[test]
fn eigenvalues_jvp_is_u_t_v_u() {
    for n in [1, 2, 4] {
        let (s, v) = (separated(n, 1), sym(n, 2));
        let (value, tangent) = eigenvalues_jvp(&s, &v);
        assert_eq!(value, eigenvalues(&s));
        // λ̇ᵢ = uᵢᵀ V uᵢ
        let e = s.clone().symmetric_eigen();
        let closed =
            DVector::from_fn(n, |i, _| (e.eigenvectors.column(i).transpose() * &v * e.eigenvectors.column(i))[0]);
        assert_close(&tangent, &closed, 1e-12);
        let fd = (eigenvalues(&(&s + &v * H)) - eigenvalues(&(&s - &v * H))) / (2.0 * H);
        assert_close(&tangent, &fd, 1e-7);
    }
}

#[test]
fn eigenvalues_hvp_matches_central_differences_of_grad() {
    // (distinct eigenvalues: the reverse pass goes through the eigenvectors' rule)
    for n in [1, 3, 4] {
        let (s, w, v) = (separated(n, 1), DVector::from_fn(n, |i, _| 1.0 + i as f64), sym(n, 3));
        let (value, g, hv) = eigen_loss_hvp(&s, &w, &v);
        assert_eq!(value, eigen_loss(&s, &w));
        assert_close(&g, &eigen_loss_grad(&s, &w).1, 1e-10);
        assert_close(&hv, &fd_grad(|s| eigen_loss_grad(s, &w).1, &s, &v), 1e-6);
    }
}

#[differentiate(wrt(s), forward)]
fn eigenvectors(s: &DMatrix<f64>) -> DMatrix<f64> {
    s.clone().symmetric_eigen().eigenvectors
}

/// Σₖ wₖ² (uₖᵀc)²: smooth where the eigenvalues are distinct, whatever the vectors' signs.
#[differentiate(wrt(s), forward)]
fn eigenvector_loss(s: &DMatrix<f64>, c: &DVector<f64>, w: &DVector<f64>) -> f64 {
    let u = s.clone().symmetric_eigen().eigenvectors;
    u.tr_mul(c).component_mul(w).norm_squared()
}

#[test]
fn eigenvectors_jvp_is_u_f_u_t_v_u() {
    for n in [1, 2, 4] {
        let (s, v) = (separated(n, 1), sym(n, 2));
        let (value, tangent) = eigenvectors_jvp(&s, &v);
        assert_eq!(value, eigenvectors(&s));
        // U̇ = U (F ⊙ UᵀVU), Fᵢⱼ = 1/(λⱼ − λᵢ) off the diagonal (Giles 2008 §3.1)
        let e = s.clone().symmetric_eigen();
        let (u, l) = (&e.eigenvectors, &e.eigenvalues);
        let m = u.transpose() * &v * u;
        let k = DMatrix::from_fn(n, n, |i, j| if i == j { 0.0 } else { m[(i, j)] / (l[j] - l[i]) });
        assert_close(&tangent, &(u * k), 1e-12);
        assert_close(&tangent, &fd_mat(eigenvectors, &s, &v), 1e-7);
        // along a non-symmetric direction: the symmetric part's
        let a = mat(n, n, 3);
        let (_, along_a) = eigenvectors_jvp(&s, &a);
        let (_, along_sym) = eigenvectors_jvp(&s, &((&a + a.transpose()) * 0.5));
        assert_close(&along_a, &along_sym, 1e-12);
    }
}

#[test]
fn eigenvectors_hvp_matches_central_differences_of_grad() {
    for n in [2, 3, 4] {
        let (s, v) = (separated(n, 1), sym(n, 3));
        let (c, w) = (DVector::from_fn(n, |i, _| 0.5 - 0.3 * i as f64), DVector::from_fn(n, |i, _| 1.0 + i as f64));
        let (value, g, hv) = eigenvector_loss_hvp(&s, &c, &w, &v);
        assert_eq!(value, eigenvector_loss(&s, &c, &w));
        assert_close(&g, &eigenvector_loss_grad(&s, &c, &w).1, 1e-10);
        assert_close(&hv, &fd_grad(|s| eigenvector_loss_grad(s, &c, &w).1, &s, &v), 1e-6);
        let (_, tangent) = eigenvector_loss_jvp(&s, &c, &w, &v);
        assert_near(tangent, fd(|s| eigenvector_loss(s, &c, &w), &s, &v), 1e-7);
    }
}

// ----- singular values -----

#[differentiate(wrt(a), forward)]
fn singular(a: &DMatrix<f64>) -> DVector<f64> {
    a.singular_values()
}

#[differentiate(wrt(a), forward)]
fn singular_loss(a: &DMatrix<f64>, w: &DVector<f64>) -> f64 {
    a.singular_values().dot(w) + a.clone().svd(false, false).singular_values.sum()
}

#[test]
fn singular_values_jvp_is_u_t_a_v() {
    for &(r, c) in &[(3, 3), (5, 2), (2, 4), (1, 1), (1, 4)] {
        let (a, t) = (mat(r, c, 1), mat(r, c, 2));
        let (value, tangent) = singular_jvp(&a, &t);
        assert_eq!(value, singular(&a));
        // σ̇ᵢ = uᵢᵀ T vᵢ
        let svd = a.clone().svd(true, true);
        let (u, v_t) = (svd.u.unwrap(), svd.v_t.unwrap());
        let closed = DVector::from_fn(r.min(c), |i, _| (u.column(i).transpose() * &t * v_t.row(i).transpose())[0]);
        assert_close(&tangent, &closed, 1e-12);
        let fd = (singular(&(&a + &t * H)) - singular(&(&a - &t * H))) / (2.0 * H);
        assert_close(&tangent, &fd, 1e-7);
    }
}

/// An r×c matrix with the singular values 3, 2, 1, … (vectors from `seed`).
fn spread(r: usize, c: usize, seed: u64) -> DMatrix<f64> {
    let (u, v) = (mat(r, r, seed).qr().q(), mat(c, c, seed + 1).qr().q());
    let s = DMatrix::from_fn(r, c, |i, j| if i == j { 3.0 - i as f64 } else { 0.0 });
    u * s * v.transpose()
}

#[test]
fn singular_values_hvp_matches_central_differences_of_grad() {
    // (distinct nonzero singular values: the reverse pass goes through the singular vectors')
    for &(r, c) in &[(3, 3), (4, 2), (2, 3), (1, 1)] {
        let (a, v) = (spread(r, c, 1), mat(r, c, 3));
        let w = DVector::from_fn(r.min(c), |i, _| 1.0 + i as f64);
        let (value, g, hv) = singular_loss_hvp(&a, &w, &v);
        assert_eq!(value, singular_loss(&a, &w));
        assert_close(&g, &singular_loss_grad(&a, &w).1, 1e-10);
        assert_close(&hv, &fd_grad(|a| singular_loss_grad(a, &w).1, &a, &v), 1e-5);
    }
}

#[differentiate(wrt(a), forward)]
fn left_vectors(a: &DMatrix<f64>) -> DMatrix<f64> {
    a.clone().svd(true, true).u.unwrap()
}

#[differentiate(wrt(a), forward)]
fn right_vectors(a: &DMatrix<f64>) -> DMatrix<f64> {
    a.clone().svd(false, true).v_t.expect("V")
}

/// Σₖ wₖ² ((uₖᵀc)² + (vₖᵀd)²) and the polar factor's ⟨U Vᵀ, E⟩: smooth where the singular
/// values are distinct and nonzero, whatever the vectors' signs.
#[differentiate(wrt(a), forward)]
fn vector_loss(a: &DMatrix<f64>, c: &DVector<f64>, d: &DVector<f64>, w: &DVector<f64>, e: &DMatrix<f64>) -> f64 {
    let u = a.clone().svd(true, true).u.unwrap();
    let v_t = a.clone().svd(true, true).v_t.unwrap();
    u.tr_mul(c).component_mul(w).norm_squared() + (&v_t * d).component_mul(w).norm_squared() + (u * v_t).dot(e)
}

#[test]
fn singular_vectors_jvp_matches_central_differences() {
    for &(r, c) in &[(3, 3), (4, 2), (2, 4), (1, 1), (1, 3), (3, 1)] {
        let (a, t) = (spread(r, c, 1), mat(r, c, 2));
        let (value, tangent) = left_vectors_jvp(&a, &t);
        assert_eq!(value, left_vectors(&a));
        assert_close(&tangent, &fd_mat(left_vectors, &a, &t), 1e-7);
        let (value, tangent) = right_vectors_jvp(&a, &t);
        assert_eq!(value, right_vectors(&a));
        assert_close(&tangent, &fd_mat(right_vectors, &a, &t), 1e-7);
        // Uᵀ U̇ is antisymmetric (U has orthonormal columns)
        let (u, du) = left_vectors_jvp(&a, &t);
        let s = u.tr_mul(&du);
        assert_close(&(&s + s.transpose()), &DMatrix::zeros(s.nrows(), s.ncols()), 1e-12);
    }
}

#[test]
fn singular_vectors_hvp_matches_central_differences_of_grad() {
    for &(r, c) in &[(3, 3), (4, 2), (2, 3)] {
        let k = r.min(c);
        let (a, v) = (spread(r, c, 1), mat(r, c, 3));
        let (cv, dv) =
            (DVector::from_fn(r, |i, _| 0.5 - 0.3 * i as f64), DVector::from_fn(c, |i, _| 0.2 * i as f64 - 0.4));
        let (w, e) = (DVector::from_fn(k, |i, _| 1.0 + i as f64), mat(r, c, 4));
        let (value, g, hv) = vector_loss_hvp(&a, &cv, &dv, &w, &e, &v);
        assert_eq!(value, vector_loss(&a, &cv, &dv, &w, &e));
        assert_close(&g, &vector_loss_grad(&a, &cv, &dv, &w, &e).1, 1e-10);
        assert_close(&hv, &fd_grad(|a| vector_loss_grad(a, &cv, &dv, &w, &e).1, &a, &v), 1e-6);
        let (_, tangent) = vector_loss_jvp(&a, &cv, &dv, &w, &e, &v);
        assert_near(tangent, fd(|a| vector_loss(a, &cv, &dv, &w, &e), &a, &v), 1e-7);
    }
}

#[differentiate(wrt(a), forward)]
fn singular_f32(a: &SMatrix<f32, 3, 2>) -> f32 {
    a.singular_values().sum()
}

#[test]
fn singular_values_fixed_size_f32() {
    let a = SMatrix::<f32, 3, 2>::new(1.0, 0.2, -0.3, 0.8, 0.5, 0.1);
    let t = SMatrix::<f32, 3, 2>::new(0.1, -0.2, 0.3, 0.0, 0.5, -0.1);
    let (_, tangent) = singular_f32_jvp(&a, &t);
    let svd = a.cast::<f64>().svd(true, true);
    // (Σσ)˙ = ⟨U Vᵀ, T⟩
    let closed = (svd.u.unwrap() * svd.v_t.unwrap()).dot(&t.cast::<f64>());
    assert!((f64::from(tangent) - closed).abs() < 1e-5, "{tangent} vs {closed}");
    let (_, _, hv) = singular_f32_hvp(&a, &t);
    let g = |s: f64| {
        let svd = (a.cast::<f64>() + t.cast::<f64>() * s).svd(true, true);
        svd.u.unwrap() * svd.v_t.unwrap()
    };
    let fd = (g(1e-5) - g(-1e-5)) / 2e-5;
    assert!((hv.cast::<f64>() - fd).abs().max() < 1e-3, "{hv} vs {fd}");
}

// ----- exp and abs of matrices, and of scalars outside closures -----

#[differentiate(wrt(m), forward)]
fn expm(m: &DMatrix<f64>) -> DMatrix<f64> {
    m.exp()
}

#[differentiate(wrt(m, s), forward)]
fn exp_loss(m: &DMatrix<f64>, s: f64, c: &DMatrix<f64>) -> f64 {
    (m.exp() * c).norm_squared() + m.abs().component_mul(m).sum() + s.exp() * s.abs()
}

/// L(M, E), the upper-right block of exp([[M, E], [0, M]]) (nalgebra's Padé exponential).
fn frechet(m: &DMatrix<f64>, e: &DMatrix<f64>) -> DMatrix<f64> {
    let n = m.nrows();
    let mut b = DMatrix::zeros(2 * n, 2 * n);
    b.view_mut((0, 0), (n, n)).copy_from(m);
    b.view_mut((n, n), (n, n)).copy_from(m);
    b.view_mut((0, n), (n, n)).copy_from(e);
    b.exp().view((0, n), (n, n)).into_owned()
}

#[test]
fn matrix_exp_jvp_is_the_frechet_derivative() {
    for (n, scale) in [(1, 1.0), (3, 1.0), (4, 3.0)] {
        let (m, t) = (mat(n, n, 1) * scale, mat(n, n, 2));
        let (value, tangent) = expm_jvp(&m, &t);
        assert_eq!(value, expm(&m));
        assert_close(&tangent, &frechet(&m, &t), 1e-10);
        assert_close(&tangent, &fd_mat(expm, &m, &t), 1e-6);
    }
}

#[test]
fn matrix_exp_and_abs_hvp_match_central_differences_of_grad() {
    for (n, scale) in [(1, 1.0), (3, 1.0), (3, 2.5)] {
        let (m, c, vm) = (mat(n, n, 1) * scale, mat(n, 2, 2), mat(n, n, 3));
        let (s, vs) = (0.7, -0.4);
        let (value, _, _, hm, hs) = exp_loss_hvp(&m, s, &c, &vm, vs);
        assert_eq!(value, exp_loss(&m, s, &c));
        let grads = |h: f64| exp_loss_grad(&(&m + &vm * h), s + vs * h, &c);
        let (p, q) = (grads(1e-5), grads(-1e-5));
        assert_close(&hm, &((p.1 - q.1) / 2e-5), 1e-6);
        assert_near(hs, (p.2 - q.2) / 2e-5, 1e-6);
        let (_, tangent) = exp_loss_jvp(&m, s, &c, &vm, vs);
        let f = |h: f64| exp_loss(&(&m + &vm * h), s + vs * h, &c);
        assert_near(tangent, (f(H) - f(-H)) / (2.0 * H), 1e-7);
        // the abs part in closed form: (⟨|M|, M⟩)˙ = 2⟨sign(M) ⊙ M, T⟩... = 2⟨|M|, T⟩
        let (_, t_abs) = abs_only_jvp(&m, &vm);
        assert_near(t_abs, 2.0 * m.abs().dot(&vm), 1e-12);
    }
}

#[differentiate(wrt(m), forward)]
fn abs_only(m: &DMatrix<f64>) -> f64 {
    m.abs().component_mul(m).sum()
}

#[differentiate(wrt(m), forward)]
fn expm_f32(m: &Matrix3<f32>) -> f32 {
    m.exp().trace()
}

#[test]
fn matrix_exp_fixed_size_f32() {
    let m = Matrix3::<f32>::new(0.5, 0.3, -0.1, 0.2, -0.4, 0.4, -0.3, 0.1, 0.2);
    let t = Matrix3::<f32>::new(0.1, -0.2, 0.3, 0.0, 0.5, -0.1, 0.2, 0.2, -0.4);
    // tr(exp M)˙ = tr(exp(M) T); H V = (exp(M) L(M, V)... ) ᵀ: against the f64 Fréchet form
    let (_, tangent) = expm_f32_jvp(&m, &t);
    let (m64, t64) = (m.cast::<f64>(), t.cast::<f64>());
    assert!((f64::from(tangent) - (m64.exp() * t64).trace()).abs() < 1e-5);
    let (_, _, hv) = expm_f32_hvp(&m, &t);
    // ∇ tr(exp M) = exp(M)ᵀ, so H V = L(M, V)ᵀ
    let closed =
        frechet(&DMatrix::from_column_slice(3, 3, m64.as_slice()), &DMatrix::from_column_slice(3, 3, t64.as_slice()))
            .transpose();
    let hv = DMatrix::from_column_slice(3, 3, hv.cast::<f64>().as_slice());
    assert!((hv - &closed).abs().max() < 1e-4, "{closed}");
}

// ----- in a loop body and a branch arm -----

#[differentiate(wrt(a), forward)]
fn looped(a: &DMatrix<f64>, s: &DMatrix<f64>, steps: usize, which: u8) -> f64 {
    let mut acc = 0.0;
    let mut m = a.clone();
    for k in 0..steps {
        m = m.pow(2) * 0.5 + a;
        acc += m.determinant() + m.lp_norm(3);
        if k % 2 == 0 {
            acc += m.singular_values().sum();
        } else {
            acc -= m.exp().trace() * 0.1;
        }
    }
    let t = s + a * a.transpose() * 0.1;
    let arm = match which {
        0 => t.clone().cholesky().unwrap().l().sum(),
        1 => t.symmetric_eigenvalues().norm_squared(),
        2 => {
            let u = t.clone().symmetric_eigen().eigenvectors;
            u.tr_mul(&a.column(0)).component_mul(&a.column(1)).norm_squared() + a.abs().sum()
        }
        3 => {
            let u = m.clone().svd(true, true).u.unwrap();
            u.tr_mul(&a.column(0)).component_mul(&a.column(1)).norm_squared()
        }
        _ => t.solve_lower_triangular(a).unwrap().norm_squared(),
    };
    acc + arm
}

#[test]
fn ops_in_loops_and_branches_match_central_differences() {
    let n = 3;
    // (distinct singular values far from 0 in the loop: Σσ is smooth there, and the reverse
    // pass of its tangent goes through the singular vectors')
    let a = DMatrix::from_diagonal(&DVector::from_vec(vec![0.5, 1.0, 1.5])) + mat(n, n, 1) * 0.2;
    let (s, v) = (spd(n, 2), mat(n, n, 3));
    for steps in [0, 1, 3] {
        for which in 0..5 {
            let (value, tangent) = looped_jvp(&a, &s, steps, which, &v);
            assert_eq!(value, looped(&a, &s, steps, which));
            let want = fd(|a| looped(a, &s, steps, which), &a, &v);
            assert!((tangent - want).abs() <= 1e-6 * want.abs().max(1.0), "{steps} {which}: {tangent} vs {want}");
            let (_, g, hv) = looped_hvp(&a, &s, steps, which, &v);
            assert_close(&g, &looped_grad(&a, &s, steps, which).1, 1e-10);
            assert_close(&hv, &fd_grad(|a| looped_grad(a, &s, steps, which).1, &a, &v), 1e-5);
        }
    }
}

// ----- f32 and f64, fixed sizes -----

/// Every rule of this file on fixed-size matrices, generic over the scalar type.
#[differentiate(wrt(a), forward)]
fn fixed_ops<T: nalgebra::RealField + Copy>(a: &Matrix3<T>, s: &Matrix3<T>, b: &SMatrix<T, 3, 2>) -> T {
    let spd = s + a * a.transpose();
    let l = spd.cholesky().unwrap().l();
    let x = l.solve_lower_triangular(b).unwrap();
    let u = spd.symmetric_eigen().eigenvectors;
    let w = (a * b).svd(true, true).v_t.unwrap();
    a.determinant()
        + a.pow(3).trace()
        + a.lp_norm(3)
        + a.exp().trace()
        + a.abs().sum()
        + l.sum()
        + spd.symmetric_eigenvalues().sum()
        + x.norm_squared()
        + u.tr_mul(&b.column(0)).norm_squared()
        + (a * b).singular_values().sum()
        + (w * b.row(1).transpose()).norm_squared()
}

#[test]
fn fixed_size_ops_in_f32_and_f64() {
    let a = Matrix3::<f64>::new(0.9, 0.2, -0.1, 0.3, 0.7, 0.2, -0.2, 0.1, 1.1);
    let s = Matrix3::<f64>::from_diagonal(&nalgebra::Vector3::new(1.0, 2.0, 3.5));
    let b = SMatrix::<f64, 3, 2>::new(0.5, -0.2, 0.1, 0.9, -0.4, 0.3);
    let v = Matrix3::<f64>::new(0.1, -0.2, 0.05, 0.3, 0.0, -0.1, 0.2, 0.1, -0.3);
    let to_d = |m: &Matrix3<f64>| DMatrix::from_column_slice(3, 3, m.as_slice());
    let of_d = |m: &DMatrix<f64>| Matrix3::from_column_slice(m.as_slice());
    let f = |m: &DMatrix<f64>| fixed_ops(&of_d(m), &s, &b);
    let (value, tangent) = fixed_ops_jvp(&a, &s, &b, &v);
    assert_eq!(value, fixed_ops(&a, &s, &b));
    assert_near(tangent, fd(f, &to_d(&a), &to_d(&v)), 1e-6);
    let (_, g, hv) = fixed_ops_hvp(&a, &s, &b, &v);
    assert_close(&to_d(&g), &to_d(&fixed_ops_grad(&a, &s, &b).1), 1e-10);
    let grad = |m: &DMatrix<f64>| to_d(&fixed_ops_grad(&of_d(m), &s, &b).1);
    assert_close(&to_d(&hv), &fd_grad(grad, &to_d(&a), &to_d(&v)), 1e-5);
    let (_, t32) = fixed_ops_jvp(&a.cast::<f32>(), &s.cast::<f32>(), &b.cast::<f32>(), &v.cast::<f32>());
    assert!((f64::from(t32) - tangent).abs() < 1e-3 * tangent.abs().max(1.0), "{t32} vs {tangent}");
    let (_, _, hv32) = fixed_ops_hvp(&a.cast::<f32>(), &s.cast::<f32>(), &b.cast::<f32>(), &v.cast::<f32>());
    assert!((hv32.cast::<f64>() - hv).abs().max() < 1e-3 * hv.abs().max().max(1.0), "{hv32} vs {hv}");
}
