//! The seeds' worked examples, checked against their closed forms and central differences.

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, SMatrix};

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Seed 001, one-layer network: f(W) = ‖g(XW) − Y‖²_F with g the logistic function.
#[differentiate(wrt(w))]
fn network(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}

/// Seed 001: df/dW = 2 Xᵀ [(g(XW) − Y) ⊙ g′(XW)], g′ = g (1 − g).
#[test]
fn network_matches_seed_closed_form() {
    for &(n, d, k) in &[(6, 4, 3), (1, 3, 2), (5, 1, 1), (2, 5, 4)] {
        let (x, w, y) = (mat(n, d, 1), mat(d, k, 2), mat(n, k, 3).map(|v| 0.5 + 0.4 * v));
        let (value, dw) = network_grad(&w, &x, &y);
        assert_eq!(value, network(&w, &x, &y));
        let a = (&x * &w).map(sigmoid);
        let expected = 2.0 * x.transpose() * (&a - &y).component_mul(&a.map(|s| s * (1.0 - s)));
        assert_close(&dw, &expected, 1e-12);
        assert_fd(|w: &DMatrix<f64>| network(w, &x, &y), &w, &dw, 1e-7);
    }
}

/// Seed 001, dictionary learning: f(D, R) = ‖X − DR‖²_F.
#[differentiate]
fn dictionary(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}

#[differentiate(wrt(d, r))]
fn dictionary_dr(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}

/// Seed 001: df/dD = −2(X − DR)Rᵀ, df/dR = −2Dᵀ(X − DR).
#[test]
fn dictionary_learning_matches_seed_closed_form() {
    for &(m, k, n) in &[(6, 3, 5), (1, 2, 4), (4, 1, 1), (3, 4, 2)] {
        let (x, d, r) = (mat(m, n, 4), mat(m, k, 5), mat(k, n, 6));
        let resid = &x - &d * &r;
        let (value, dx, dd, dr) = dictionary_grad(&x, &d, &r);
        assert_eq!(value, resid.norm_squared());
        assert_close(&dx, &(2.0 * &resid), 1e-12);
        assert_close(&dd, &(-2.0 * &resid * r.transpose()), 1e-12);
        assert_close(&dr, &(-2.0 * d.transpose() * &resid), 1e-12);
        assert_fd(|d: &DMatrix<f64>| dictionary(&x, d, &r), &d, &dd, 1e-7);
        assert_fd(|r: &DMatrix<f64>| dictionary(&x, &d, r), &r, &dr, 1e-7);
        // wrt(d, r) returns only those, in that order.
        let (v2, dd2, dr2) = dictionary_dr_grad(&x, &d, &r);
        assert_eq!((v2, dd2, dr2), (value, dd, dr));
    }
}

/// Seed 000: L = ‖XᵀW‖²_F, ∂L/∂W = 2XY with Y = XᵀW.
#[differentiate(wrt(w))]
fn seed000(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let y = x.transpose() * w;
    y.norm_squared()
}

#[differentiate(wrt(w))]
fn seed000_tr_mul(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    x.tr_mul(w).norm_squared()
}

#[test]
fn seed000_matches_2xy() {
    for &(m, n, p) in &[(5, 3, 2), (1, 1, 1), (1, 4, 3), (4, 2, 1)] {
        let (x, w) = (mat(m, n, 7), mat(m, p, 8));
        let y = x.transpose() * &w;
        let (value, dw) = seed000_grad(&x, &w);
        assert_eq!(value, y.norm_squared());
        assert_close(&dw, &(2.0 * &x * &y), 1e-12);
        assert_fd(|w: &DMatrix<f64>| seed000(&x, w), &w, &dw, 1e-7);
        let (_, dw2) = seed000_tr_mul_grad(&x, &w);
        assert_close(&dw2, &(2.0 * &x * &y), 1e-12);
    }
}

/// The same seed on fixed-size matrices: the gradient is an `SMatrix` too.
#[differentiate(wrt(w))]
fn seed000_static(x: &SMatrix<f64, 4, 3>, w: SMatrix<f64, 4, 2>) -> f64 {
    (x.transpose() * w).norm_squared()
}

#[test]
fn seed000_static_sizes() {
    let x = SMatrix::<f64, 4, 3>::from_fn(|i, j| (i as f64) - 0.5 * j as f64);
    let w = SMatrix::<f64, 4, 2>::from_fn(|i, j| 0.3 * i as f64 + j as f64 - 1.0);
    let (_, dw): (f64, SMatrix<f64, 4, 2>) = seed000_static_grad(&x, w);
    let expected = 2.0 * x * (x.transpose() * w);
    assert!((dw - expected).norm() < 1e-12);
}
