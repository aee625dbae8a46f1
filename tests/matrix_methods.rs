//! Matrix methods of issue 12: `cross`, `abs()` on a matrix, `normalize()`, `lp_norm(p)` and the
//! matrix exponential `exp()`, checked against derivatives by hand and central differences.

mod common;

use common::{assert_close, assert_fd, mat, SHAPES};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, Matrix3, RowVector3, Vector3};

/// f(a, b) = ⟨w, a × b⟩ = det[w a b]; ∂f/∂a = b × w, ∂f/∂b = w × a.
#[differentiate(wrt(a, b))]
fn triple(a: &Vector3<f64>, b: &Vector3<f64>, w: &Vector3<f64>) -> f64 {
    a.cross(b).dot(w)
}

#[test]
fn cross_product() {
    let (a, b, w) = (Vector3::new(0.3, -1.0, 2.0), Vector3::new(1.5, 0.2, -0.7), Vector3::new(0.9, 0.4, 1.1));
    let (value, da, db) = triple_grad(&a, &b, &w);
    assert!((value - a.cross(&b).dot(&w)).abs() < 1e-12);
    assert!((da - b.cross(&w)).abs().max() < 1e-12);
    assert!((db - w.cross(&a)).abs().max() < 1e-12);
}

/// Row 3-vectors and a dynamic 3-vector: f(r, v) = ‖r × r₂‖² + ⟨v × u, 1⟩ (r₂, u constant).
#[differentiate(wrt(r, v))]
fn cross_rows(r: &RowVector3<f64>, r2: &RowVector3<f64>, v: &DVector<f64>, u: &DVector<f64>) -> f64 {
    r.cross(r2).norm_squared() + v.cross(u).sum()
}

#[test]
fn cross_of_rows_and_dynamic_vectors() {
    let (r, r2) = (RowVector3::new(0.2, 0.5, -0.3), RowVector3::new(-1.0, 0.4, 0.8));
    let (v, u) = (DVector::from_vec(vec![0.1, 0.2, 0.3]), DVector::from_vec(vec![-0.5, 1.5, 0.25]));
    let (_, dr, dv) = cross_rows_grad(&r, &r2, &v, &u);
    // ∂/∂r ‖r × r₂‖² = r₂ × (2 r × r₂);  ∂/∂v ⟨v × u, 1⟩ = u × 1
    let c = r.cross(&r2) * 2.0;
    assert!((dr - r2.cross(&c)).abs().max() < 1e-12, "{dr}");
    let ones = DVector::from_element(3, 1.0);
    assert_close(&dv, &u.cross(&ones), 1e-12);
}

/// f(X) = ⟨W, |X|⟩ + Σ |X| ⊙ X; ∂f/∂X = W ⊙ sign X + 2|X| (entrywise; sign 0 = 0).
#[differentiate(wrt(x))]
fn abs_matrix(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    x.abs().dot(w) + x.abs().component_mul(x).sum()
}

#[test]
fn abs_of_a_matrix() {
    for &(m, n) in SHAPES {
        let (x, w) = (mat(m, n, 1), mat(m, n, 2));
        let (value, dx) = abs_matrix_grad(&x, &w);
        assert!((value - abs_matrix(&x, &w)).abs() < 1e-12);
        let want = w.zip_map(&x, |w, x| w * x.signum() + 2.0 * x.abs());
        assert_close(&dx, &want, 1e-12);
        assert_fd(|x: &DMatrix<f64>| abs_matrix(x, &w), &x, &dx, 1e-6);
    }
}

/// f(x) = ⟨w, x/‖x‖⟩ + ‖x‖₃ + ‖x‖₁;
/// ∂f/∂x = (w − y⟨y, w⟩)/‖x‖ + sign(x) x²/‖x‖₃² + sign(x).
#[differentiate(wrt(x))]
fn norms(x: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    x.normalize().dot(w) + x.lp_norm(3) + x.lp_norm(1)
}

#[test]
fn normalize_and_lp_norms() {
    for &(m, n) in SHAPES {
        let (x, w) = (mat(m, n, 3), mat(m, n, 4));
        let (value, dx) = norms_grad(&x, &w);
        assert!((value - norms(&x, &w)).abs() < 1e-12);
        let (nx, y) = (x.norm(), x.normalize());
        let l3 = x.lp_norm(3);
        let want = (&w - &y * y.dot(&w)) / nx + x.map(|v| v.signum() * v * v / (l3 * l3)) + x.map(f64::signum);
        assert_close(&dx, &want, 1e-10);
        assert_fd(|x: &DMatrix<f64>| norms(x, &w), &x, &dx, 1e-6);
    }
}

/// The matrix exponential: f(M) = ⟨W, exp(M)⟩. For a diagonal M = diag(d) and diagonal W,
/// ∂f/∂M = diag(w ⊙ exp d) (the off-diagonal entries of L(Mᵀ, W) are (e^dᵢ − e^dⱼ)/(dᵢ − dⱼ) Wᵢⱼ
/// = 0 for a diagonal W). Otherwise checked against central differences.
#[differentiate(wrt(m))]
fn expm(m: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    m.exp().dot(w)
}

#[test]
fn matrix_exponential() {
    let d = DMatrix::from_diagonal(&DVector::from_vec(vec![0.5, -1.0, 2.0]));
    let w = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 2.0, -0.5]));
    let (_, dm) = expm_grad(&d, &w);
    let want =
        DMatrix::from_diagonal(&DVector::from_vec(vec![0.5f64.exp(), 2.0 * (-1.0f64).exp(), -0.5 * 2.0f64.exp()]));
    assert_close(&dm, &want, 1e-10);
    // A full M, and a large one (scaling and squaring): entry (i, j) of the Fréchet derivative
    // against central differences.
    for (n, scale) in [(1, 1.0), (3, 1.0), (4, 3.0)] {
        let (m, w) = (mat(n, n, 5) * scale, mat(n, n, 6));
        let (value, dm) = expm_grad(&m, &w);
        assert!((value - m.exp().dot(&w)).abs() < 1e-9 * value.abs().max(1.0));
        assert_fd(|m: &DMatrix<f64>| expm(m, &w), &m, &dm, 1e-6);
    }
}

/// The matrix exponential on a fixed-size matrix, and the scalar exp still scalar.
#[differentiate(wrt(m, s))]
fn expm3(m: &Matrix3<f64>, s: f64) -> f64 {
    (m * s).exp().trace() + s.exp()
}

#[test]
fn fixed_size_matrix_exponential() {
    let m = Matrix3::new(0.1, 0.4, -0.2, 0.0, 0.3, 0.5, -0.6, 0.2, 0.1);
    let s = 0.8;
    let (_, dm, ds) = expm3_grad(&m, s);
    // tr exp(sM): ∂/∂M = s exp(sM)ᵀ, ∂/∂s = tr(M exp(sM)) + eˢ
    let e = (m * s).exp();
    assert!((dm - e.transpose() * s).abs().max() < 1e-10, "{dm}");
    assert!((ds - ((m * e).trace() + s.exp())).abs() < 1e-10);
}

/// zip_map with both matrices differentiated and a captured scalar:
/// f(X, Y, s) = Σ (x y + s sin x · y² + max(x, y)).
/// ∂f/∂X = Y + s cos X ⊙ Y² + 1[X > Y], ∂f/∂Y = X + 2s sin X ⊙ Y + 1[X ≤ Y], ∂f/∂s = Σ sin X ⊙ Y².
#[differentiate]
fn zipped(x: &DMatrix<f64>, y: &DMatrix<f64>, s: f64) -> f64 {
    x.zip_map(y, |a, b| a * b + s * a.sin() * b * b + a.max(b)).sum()
}

#[test]
fn zip_map_of_two_differentiated_matrices() {
    for &(m, n) in SHAPES {
        let (x, y, s) = (mat(m, n, 7), mat(m, n, 8), 0.6);
        let (value, dx, dy, ds) = zipped_grad(&x, &y, s);
        assert!((value - zipped(&x, &y, s)).abs() < 1e-12);
        let ind = |c: bool| if c { 1.0 } else { 0.0 };
        assert_close(&dx, &x.zip_map(&y, |a, b| b + s * a.cos() * b * b + ind(a > b)), 1e-12);
        assert_close(&dy, &x.zip_map(&y, |a, b| a + 2.0 * s * a.sin() * b + ind(a <= b)), 1e-12);
        let ds_want = x.zip_map(&y, |a, b| a.sin() * b * b).sum();
        assert!((ds - ds_want).abs() < 1e-12);
        assert_fd(|x: &DMatrix<f64>| zipped(x, &y, s), &x, &dx, 1e-6);
        assert_fd(|y: &DMatrix<f64>| zipped(&x, y, s), &y, &dy, 1e-6);
    }
}

/// zip_map with one constant side, in a loop (the partials kept per iteration), and a `_`
/// parameter: f(X) = Σₖ₌₀² Σ [exp(x/(k+1)) c + x/2], ∂f/∂X = Σₖ exp(X/(k+1)) ⊙ C/(k+1) + 3/2.
#[differentiate(wrt(x))]
fn zipped_loop(x: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let mut acc = 0.0;
    for k in 0..3 {
        let t = (k + 1) as f64;
        acc += x.zip_map(c, |a, b| (a / t).exp() * b).sum() + 0.5 * x.zip_map(c, |a, _| a).sum();
    }
    acc
}

#[test]
fn zip_map_in_a_loop_with_a_constant_side() {
    let (x, c) = (mat(3, 2, 9), mat(3, 2, 10));
    let (_, dx) = zipped_loop_grad(&x, &c);
    let mut want = DMatrix::zeros(3, 2);
    for k in 0..3 {
        let t = (k + 1) as f64;
        want += x.zip_map(&c, |a, b| (a / t).exp() * b / t).add_scalar(0.5);
    }
    assert_close(&dx, &want, 1e-12);
}

/// zip_map of a value with itself: f(X) = Σ x·x, ∂f/∂X = 2X (the value is not moved into the map
/// while the second side still reads it).
#[differentiate]
fn zip_self(x: &DMatrix<f64>) -> f64 {
    let y = -x;
    y.zip_map(&y, |p, q| p * q).sum()
}

#[test]
fn zip_map_of_a_value_with_itself() {
    let x = mat(2, 3, 11);
    assert_close(&zip_self_grad(&x).1, &(2.0 * &x), 1e-12);
}

/// Products mixing fixed and dynamic inner dimensions: f(A, B, C) = ‖A B‖² + ‖C A‖² + ‖A v‖²
/// with A a Matrix3, B and C DMatrix (3×n, m×3), v a DVector.
/// ∂f/∂A = 2 (AB) Bᵀ + 2 Cᵀ (CA) + 2 (A v) vᵀ, ∂f/∂B = 2 Aᵀ (AB), ∂f/∂C = 2 (CA) Aᵀ.
#[differentiate(wrt(a, b, c))]
fn mixed(a: &Matrix3<f64>, b: &DMatrix<f64>, c: &DMatrix<f64>, v: &DVector<f64>) -> f64 {
    (a * b).norm_squared() + (c * a).norm_squared() + (a * v).norm_squared()
}

#[test]
fn products_of_fixed_and_dynamic_shapes() {
    for (n, m) in [(4, 2), (1, 1), (7, 6)] {
        let a = Matrix3::new(0.5, -1.0, 0.2, 0.3, 0.8, -0.6, 1.1, 0.4, -0.3);
        let (b, c, v) = (mat(3, n, 12), mat(m, 3, 13), DVector::from_vec(vec![0.2, -0.4, 0.9]));
        let (_, da, db, dc) = mixed_grad(&a, &b, &c, &v);
        let (ab, ca, av) = (a * &b, &c * a, a * &v);
        let da_want = 2.0 * &ab * b.transpose() + 2.0 * c.transpose() * &ca + 2.0 * &av * v.transpose();
        for k in 0..9 {
            assert!((da[k] - da_want[k]).abs() < 1e-12, "{da} vs {da_want}");
        }
        let dyn_of = |r: usize, c: usize, x: &[f64]| DMatrix::from_column_slice(r, c, x);
        assert_close(&db, &dyn_of(3, n, (2.0 * a.transpose() * &ab).as_slice()), 1e-12);
        assert_close(&dc, &dyn_of(m, 3, (2.0 * &ca * a.transpose()).as_slice()), 1e-12);
        assert_fd(|b: &DMatrix<f64>| mixed(&a, b, &c, &v), &b, &db, 1e-6);
        assert_fd(|c: &DMatrix<f64>| mixed(&a, &b, c, &v), &c, &dc, 1e-6);
    }
}
