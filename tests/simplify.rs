//! The IR's rewrites keep what the code computes, bit for bit: the trace of a product,
//! `(a * b).trace()`, whose adjoints skip the products with s̄ I, on every kind of factor, where the product is also read elsewhere
//! (no rewrite), and in loops. Against closed forms and central differences.

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, SMatrix};

/// f = tr(AB), A 3×4, B 4×3: ∂f/∂A = Bᵀ, ∂f/∂B = Aᵀ.
#[differentiate]
fn trace_of_product(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a * b).trace()
}

/// f = tr(sM) + tr(Ms²): ∂f/∂s = tr M + 2s tr M, ∂f/∂M = (s + s²) I.
#[differentiate]
fn scalar_factors(s: f64, m: &DMatrix<f64>) -> f64 {
    (s * m).trace() + (m * (s * s)).trace()
}

/// The product is read twice: f = tr(AB) + Σ(AB); ∂f/∂A = (I + 11ᵀ)Bᵀ… checked by differences.
#[differentiate]
fn product_read_twice(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let p = a * b;
    p.trace() + p.sum()
}

/// The Gaussian negative log-likelihood as users write it: ln det S + tr(S⁻¹C);
/// ∂f/∂S = S⁻¹ − S⁻¹CS⁻¹ for symmetric S and C (Cholesky rules return the symmetric gradient).
#[differentiate(wrt(s))]
fn gaussian(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().expect("S is SPD");
    let s_inv = chol.inverse();
    chol.ln_determinant() + (s_inv * c).trace()
}

/// Static sizes, inside a loop: f = Σₖ tr(Aᵀ_k B) with the k-th power of a scale.
#[differentiate(wrt(a, b))]
fn traces_in_a_loop(a: &SMatrix<f64, 2, 3>, b: &SMatrix<f64, 3, 2>) -> f64 {
    let mut total = 0.0;
    let mut w = 1.0;
    for _ in 0..3 {
        total += (a * b).trace() * w;
        w *= 0.5;
    }
    total
}

#[test]
fn the_trace_of_a_product_without_the_product() {
    for (r, c) in [(3, 4), (1, 1), (1, 4), (4, 1)] {
        let (a, b) = (mat(r, c, 1), mat(c, r, 2));
        let (v, da, db) = trace_of_product_grad(&a, &b);
        assert_eq!(v, trace_of_product(&a, &b));
        assert_close(&da, &b.transpose(), 1e-15);
        assert_close(&db, &a.transpose(), 1e-15);
    }
    let (s, m) = (0.7, mat(3, 3, 3));
    let (v, ds, dm) = scalar_factors_grad(s, &m);
    assert_eq!(v, scalar_factors(s, &m));
    assert!((ds - (m.trace() + 2.0 * s * m.trace())).abs() < 1e-14);
    assert_close(&dm, &(DMatrix::identity(3, 3) * (s + s * s)), 1e-15);
    let (a, b) = (mat(2, 3, 4), mat(3, 2, 5));
    let (v, da, db) = product_read_twice_grad(&a, &b);
    assert_eq!(v, product_read_twice(&a, &b));
    assert_fd(|a: &DMatrix<f64>| product_read_twice(a, &b), &a, &da, 1e-7);
    assert_fd(|b: &DMatrix<f64>| product_read_twice(&a, b), &b, &db, 1e-7);
}

#[test]
fn the_gaussian_as_users_write_it() {
    let n = 5;
    let a = mat(n, n, 6);
    let s = &a * a.transpose() / n as f64 + DMatrix::identity(n, n);
    let b = mat(n, n, 7);
    let c = &b * b.transpose() / n as f64;
    let (v, ds) = gaussian_grad(&s, &c);
    assert_eq!(v, gaussian(&s, &c));
    let s_inv = s.clone().try_inverse().unwrap();
    assert_close(&ds, &(&s_inv - &s_inv * &c * &s_inv), 1e-12);
}

#[test]
fn traces_of_fixed_size_products_in_a_loop() {
    let a = SMatrix::<f64, 2, 3>::new(0.3, -0.2, 0.4, 0.1, 0.5, -0.3);
    let b = SMatrix::<f64, 3, 2>::new(1.0, 0.5, -0.4, 0.2, 0.3, -0.1);
    let (v, da, db) = traces_in_a_loop_grad(&a, &b);
    assert_eq!(v, traces_in_a_loop(&a, &b));
    // Σₖ wₖ = 1.75: ∂f/∂A = 1.75 Bᵀ, ∂f/∂B = 1.75 Aᵀ.
    assert!((da - b.transpose() * 1.75).norm() < 1e-14);
    assert!((db - a.transpose() * 1.75).norm() < 1e-14);
}

/// Through a solve (not rewritten): ln det S + tr(S⁻¹C) with S⁻¹C = `chol.solve(c)`.
#[differentiate(wrt(s, c))]
fn gaussian_solve(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().expect("S is SPD");
    chol.ln_determinant() + chol.solve(c).trace()
}

/// The solve also read elsewhere: tr(S⁻¹C) + Σ S⁻¹C.
#[differentiate(wrt(s))]
fn solve_read_twice(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().expect("S is SPD");
    let x = chol.solve(c);
    x.trace() + x.sum()
}

#[test]
fn the_gaussian_through_a_solve() {
    let n = 4;
    let a = mat(n, n, 8);
    let s = &a * a.transpose() / n as f64 + DMatrix::identity(n, n);
    let b = mat(n, n, 9);
    let c = &b * b.transpose() / n as f64;
    let (v, ds, dc) = gaussian_solve_grad(&s, &c);
    assert_eq!(v, gaussian_solve(&s, &c));
    let s_inv = s.clone().try_inverse().unwrap();
    assert_close(&ds, &(&s_inv - &s_inv * &c * &s_inv), 1e-12);
    // ∂tr(S⁻¹C)/∂C = S⁻ᵀ = S⁻¹.
    assert_close(&dc, &s_inv, 1e-12);
    let (v, ds) = solve_read_twice_grad(&s, &c);
    assert_eq!(v, solve_read_twice(&s, &c));
    // Symmetric perturbations: the Cholesky rules return the symmetric gradient.
    let sym = |m: &DMatrix<f64>| (m + m.transpose()) * 0.5;
    assert_fd(|s: &DMatrix<f64>| solve_read_twice(&sym(s), &c), &s, &ds, 1e-6);
}

/// tr(X⁻¹B) through `try_inverse`, the inverse read as the left factor alone (its adjoint reads
/// the product instead of forming s̄Bᵀ): d tr(X⁻¹B) = −tr(X⁻¹ dX X⁻¹B) + tr(X⁻¹ dB), so
/// ∂f/∂X = −(X⁻¹BX⁻¹)ᵀ and ∂f/∂B = X⁻ᵀ.
#[differentiate(wrt(x, b))]
fn trace_of_an_inverse_product(x: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let inv = x.clone().try_inverse().unwrap();
    (inv * b).trace()
}

/// The inverse's product in every position: a loop body (inverse and product inside it, scaled
/// by wₖ = 1, 1/2, 1/4), a branch arm where the inverse is also traced (two contributions to
/// its adjoint: it is formed, the product kept but not read), and an inverse borrowed (`&inv`,
/// the product rewritten as a trace of a product). With S = AAᵀ + I, G(C) = −S⁻¹CS⁻¹ (C
/// symmetric): f(A) = Σₖ wₖ tr(S⁻¹C) + [tr S > 0](tr S⁻¹ + tr(S⁻¹C)) + tr(S⁻¹C) + ‖S⁻¹‖²,
/// ∂f/∂S = 3.75 G(C) − S⁻² − 2S⁻³, ∂f/∂A = 2 (∂f/∂S) A.
#[differentiate(wrt(a))]
fn inverse_products(a: &DMatrix<f64>, c: &DMatrix<f64>, id: &DMatrix<f64>) -> f64 {
    let s = a * a.transpose() + id;
    let chol = s.clone().cholesky().unwrap();
    let mut total = 0.0;
    let mut w = 1.0;
    for _ in 0..3 {
        let inv = chol.inverse();
        total += (inv * c).trace() * w;
        w *= 0.5;
    }
    if s.trace() > 0.0 {
        let inv = chol.inverse();
        total += inv.trace() + (inv * c).trace();
    }
    let twice = chol.inverse();
    total + (&twice * c).trace() + twice.norm_squared()
}

/// Fixed sizes in f32 and f64: f(S) = tr(S⁻¹C), ∂f/∂S = −sym(S⁻¹CS⁻¹).
#[differentiate(wrt(s))]
fn fixed_inverse_product<T: nalgebra::RealField + Copy>(s: &SMatrix<T, 3, 3>, c: &SMatrix<T, 3, 3>) -> T {
    let inv = s.cholesky().unwrap().inverse();
    (inv * c).trace()
}

#[test]
fn inverse_products_read_through_the_product() {
    for n in [1, 3, 6] {
        let (x, b) = (mat(n, n, 20) + DMatrix::identity(n, n) * 3.0, mat(n, n, 21));
        let (v, dx, db) = trace_of_an_inverse_product_grad(&x, &b);
        assert_eq!(v, trace_of_an_inverse_product(&x, &b));
        let xi = x.clone().try_inverse().unwrap();
        assert_close(&dx, &-(&xi * &b * &xi).transpose(), 1e-12);
        assert_close(&db, &xi.transpose(), 1e-12);
        assert_fd(|x: &DMatrix<f64>| trace_of_an_inverse_product(x, &b), &x, &dx, 1e-6);

        let (a, id) = (mat(n, n, 22), DMatrix::identity(n, n));
        let m = mat(n, n, 23);
        let c = &m * m.transpose();
        let (v, da) = inverse_products_grad(&a, &c, &id);
        assert_eq!(v, inverse_products(&a, &c, &id));
        let si = (&a * a.transpose() + &id).try_inverse().unwrap();
        let ds = -(&si * &c * &si) * 3.75 - &si * &si - &si * &si * &si * 2.0;
        assert_close(&da, &(ds * &a * 2.0), 1e-9);
        assert_fd(|a: &DMatrix<f64>| inverse_products(a, &c, &id), &a, &da, 1e-6);
    }
    let q = SMatrix::<f64, 3, 3>::new(1.0, 0.2, -0.1, 0.3, 0.9, 0.2, -0.2, 0.1, 1.1);
    let s = q * q.transpose() + SMatrix::<f64, 3, 3>::identity();
    let c = SMatrix::<f64, 3, 3>::from_fn(|i, j| 0.2 * (i * 3 + j) as f64 - 0.5);
    let (v, ds) = fixed_inverse_product_grad(&s, &c);
    assert_eq!(v, fixed_inverse_product(&s, &c));
    let si = s.try_inverse().unwrap();
    let m = si * c * si;
    let want = -(m + m.transpose()) / 2.0;
    assert!((ds - want).norm() < 1e-12 * want.norm());
    let (s32, c32) = (s.map(|v| v as f32), c.map(|v| v as f32));
    let (v32, ds32) = fixed_inverse_product_grad(&s32, &c32);
    assert_eq!(v32, fixed_inverse_product(&s32, &c32));
    assert!((ds32.map(|v| v as f64) - want).norm() < 1e-4 * want.norm());
}
