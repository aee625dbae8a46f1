//! Constructors that read differentiated values (issue 12): `new` of the fixed-size aliases,
//! `from_element`, `from_columns`, `from_rows`, `from_row_slice`, `from_column_slice`,
//! `from_vec` and `from_iterator`. The adjoint of an entry is the matching entry of Ḡ (of a column, the column).

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, Matrix2, Matrix2x3, RowDVector, RowVector2, SMatrix, Vector2, Vector3};

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
}

/// A rotation from an angle: f(θ) = ‖R(θ) p − q‖², R = [[c, −s], [s, c]].
/// f′(θ) = 2 (R p − q)ᵀ R′ p with R′ = [[−s, −c], [c, −s]].
#[differentiate(wrt(theta))]
fn rotation(theta: f64, p: &Vector2<f64>, q: &Vector2<f64>) -> f64 {
    let c = theta.cos();
    let s = theta.sin();
    let r = Matrix2::new(c, -s, s, c);
    (r * p - q).norm_squared()
}

#[test]
fn rotation_from_an_angle() {
    let (p, q) = (Vector2::new(1.0, 0.5), Vector2::new(-0.3, 1.2));
    for theta in [-2.0, 0.0, 0.4, 1.3] {
        let (value, dt) = rotation_grad(theta, &p, &q);
        let (c, s) = (f64::cos(theta), f64::sin(theta));
        let r = Matrix2::new(c, -s, s, c);
        assert!((value - (r * p - q).norm_squared()).abs() < 1e-12);
        let dr = Matrix2::new(-s, -c, c, -s);
        close(dt, 2.0 * (r * p - q).dot(&(dr * p)), 1e-12);
        assert_fd(|t: &f64| rotation(*t, &p, &q), &theta, &dt, 1e-7);
    }
}

/// A point from its coordinates, some entries constant: v = (x₀, 2, x₂²) from a DVector x,
/// f = ‖v‖² + ⟨W, M⟩ with M = Matrix2x3::new(x₀, 1, x₁, x₁x₂, 0, −x₀) (row-major).
/// ∂f/∂x₀ = 2x₀ + W₀₀ − W₁₂, ∂f/∂x₁ = W₀₂ + x₂ W₁₀, ∂f/∂x₂ = 4x₂³ + x₁ W₁₀.
#[differentiate(wrt(x))]
fn point(x: &DVector<f64>, w: &Matrix2x3<f64>) -> f64 {
    let v = Vector3::new(x[0], 2.0, x[2] * x[2]);
    let m = Matrix2x3::new(x[0], 1.0, x[1], x[1] * x[2], 0.0, -x[0]);
    v.norm_squared() + m.dot(w)
}

#[test]
fn vectors_and_matrices_from_entries() {
    let x = DVector::from_vec(vec![0.7, -1.1, 0.4]);
    let w = Matrix2x3::new(0.3, -0.2, 0.9, 1.4, 0.6, -0.5);
    let (_, dx) = point_grad(&x, &w);
    let want = DVector::from_vec(vec![
        2.0 * x[0] + w[(0, 0)] - w[(1, 2)],
        w[(0, 2)] + x[2] * w[(1, 0)],
        4.0 * x[2].powi(3) + x[1] * w[(1, 0)],
    ]);
    assert_close(&dx, &want, 1e-12);
    assert_fd(|x: &DVector<f64>| point(x, &w), &x, &dx, 1e-6);
}

/// f32, fixed size: f(a, b) = Σ of RowVector2::new(a, b) ⊙ (3, 5) + ‖SMatrix::from_element(a)‖²
/// (2×2): ∂f/∂a = 3 + 8a, ∂f/∂b = 5.
#[differentiate]
fn small32(a: f32, b: f32) -> f32 {
    let r = RowVector2::new(a, b);
    let e = SMatrix::<f32, 2, 2>::from_element(a);
    r.dot(&RowVector2::new(3.0, 5.0)) + e.norm_squared()
}

#[test]
fn f32_fixed_size_constructors() {
    let (_, da, db) = small32_grad(0.25, -1.5);
    assert!((da - (3.0 + 8.0 * 0.25)).abs() < 1e-6);
    assert!((db - 5.0).abs() < 1e-6);
}

/// from_element with a differentiated value, dynamic: f(s) = Σ (from_element(m, n, s²) ⊙ W)
/// = s² Σ W, f′ = 2s Σ W.
#[differentiate(wrt(s))]
fn element(s: f64, w: &DMatrix<f64>) -> f64 {
    DMatrix::from_element(w.nrows(), w.ncols(), s * s).component_mul(w).sum()
}

#[test]
fn from_element_of_a_differentiated_scalar() {
    for &(m, n) in common::SHAPES {
        let w = mat(m, n, 7);
        let (_, ds) = element_grad(0.8, &w);
        close(ds, 1.6 * w.sum(), 1e-12);
        assert_fd(|s: &f64| element(*s, &w), &0.8, &ds, 1e-7);
    }
}

/// Columns and rows: M = from_columns(&[a, 2b, c]) (c constant), N = from_rows(&[r, r ⊙ r]);
/// f = ⟨W, M⟩ + ⟨V, N⟩.  ∂f/∂a = W[:, 0], ∂f/∂b = 2 W[:, 1], ∂f/∂r = V[0, :] + 2 r ⊙ V[1, :].
#[differentiate(wrt(a, b, r))]
fn columns(
    a: &DVector<f64>,
    b: &DVector<f64>,
    c: &DVector<f64>,
    r: &RowDVector<f64>,
    w: &DMatrix<f64>,
    v: &DMatrix<f64>,
) -> f64 {
    let m = DMatrix::from_columns(&[a.clone(), b * 2.0, c.clone()]);
    let n = DMatrix::from_rows(&[r.clone(), r.component_mul(r)]);
    m.dot(w) + n.dot(v)
}

#[test]
fn from_columns_and_from_rows() {
    for (len, width) in [(3, 4), (1, 1), (4, 2)] {
        let (a, b, c) = (
            mat(len, 1, 1).column(0).into_owned(),
            mat(len, 1, 2).column(0).into_owned(),
            mat(len, 1, 3).column(0).into_owned(),
        );
        let r = mat(1, width, 4).row(0).into_owned();
        let (w, v) = (mat(len, 3, 5), mat(2, width, 6));
        let (_, da, db, dr) = columns_grad(&a, &b, &c, &r, &w, &v);
        assert_close(&da, &w.column(0).into_owned(), 1e-12);
        assert_close(&db, &(2.0 * w.column(1)), 1e-12);
        assert_close(&dr, &(v.row(0) + 2.0 * r.component_mul(&v.row(1))), 1e-12);
        assert_fd(|a: &DVector<f64>| columns(a, &b, &c, &r, &w, &v), &a, &da, 1e-6);
        assert_fd(|r: &RowDVector<f64>| columns(&a, &b, &c, r, &w, &v), &r, &dr, 1e-6);
    }
}

/// Slices and vectors of entries: A = from_row_slice(2, 3, &[x, 1, y, 2, x y, 3]),
/// B = from_column_slice(2, 2, &[x, y, 0, y]), C = from_vec(2, 1, vec![x², 4]);
/// f = ⟨W, A⟩ + ⟨V, B⟩ + ⟨U, C⟩.
/// ∂f/∂x = W₀₀ + y W₁₁ + V₀₀ + 2x U₀₀,  ∂f/∂y = W₀₂ + x W₁₁ + V₁₀ + V₁₁.
#[differentiate(wrt(x, y))]
fn slices(x: f64, y: f64, w: &DMatrix<f64>, v: &DMatrix<f64>, u: &DMatrix<f64>) -> f64 {
    let a = DMatrix::from_row_slice(2, 3, &[x, 1.0, y, 2.0, x * y, 3.0]);
    let b = DMatrix::from_column_slice(2, 2, &[x, y, 0.0, y]);
    let c = DMatrix::from_vec(2, 1, vec![x * x, 4.0]);
    a.dot(w) + b.dot(v) + c.dot(u)
}

#[test]
fn from_slices_and_vecs() {
    let (w, v, u) = (mat(2, 3, 8), mat(2, 2, 9), mat(2, 1, 10));
    let (x, y) = (0.6, -1.3);
    let (_, dx, dy) = slices_grad(x, y, &w, &v, &u);
    close(dx, w[(0, 0)] + y * w[(1, 1)] + v[(0, 0)] + 2.0 * x * u[(0, 0)], 1e-12);
    close(dy, w[(0, 2)] + x * w[(1, 1)] + v[(1, 0)] + v[(1, 1)], 1e-12);
    assert_fd(|x: &f64| slices(*x, y, &w, &v, &u), &x, &dx, 1e-7);
    assert_fd(|y: &f64| slices(x, *y, &w, &v, &u), &y, &dy, 1e-7);
}

/// A fixed-size from_row_slice built in a loop body and a branch arm:
/// for k in 0..3: acc += ‖Matrix2::from_row_slice(&[θk, 1, 0, θ])‖² (k even) or θ² k (k odd)
/// = Σ_even (θ²k² + 1 + θ²) + Σ_odd θ² k  → f′ = 2θ (Σ_even (k² + 1) + Σ_odd k) = 2θ(0+1 + 4+1 + 1) = 14θ.
#[differentiate]
fn in_loop(theta: f64) -> f64 {
    let mut acc = 0.0;
    for k in 0..3 {
        let t = k as f64;
        if k % 2 == 0 {
            let m = Matrix2::from_row_slice(&[theta * t, 1.0, 0.0, theta]);
            acc += m.norm_squared();
        } else {
            acc += theta * theta * t;
        }
    }
    acc
}

#[test]
fn constructors_in_loops_and_branches() {
    let (_, dt) = in_loop_grad(0.7);
    close(dt, 14.0 * 0.7, 1e-12);
}

/// A squared-exponential kernel from a length-scale: K = from_fn(n, n, |i, j| σ² exp(−(xᵢ − xⱼ)²
/// / (2ℓ²))), f = ⟨W, K⟩ (x, W constant).
/// ∂f/∂ℓ = Σᵢⱼ Wᵢⱼ Kᵢⱼ (xᵢ − xⱼ)²/ℓ³,  ∂f/∂σ = Σᵢⱼ Wᵢⱼ 2Kᵢⱼ/σ.
#[differentiate(wrt(ell, sigma))]
fn kernel(ell: f64, sigma: f64, x: &DVector<f64>, w: &DMatrix<f64>) -> f64 {
    let n = x.len();
    let k = DMatrix::from_fn(n, n, |i, j| {
        let d = x[i] - x[j];
        sigma * sigma * (-(d * d) / (2.0 * ell * ell)).exp()
    });
    k.dot(w)
}

#[test]
fn kernel_matrix_from_a_length_scale() {
    let x = DVector::from_vec(vec![0.1, 0.7, -0.4, 1.5]);
    let w = mat(4, 4, 11);
    let (ell, sigma) = (0.8, 1.3);
    let (value, dl, ds) = kernel_grad(ell, sigma, &x, &w);
    let k = DMatrix::from_fn(4, 4, |i, j| sigma * sigma * (-(x[i] - x[j]).powi(2) / (2.0 * ell * ell)).exp());
    assert!((value - k.dot(&w)).abs() < 1e-12);
    let dl_want = DMatrix::from_fn(4, 4, |i, j| w[(i, j)] * k[(i, j)] * (x[i] - x[j]).powi(2) / ell.powi(3)).sum();
    close(dl, dl_want, 1e-12);
    close(ds, 2.0 * k.dot(&w) / sigma, 1e-12);
    assert_fd(|l: &f64| kernel(*l, sigma, &x, &w), &ell, &dl, 1e-7);
    assert_fd(|s: &f64| kernel(ell, *s, &x, &w), &sigma, &ds, 1e-7);
}

/// SMatrix::from_fn and DVector::from_fn with `_`, in f32: A = from_fn(|i, j| s^(i + j + 1)) (2×3),
/// v = from_fn(3, |i, _| s·i); f = Σ A + Σ v.  f′ = Σᵢⱼ (i + j + 1) s^(i + j) + Σᵢ i.
#[differentiate]
fn fixed_fn(s: f32) -> f32 {
    let a = SMatrix::<f32, 2, 3>::from_fn(|i, j| s.powi((i + j + 1) as i32));
    let v = nalgebra::DVector::<f32>::from_fn(3, |i, _| s * i as f32);
    a.sum() + v.sum()
}

#[test]
fn static_from_fn_and_wildcards() {
    let s = 0.9f32;
    let (_, ds) = fixed_fn_grad(s);
    let mut want = 0.0f32;
    for i in 0..2 {
        for j in 0..3 {
            want += (i + j + 1) as f32 * s.powi(i + j);
        }
    }
    want += 3.0;
    assert!((ds - want).abs() < 1e-5, "{ds} vs {want}");
}

/// from_fn in a loop body: f(s) = Σₖ₌₀¹ Σᵢⱼ s (i + j + k) over 2×2, f′ = 4 + 8 = 12.
#[differentiate]
fn fn_in_loop(s: f64) -> f64 {
    let mut acc = 0.0;
    for k in 0..2 {
        acc += DMatrix::from_fn(2, 2, |i, j| s * (i + j + k) as f64).sum();
    }
    acc
}

#[test]
fn from_fn_in_a_loop() {
    close(fn_in_loop_grad(0.3).1, 12.0, 1e-12);
}

/// Constructors and scalar functions in a nested loop, a nested block and a branch arm, with
/// `DVector::from_element(n, s)` (two arguments):
/// f(θ) = Σᵢ₌₀¹ Σⱼ₌₀¹ ‖Vector2::new(θ i, atan(θ) j)‖² + { Σ from_element(3, θ²) } + (arm) θ.hypot(1)
/// = Σᵢⱼ (θ² i² + atan(θ)² j²) + 3θ² + hypot(θ, 1)
/// f′ = Σᵢⱼ (2θ i² + 2 atan(θ) j²/(1 + θ²)) + 6θ + θ/hypot(θ, 1)
///    = 4θ + 4 atan(θ)/(1 + θ²) + 6θ + θ/√(θ² + 1)   (i² summed over j and i: 2; j²: 2).
#[differentiate]
fn nested(theta: f64, k: usize) -> f64 {
    let mut acc = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            let v = Vector2::new(theta * i as f64, theta.atan() * j as f64);
            acc += v.norm_squared();
        }
    }
    let block = {
        let e = DVector::from_element(3, theta * theta);
        e.sum()
    };
    let arm = if k > 0 { theta.hypot(1.0) } else { theta.asinh() };
    acc + block + arm
}

#[test]
fn constructors_in_nested_loops_blocks_and_arms() {
    let t = 0.7f64;
    let (_, d1) = nested_grad(t, 1);
    let want = 4.0 * t + 4.0 * t.atan() / (1.0 + t * t) + 6.0 * t + t / (t * t + 1.0).sqrt();
    close(d1, want, 1e-12);
    // the other arm: asinh′ = 1/√(θ² + 1)
    let (_, d0) = nested_grad(t, 0);
    close(d0, want - t / (t * t + 1.0).sqrt() + 1.0 / (t * t + 1.0).sqrt(), 1e-12);
    assert_fd(|t: &f64| nested(*t, 1), &t, &d1, 1e-7);
}

/// `from_iterator` over differentiated scalars, with the entries written out (column-major):
/// A = DMatrix::from_iterator(2, 2, [x, y, 1, x y]), B = SMatrix::<f64, 1, 3>::from_iterator(
/// [y, 2, x].into_iter()), C = DMatrix::from_iterator(1, 1, vec![x²]), and in a branch arm
/// (x > 0) a DVector from `[x, y].iter().copied()`, else from `.cloned()` of [y, x];
/// f = ⟨W, A⟩ + ⟨V, B⟩ + 3C + Σ arm ⊙ (1, 2).
/// ∂f/∂x = W₀₀ + y W₁₁ + V₀₂ + 6x + (1 if x > 0 else 2),
/// ∂f/∂y = W₁₀ + x W₁₁ + V₀₀ + (2 if x > 0 else 1).
#[differentiate(wrt(x, y))]
#[allow(clippy::useless_conversion)]
fn iterators(x: f64, y: f64, w: &DMatrix<f64>, v: &SMatrix<f64, 1, 3>) -> f64 {
    let a = DMatrix::from_iterator(2, 2, [x, y, 1.0, x * y]);
    let b = SMatrix::<f64, 1, 3>::from_iterator([y, 2.0, x].into_iter());
    let c = DMatrix::from_iterator(1, 1, vec![x * x]);
    let d = if x > 0.0 {
        DVector::from_iterator(2, [x, y].iter().copied())
    } else {
        DVector::from_iterator(2, [y, x].iter().cloned())
    };
    a.dot(w) + b.dot(v) + 3.0 * c[(0, 0)] + d[0] + 2.0 * d[1]
}

#[test]
fn from_iterator_of_differentiated_scalars() {
    let (w, v) = (mat(2, 2, 30), SMatrix::<f64, 1, 3>::new(0.5, -1.5, 2.5));
    for (x, y) in [(0.7, -0.4), (-0.6, 1.3)] {
        let (_, dx, dy) = iterators_grad(x, y, &w, &v);
        let (arm_x, arm_y) = if x > 0.0 { (1.0, 2.0) } else { (2.0, 1.0) };
        close(dx, w[(0, 0)] + y * w[(1, 1)] + v[2] + 6.0 * x + arm_x, 1e-12);
        close(dy, w[(1, 0)] + x * w[(1, 1)] + v[0] + arm_y, 1e-12);
        assert_fd(|x: &f64| iterators(*x, y, &w, &v), &x, &dx, 1e-6);
        assert_fd(|y: &f64| iterators(x, *y, &w, &v), &y, &dy, 1e-6);
    }
}

/// f32, in a loop body: f = Σₖ₌₀² Σ Vector2::from_iterator([s k, s²]) = Σₖ (s k + s²) = 3s + 3s²,
/// f′ = 3 + 6s (6 at s = 0.5).
#[differentiate]
fn iterator_in_loop(s: f32) -> f32 {
    let mut acc = 0.0;
    for k in 0..3 {
        let m = nalgebra::Vector2::from_iterator([s * k as f32, s * s]);
        acc += m.sum();
    }
    acc
}

#[test]
fn from_iterator_in_a_loop_f32() {
    let (_, ds) = iterator_in_loop_grad(0.5f32);
    assert!((ds - 6.0).abs() < 1e-6, "{ds}");
}
