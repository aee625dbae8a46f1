//! Singular vectors, `a.clone().svd(true, true).u.unwrap()` and `.v_t.unwrap()` (issue 12), checked
//! against derivatives by hand and central differences on square, tall, wide, 1×1, 1×n and
//! n×1 shapes, in f64 and f32, `DMatrix` and `SMatrix`, in a body, an arm, a loop and a block;
//! and what happens at repeated singular values.

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, SMatrix};

/// A well-conditioned matrix with distinct singular values: `mat` plus a ramp on the diagonal.
fn generic(r: usize, c: usize, seed: u64) -> DMatrix<f64> {
    let mut a = mat(r, c, seed);
    for i in 0..r.min(c) {
        a[(i, i)] += 1.5 + i as f64;
    }
    a
}

/// The polar factor Q = U Vᵀ of a square A, f(A) = ⟨C, Q⟩ (independent of the vectors' signs).
/// By hand, from A = Q P (P = V Σ Vᵀ): with M = Uᵀ dA V, Qᵀ dQ = V ω Vᵀ, ω antisymmetric,
/// M − Mᵀ = ω Σ + Σ ω, so ωᵢⱼ = (M − Mᵀ)ᵢⱼ / (σᵢ + σⱼ) and df = ⟨UᵀCV, ω⟩ gives
/// ∂f/∂A = U [(X − Xᵀ) ⊘ (σᵢ + σⱼ)] Vᵀ with X = Uᵀ C V.
#[differentiate(wrt(a))]
fn polar(a: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let u = a.clone().svd(true, true).u.unwrap();
    let v_t = a.clone().svd(true, true).v_t.expect("an SVD");
    (u * v_t).dot(c)
}

/// The closed form above, from nalgebra's SVD.
fn polar_by_hand(a: &DMatrix<f64>, c: &DMatrix<f64>) -> DMatrix<f64> {
    let svd = a.clone().svd(true, true);
    let (u, v_t, s) = (svd.u.unwrap(), svd.v_t.unwrap(), svd.singular_values);
    let x = u.transpose() * c * v_t.transpose();
    let n = s.len();
    let y = DMatrix::from_fn(n, n, |i, j| (x[(i, j)] - x[(j, i)]) / (s[i] + s[j]));
    u * y * v_t
}

#[test]
fn polar_factor_matches_the_closed_form_and_differences() {
    for n in [2, 3, 4] {
        let (a, c) = (generic(n, n, 1), mat(n, n, 2));
        let (value, da) = polar_grad(&a, &c);
        assert_eq!(value, polar(&a, &c));
        assert_close(&da, &polar_by_hand(&a, &c), 1e-10);
        assert_fd(|a: &DMatrix<f64>| polar(a, &c), &a, &da, 1e-6);
    }
}

/// Fixed size and f32: the same polar factor of an `SMatrix<f32, 3, 3>`, against the closed
/// form computed in f64.
#[differentiate(wrt(a))]
fn polar3(a: SMatrix<f32, 3, 3>, c: &SMatrix<f32, 3, 3>) -> f32 {
    let u = a.svd(true, true).u.unwrap();
    let v_t = a.svd(true, true).v_t.unwrap();
    (u * v_t).dot(c)
}

#[test]
fn polar_factor_of_a_fixed_size_f32_matrix() {
    let (a, c) = (generic(3, 3, 3), mat(3, 3, 4));
    let (a32, c32) =
        (SMatrix::<f32, 3, 3>::from_fn(|i, j| a[(i, j)] as f32), SMatrix::from_fn(|i, j| c[(i, j)] as f32));
    let (_, da) = polar3_grad(a32, &c32);
    let want = polar_by_hand(&a, &c);
    for k in 0..9 {
        assert!((f64::from(da[k]) - want[k]).abs() < 1e-4, "{da} vs {want}");
    }
}

/// Projectors onto the singular vectors, weighted, plus the singular values:
/// f(A) = ⟨W₁, U diag(c) Uᵀ⟩ + ⟨W₂, V diag(c) Vᵀ⟩ + ⟨c, σ⟩ (independent of the signs; the three
/// fields' rules add up). Tall, wide and square, against central differences.
#[differentiate(wrt(a))]
fn projectors(a: &DMatrix<f64>, w1: &DMatrix<f64>, w2: &DMatrix<f64>, c: &DVector<f64>) -> f64 {
    let u = a.clone().svd(true, true).u.unwrap();
    let v = a.clone().svd(true, true).v_t.unwrap().transpose();
    let d = DMatrix::from_diagonal(c);
    let s = a.clone().svd(true, true).singular_values;
    (&u * &d * u.transpose()).dot(w1) + (&v * &d * v.transpose()).dot(w2) + s.dot(c)
}

#[test]
fn projectors_on_tall_wide_and_square_matrices() {
    for (r, k) in [(5, 2), (2, 4), (3, 3), (4, 3), (3, 5)] {
        let a = generic(r, k, 5);
        let (w1, w2) = (mat(r, r, 6), mat(k, k, 7));
        let c = DVector::from_fn(r.min(k), |i, _| 1.0 + 0.8 * i as f64);
        let (value, da) = projectors_grad(&a, &w1, &w2, &c);
        assert_eq!(value, projectors(&a, &w1, &w2, &c));
        assert_fd(|a: &DMatrix<f64>| projectors(a, &w1, &w2, &c), &a, &da, 1e-6);
    }
}

/// One column (n×1): U = ±a/‖a‖, V = ±1; one row (1×n): Vᵀ = ±a/‖a‖, U = ±1. With
/// f = (w · u)² + (z · v)²: for a column, f = (w·a)²/‖a‖² + z², ∂f/∂a = 2(w·a) w/‖a‖² −
/// 2(w·a)² a/‖a‖⁴; for a row the same with w replaced by z (and 1×1: ∂f/∂a = 0).
#[differentiate(wrt(a))]
fn first_pair(a: &DMatrix<f64>, w: &DMatrix<f64>, z: &DMatrix<f64>) -> f64 {
    let u = a.clone().svd(true, true).u.unwrap();
    let v_t = a.clone().svd(true, true).v_t.unwrap();
    let p = u.dot(w);
    let q = v_t.transpose().dot(z);
    p * p + q * q
}

#[test]
fn one_column_one_row_and_one_entry() {
    for (r, c) in [(4, 1), (1, 4), (1, 1)] {
        let a = generic(r, c, 8);
        let (w, z) = (mat(r, 1, 9), mat(c, 1, 10));
        let (_, da) = first_pair_grad(&a, &w, &z);
        let along = if c == 1 && r > 1 { &w } else { &z };
        let want = if r == c {
            DMatrix::zeros(1, 1)
        } else {
            let col = DMatrix::from_column_slice(r * c, 1, a.as_slice());
            let (wa, aa) = (along.dot(&col), col.norm_squared());
            let g = 2.0 * wa / aa * along - 2.0 * wa * wa / (aa * aa) * &col;
            DMatrix::from_column_slice(r, c, g.as_slice())
        };
        assert_close(&da, &want, 1e-10);
        assert_fd(|a: &DMatrix<f64>| first_pair(a, &w, &z), &a, &da, 1e-6);
    }
}

/// In an arm, a loop body and a block: two iterations add ⟨C, U Vᵀ⟩ (s > 0) or ⟨C, U Uᵀ⟩
/// (= tr C for a square A: gradient 0), and a block adds ⟨C, U Vᵀ⟩ once more. For s > 0,
/// ∂f/∂A = 3 times `polar`'s closed form; both signs against central differences.
#[differentiate(wrt(a))]
fn positions(a: &DMatrix<f64>, c: &DMatrix<f64>, s: f64) -> f64 {
    let mut acc = 0.0;
    for _ in 0..2 {
        let t = if s > 0.0 {
            let u = a.clone().svd(true, true).u.unwrap();
            (u * a.clone().svd(true, true).v_t.unwrap()).dot(c)
        } else {
            let u = a.clone().svd(true, true).u.unwrap();
            (&u * u.transpose()).dot(c)
        };
        acc += t;
    }
    let b = {
        let q = a.clone().svd(true, true).u.unwrap() * a.clone().svd(true, true).v_t.unwrap();
        q.dot(c)
    };
    acc + b
}

#[test]
fn singular_vectors_in_arms_loops_and_blocks() {
    let (a, c) = (generic(3, 3, 11), mat(3, 3, 12));
    let (_, da) = positions_grad(&a, &c, 1.0);
    assert_close(&da, &(3.0 * polar_by_hand(&a, &c)), 1e-10);
    for s in [1.0, -1.0] {
        let (_, da) = positions_grad(&a, &c, s);
        assert_fd(|a: &DMatrix<f64>| positions(a, &c, s), &a, &da, 1e-6);
    }
}

/// At a repeated singular value (A = diag(2, 2, 1)) the vectors of the repeated one are not
/// unique and their derivative is infinite: the gradient is not finite there (documented), even
/// for the polar factor, which is smooth there. It is never a silently wrong number.
#[test]
fn singular_vectors_at_a_repeated_singular_value() {
    let a = DMatrix::from_diagonal(&DVector::from_vec(vec![2.0, 2.0, 1.0]));
    let c = mat(3, 3, 13);
    let (_, da) = polar_grad(&a, &c);
    assert!(da.iter().any(|x| !x.is_finite()), "{da}");
    let (w1, w2) = (mat(3, 3, 14), mat(3, 3, 15));
    let weights = DVector::from_vec(vec![1.0, 2.0, 3.0]);
    let (_, da) = projectors_grad(&a, &w1, &w2, &weights);
    assert!(da.iter().any(|x| !x.is_finite()), "{da}");
}
