//! Products with a transpose as users write them, `x.transpose() * b` and `a * x.transpose()`,
//! which `passes::simplify` differentiates as one op (no transposed copy of X̄'s contribution):
//! against closed forms derived by hand and central differences, with matrix and scalar
//! operands, in every position (body, branch arm, loop body, nested loops, nested block, beside
//! a `map` closure), f32 and f64, static, dynamic and mixed sizes, 1×1 and 1×n shapes; and where
//! the transpose is read twice or annotated, so not fused.

mod common;

use common::{assert_close, assert_fd, mat, SHAPES};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, SMatrix};

/// f(X, W) = ‖XᵀW‖²: X̄ = 2W(XᵀW)ᵀ, W̄ = 2X(XᵀW).
#[differentiate(wrt(x, w))]
fn tr_lhs(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    (x.transpose() * w).norm_squared()
}

/// f(A, X) = ‖AXᵀ‖²: Ā = 2(AXᵀ)X, X̄ = 2(AXᵀ)ᵀA.
#[differentiate(wrt(a, x))]
fn tr_rhs(a: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (a * x.transpose()).norm_squared()
}

#[test]
fn transposed_factors_match_closed_forms_and_central_differences() {
    for &(r, c) in SHAPES {
        for k in [1, 3] {
            let (x, w) = (mat(r, c, 1), mat(r, k, 2));
            let (v, dx, dw) = tr_lhs_grad(&x, &w);
            let p = x.transpose() * &w;
            assert_eq!(v, p.norm_squared());
            assert_close(&dx, &(2.0 * &w * p.transpose()), 1e-12);
            assert_close(&dw, &(2.0 * &x * &p), 1e-12);
            assert_fd(|x| tr_lhs(x, &w), &x, &dx, 1e-6);
            assert_fd(|w| tr_lhs(&x, w), &w, &dw, 1e-6);

            let (a, x) = (mat(k, c, 3), mat(r, c, 4));
            let (v, da, dx) = tr_rhs_grad(&a, &x);
            let p = &a * x.transpose();
            assert_eq!(v, p.norm_squared());
            assert_close(&da, &(2.0 * &p * &x), 1e-12);
            assert_close(&dx, &(2.0 * p.transpose() * &a), 1e-12);
            assert_fd(|a| tr_rhs(a, &x), &a, &da, 1e-6);
            assert_fd(|x| tr_rhs(&a, x), &x, &dx, 1e-6);
        }
    }
}

/// The sizes where nalgebra's fast kernel runs (every dimension above 5), first contributions
/// and accumulated ones (X read by both factors' rules: ‖XᵀX‖², X̄ = 4X(XᵀX)).
#[differentiate(wrt(x))]
fn gram(x: &DMatrix<f64>) -> f64 {
    (x.transpose() * x).norm_squared()
}

#[test]
fn large_and_gram_products_match_closed_forms() {
    let (x, w) = (mat(40, 7, 5), mat(40, 9, 6));
    let (_, dx, dw) = tr_lhs_grad(&x, &w);
    let p = x.transpose() * &w;
    assert_close(&dx, &(2.0 * &w * p.transpose()), 1e-12);
    assert_close(&dw, &(2.0 * &x * &p), 1e-12);
    let (a, x) = (mat(8, 30, 7), mat(12, 30, 8));
    let (_, da, dx) = tr_rhs_grad(&a, &x);
    let p = &a * x.transpose();
    assert_close(&da, &(2.0 * &p * &x), 1e-12);
    assert_close(&dx, &(2.0 * p.transpose() * &a), 1e-12);
    for (r, c) in [(3, 2), (40, 12)] {
        let x = mat(r, c, 9);
        let (v, dx) = gram_grad(&x);
        let g = x.transpose() * &x;
        assert_eq!(v, g.norm_squared());
        assert_close(&dx, &(4.0 * &x * &g), 1e-12);
        assert_fd(gram, &x, &dx, 1e-6);
    }
}

/// A scalar on the other side: f(X, s) = ‖Xᵀs‖² + Σ(sXᵀ): X̄ = 2s²X + s1, s̄ = 2s‖X‖² + ΣX.
#[differentiate(wrt(x, s))]
fn scalar_sides(x: &DMatrix<f64>, s: f64) -> f64 {
    (x.transpose() * s).norm_squared() + (s * x.transpose()).sum()
}

#[test]
fn a_scalar_factor_matches_the_closed_form() {
    let (x, s) = (mat(3, 2, 10), 0.7);
    let (v, dx, ds) = scalar_sides_grad(&x, s);
    assert_eq!(v, scalar_sides(&x, s));
    assert_close(&dx, &(2.0 * s * s * &x).add_scalar(s), 1e-12);
    assert!((ds - (2.0 * s * x.norm_squared() + x.sum())).abs() < 1e-12);
    assert_fd(|x| scalar_sides(x, s), &x, &dx, 1e-6);
}

/// Static sizes in f32, and a static matrix times a dynamic one.
#[differentiate(wrt(x, w))]
fn tr_static(x: &SMatrix<f32, 3, 2>, w: &SMatrix<f32, 3, 4>) -> f32 {
    (x.transpose() * w).norm_squared()
}

/// A static X beside a dynamic W: f(X, W) = ‖WXᵀ‖² + Σ(XWᵀ).
#[differentiate(wrt(x, w))]
fn tr_mixed(x: &SMatrix<f64, 3, 2>, w: &DMatrix<f64>) -> f64 {
    (w * x.transpose()).norm_squared() + (x * w.transpose()).sum()
}

#[test]
fn static_and_mixed_sizes_match_closed_forms() {
    let x = SMatrix::<f32, 3, 2>::from_fn(|i, j| (i as f32 - 0.5 * j as f32) * 0.3);
    let w = SMatrix::<f32, 3, 4>::from_fn(|i, j| ((i * 4 + j) as f32 * 0.37).sin());
    let (_, dx, dw) = tr_static_grad(&x, &w);
    let p = x.transpose() * w;
    assert!((dx - 2.0 * w * p.transpose()).norm() < 1e-5);
    assert!((dw - 2.0 * x * p).norm() < 1e-5);

    let x = SMatrix::<f64, 3, 2>::from_fn(|i, j| (i as f64 - 0.5 * j as f64) * 0.3);
    let w = mat(4, 2, 11);
    let (v, dx, dw) = tr_mixed_grad(&x, &w);
    assert_eq!(v, tr_mixed(&x, &w));
    // P = WXᵀ: X̄ = 2PᵀW + 1₃ₓ₄W, W̄ = 2PX + 1₄ₓ₃X.
    let xd = DMatrix::from_fn(3, 2, |i, j| x[(i, j)]);
    let p = &w * xd.transpose();
    let dx_want = 2.0 * p.transpose() * &w + DMatrix::from_element(3, 4, 1.0) * &w;
    assert!((dx - SMatrix::<f64, 3, 2>::from_fn(|i, j| dx_want[(i, j)])).norm() < 1e-12);
    assert_close(&dw, &(2.0 * &p * &xd + DMatrix::from_element(4, 3, 1.0) * &xd), 1e-12);
    assert_fd(|w| tr_mixed(&x, w), &w, &dw, 1e-6);
}

/// Vectors: f(x, w) = (xᵀw)₀₀² for columns, and the outer product of rows.
#[differentiate(wrt(x, w))]
fn vectors(x: &DVector<f64>, w: &DVector<f64>) -> f64 {
    let s = (x.transpose() * w)[(0, 0)];
    s * s + (x * w.transpose()).sum()
}

#[test]
fn vectors_match_the_closed_form() {
    let (x, w) = (DVector::from_column_slice(&[0.3, -0.2, 0.5]), DVector::from_column_slice(&[0.1, 0.4, -0.7]));
    let (_, dx, dw) = vectors_grad(&x, &w);
    let s = x.dot(&w);
    // Σᵢⱼ xᵢwⱼ = (Σx)(Σw)
    assert_close(&dx, &(2.0 * s * &w).add_scalar(w.sum()), 1e-12);
    assert_close(&dw, &(2.0 * s * &x).add_scalar(x.sum()), 1e-12);
}

/// In a branch arm (beside a `map` closure), a loop body, nested loops and a nested block.
#[differentiate(wrt(x, w))]
fn positions(x: &DMatrix<f64>, w: &DMatrix<f64>, flag: bool) -> f64 {
    let arm = if flag { (x.transpose() * w).map(|v| v.tanh()).norm_squared() } else { (w.transpose() * x).sum() };
    let mut h = w.clone();
    for _ in 0..2 {
        h = x * (x.transpose() * h);
    }
    let mut nested = 0.0;
    for i in 0..2 {
        for _ in 0..i + 1 {
            nested += (h.transpose() * x).norm_squared();
        }
    }
    let block = {
        let t = w.transpose();
        (t * x).sum()
    };
    arm + 0.01 * nested + block
}

#[test]
fn every_position_matches_central_differences() {
    let (x, w) = (mat(4, 3, 12), mat(4, 2, 13));
    for flag in [true, false] {
        let (v, dx, dw) = positions_grad(&x, &w, flag);
        assert_eq!(v, positions(&x, &w, flag));
        assert_fd(|x| positions(x, &w, flag), &x, &dx, 1e-6);
        assert_fd(|w| positions(&x, w, flag), &w, &dw, 1e-6);
    }
}

/// Not fused: the transpose read twice, bound with a type, or inside a `map` closure of a
/// constant.
#[differentiate(wrt(x))]
fn not_fused(x: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let t = x.transpose();
    let u: DMatrix<f64> = x.transpose();
    let k = (c.transpose() * c)[(0, 0)];
    (&t * x).norm_squared() + t.sum() + (u * c).sum() + x.map(|v| v * k).sum()
}

#[test]
fn unfused_transposes_match_central_differences() {
    let (x, c) = (mat(3, 2, 14), mat(3, 2, 15));
    let (v, dx) = not_fused_grad(&x, &c);
    assert_eq!(v, not_fused(&x, &c));
    let k = (c.transpose() * &c)[(0, 0)];
    let g = x.transpose() * &x;
    // ‖XᵀX‖² + ΣXᵀ + Σ(XᵀC) + kΣX
    let want = 4.0 * &x * &g
        + DMatrix::from_element(3, 2, 1.0)
        + &c * DMatrix::from_element(2, 2, 1.0)
        + DMatrix::from_element(3, 2, k);
    assert_close(&dx, &want, 1e-12);
    assert_fd(|x| not_fused(x, &c), &x, &dx, 1e-6);
}

/// Forward mode and Hessian-vector products through the fused op: f = ‖XᵀW‖², H along (U, V).
#[differentiate(wrt(x, w), forward)]
fn tr_forward(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    (x.transpose() * w).norm_squared() + (w * x.transpose()).sum()
}

#[test]
fn forward_mode_and_hvp_match_central_differences() {
    let (x, w, u, v) = (mat(3, 3, 21), mat(3, 3, 22), mat(3, 3, 23), mat(3, 3, 24));
    let (value, tangent) = tr_forward_jvp(&x, &w, &u, &v);
    assert_eq!(value, tr_forward(&x, &w));
    let h = 1e-6;
    let fd = (tr_forward(&(&x + &u * h), &(&w + &v * h)) - tr_forward(&(&x - &u * h), &(&w - &v * h))) / (2.0 * h);
    assert!((tangent - fd).abs() < 1e-6 * fd.abs().max(1.0), "{tangent} vs {fd}");
    let (_, gx, gw, hx, hw) = tr_forward_hvp(&x, &w, &u, &v);
    let (_, dx, dw) = tr_forward_grad(&x, &w);
    assert_close(&gx, &dx, 1e-12);
    assert_close(&gw, &dw, 1e-12);
    // P = XᵀW, Ṗ = UᵀW + XᵀV, J = 1 1ᵀ: ∇X = 2WPᵀ + JW, ∇W = 2XP + JX, and along (U, V)
    // H_X = 2VPᵀ + 2WṖᵀ + JV, H_W = 2UP + 2XṖ + JU.
    let (p, j) = (x.transpose() * &w, DMatrix::from_element(3, 3, 1.0));
    let pd = u.transpose() * &w + x.transpose() * &v;
    assert_close(&dx, &(2.0 * &w * p.transpose() + &j * &w), 1e-12);
    assert_close(&dw, &(2.0 * &x * &p + &j * &x), 1e-12);
    assert_close(&hx, &(2.0 * &v * p.transpose() + 2.0 * &w * pd.transpose() + &j * &v), 1e-12);
    assert_close(&hw, &(2.0 * &u * &p + 2.0 * &x * &pd + &j * &u), 1e-12);
    let grad_at = |s: f64| tr_forward_grad(&(&x + &u * s), &(&w + &v * s));
    let ((_, px, pw), (_, mx, mw)) = (grad_at(h), grad_at(-h));
    assert_close(&hx, &((px - mx) / (2.0 * h)), 1e-5);
    assert_close(&hw, &((pw - mw) / (2.0 * h)), 1e-5);
}

/// Borrowed operands, as users write them beside owned values: f(X, W) = ‖(XW)ᵀ(XW)‖² +
/// Σ((XW)(XW)ᵀ), with P = XW: X̄ = 4 (P G) Wᵀ + (J P + Jᵀ P) Wᵀ for G = PᵀP, J = 1 1ᵀ.
#[differentiate(wrt(x, w))]
fn borrowed(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let p = x * w;
    (p.transpose() * &p).norm_squared() + (&p * &p.transpose()).sum()
}

#[test]
fn borrowed_operands_match_the_closed_form() {
    let (x, w) = (mat(4, 3, 25), mat(3, 2, 26));
    let (v, dx, dw) = borrowed_grad(&x, &w);
    assert_eq!(v, borrowed(&x, &w));
    let p = &x * &w;
    let g = p.transpose() * &p;
    let j = DMatrix::from_element(4, 4, 1.0);
    let dp = 4.0 * &p * &g + 2.0 * &j * &p;
    assert_close(&dx, &(&dp * w.transpose()), 1e-12);
    assert_close(&dw, &(x.transpose() * &dp), 1e-12);
    assert_fd(|x| borrowed(x, &w), &x, &dx, 1e-6);
}
