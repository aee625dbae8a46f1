//! `let (s, c) = x.sin_cos();`: the pair is `(x.sin(), x.cos())` (std computes it so, bit for
//! bit), in every position a `let` can be — the function body, a branch arm, a loop body, nested
//! loops, a `map` closure, a nested block — each gradient checked against its derivative by hand
//! and central differences, in f64 and f32, static and dynamic sizes.

mod common;

use common::{assert_close, assert_fd, assert_same_value, mat, SHAPES};
use matgrad::differentiate;
use nalgebra::{DMatrix, Matrix2, SMatrix, Vector2};

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
}

/// R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]] and its derivative R′(θ) = [[−sin θ, −cos θ], [cos θ, −sin θ]].
fn rotation(t: f64) -> (Matrix2<f64>, Matrix2<f64>) {
    let (s, c) = (t.sin(), t.cos());
    (Matrix2::new(c, -s, s, c), Matrix2::new(-s, -c, c, -s))
}

// ---------------------------------------------------------------- the function body

/// f(θ, p, q) = (R(θ) p) · q: ∂θ = (R′(θ) p) · q, ∂p = R(θ)ᵀ q, ∂q = R(θ) p.
#[differentiate]
fn rotate(theta: f64, p: &Vector2<f64>, q: &Vector2<f64>) -> f64 {
    let (s, c) = theta.sin_cos();
    let r = Matrix2::new(c, -s, s, c);
    (r * p).dot(q)
}

#[test]
fn in_the_body() {
    let (p, q) = (Vector2::new(0.7, -1.3), Vector2::new(0.4, 2.1));
    for theta in [-2.0, -0.3, 0.0, 0.9, 3.0] {
        let (value, dt, dp, dq) = rotate_grad(theta, &p, &q);
        assert_eq!(value, rotate(theta, &p, &q));
        let (r, r1) = rotation(theta);
        close(dt, (r1 * p).dot(&q), 1e-14);
        assert!((dp - r.transpose() * q).abs().max() < 1e-14);
        assert!((dq - r * p).abs().max() < 1e-14);
        assert_fd(|t: &f64| rotate(*t, &p, &q), &theta, &dt, 1e-7);
    }
}

/// A receiver that is an expression, a typed pattern, and a pair that rebinds its receiver's
/// name: f(t) = sin 2t · cos 2t + (sin t² + cos t²) + sin t · cos t, with ∂t = 2 cos 4t
/// + 2t (cos t² − sin t²) + cos 2t.
#[differentiate]
fn spellings(t: f64) -> f64 {
    let (s, c) = (2.0 * t).sin_cos();
    let (s2, c2): (f64, f64) = (t * t).sin_cos();
    let first = s * c + (s2 + c2);
    let (t, c) = t.sin_cos();
    first + t * c
}

#[test]
fn receivers_types_and_rebinding() {
    for t in [-1.1, 0.2, 0.8] {
        let (value, dt) = spellings_grad(t);
        assert_eq!(value, spellings(t));
        let want = 2.0 * (4.0 * t).cos() + 2.0 * t * ((t * t).cos() - (t * t).sin()) + (2.0 * t).cos();
        close(dt, want, 1e-13);
        assert_fd(|t: &f64| spellings(*t), &t, &dt, 1e-7);
    }
}

// ---------------------------------------------------------------- a branch arm

/// f(t) = sin t² cos t² = ½ sin 2t² for t > 0, t otherwise: ∂t = 2t cos 2t², or 1.
#[differentiate]
fn in_arm(t: f64) -> f64 {
    if t > 0.0 {
        let (s, c) = (t * t).sin_cos();
        s * c
    } else {
        t
    }
}

#[test]
fn in_a_branch_arm() {
    for t in [-0.7, 0.3, 1.4] {
        let (value, dt) = in_arm_grad(t);
        assert_eq!(value, in_arm(t));
        let want = if t > 0.0 { 2.0 * t * (2.0 * t * t).cos() } else { 1.0 };
        close(dt, want, 1e-13);
        assert_fd(|t: &f64| in_arm(*t), &t, &dt, 1e-7);
    }
}

// ---------------------------------------------------------------- a loop body, nested loops

/// n rotations by θ: f(θ, p, q) = (R(θ)ⁿ p) · q = (R(nθ) p) · q, so ∂θ = n (R′(nθ) p) · q and
/// ∂p = R(nθ)ᵀ q.
#[differentiate]
fn spin(theta: f64, p: &Vector2<f64>, q: &Vector2<f64>, n: usize) -> f64 {
    let mut v = *p;
    for _ in 0..n {
        let (s, c) = theta.sin_cos();
        v = Matrix2::new(c, -s, s, c) * v;
    }
    v.dot(q)
}

#[test]
fn in_a_loop_body() {
    let (p, q) = (Vector2::new(0.7, -1.3), Vector2::new(0.4, 2.1));
    for (theta, n) in [(0.4, 1), (-0.25, 3), (1.3, 5)] {
        let (value, dt, dp, _) = spin_grad(theta, &p, &q, n);
        assert_eq!(value, spin(theta, &p, &q, n));
        let (r, r1) = rotation(n as f64 * theta);
        close(dt, n as f64 * (r1 * p).dot(&q), 1e-12);
        assert!((dp - r.transpose() * q).abs().max() < 1e-12);
        assert_fd(|t: &f64| spin(*t, &p, &q, n), &theta, &dt, 1e-7);
    }
}

/// f(t, X) = Σᵢⱼ sin(t xᵢⱼ) cos xᵢⱼ + cos(t xᵢⱼ) sin xᵢⱼ = Σ sin((t + 1) xᵢⱼ):
/// ∂t = Σ xᵢⱼ cos((t + 1) xᵢⱼ), ∂X = (t + 1) cos((t + 1) X).
#[differentiate]
fn in_nested_loops(t: f64, x: &DMatrix<f64>) -> f64 {
    let mut acc = 0.0;
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            let (s1, c1) = (t * x[(i, j)]).sin_cos();
            let (s2, c2) = x[(i, j)].sin_cos();
            acc += s1 * c2 + c1 * s2;
        }
    }
    acc
}

#[test]
fn in_nested_loop_bodies() {
    let t = 0.6;
    for (k, &(r, c)) in SHAPES.iter().enumerate() {
        let x = mat(r, c, k as u64 + 1);
        let (value, dt, dx) = in_nested_loops_grad(t, &x);
        assert_eq!(value, in_nested_loops(t, &x));
        close(dt, x.map(|v| v * ((t + 1.0) * v).cos()).sum(), 1e-12);
        assert_close(&dx, &x.map(|v| (t + 1.0) * ((t + 1.0) * v).cos()), 1e-12);
        assert_fd(|t: &f64| in_nested_loops(*t, &x), &t, &dt, 1e-7);
        assert_fd(|x: &DMatrix<f64>| in_nested_loops(t, x), &x, &dx, 1e-7);
    }
}

// ---------------------------------------------------------------- a map closure

/// f(X) = Σ sin x cos² x: ∂X = cos³ X − 2 sin² X cos X, entrywise.
#[differentiate]
fn in_map(x: &DMatrix<f64>) -> f64 {
    x.map(|v| {
        let (s, c) = v.sin_cos();
        s * c * c
    })
    .sum()
}

#[test]
fn in_a_map_closure() {
    for (k, &(r, c)) in SHAPES.iter().enumerate() {
        let x = mat(r, c, k as u64 + 11) * 2.0;
        let (value, dx) = in_map_grad(&x);
        assert_same_value([&value], [&in_map(&x)]);
        let want = x.map(|v| v.cos().powi(3) - 2.0 * v.sin().powi(2) * v.cos());
        assert_close(&dx, &want, 1e-12);
        assert_fd(|x: &DMatrix<f64>| in_map(x), &x, &dx, 1e-7);
    }
}

/// f32, fixed size, a captured differentiated scalar: f(X, a) = Σ sin(a x) + cos(a x), so
/// ∂X = a (cos(a X) − sin(a X)) and ∂a = Σ x (cos(a x) − sin(a x)).
#[differentiate]
fn in_map32(x: &SMatrix<f32, 1, 3>, a: f32) -> f32 {
    x.map(|v| {
        let (s, c) = (a * v).sin_cos();
        s + c
    })
    .sum()
}

#[test]
fn in_a_map_closure_f32_fixed_size() {
    let x = SMatrix::<f32, 1, 3>::new(0.3, -1.2, 0.8);
    let a = 0.7f32;
    let (value, dx, da) = in_map32_grad(&x, a);
    assert!((value - in_map32(&x, a)).abs() < 1e-6);
    let want = x.map(|v| a * ((a * v).cos() - (a * v).sin()));
    assert!((dx - want).abs().max() < 1e-6, "{dx} vs {want}");
    let da_want: f32 = x.map(|v| v * ((a * v).cos() - (a * v).sin())).sum();
    assert!((da - da_want).abs() < 1e-5, "{da} vs {da_want}");
    // central differences in f64 on the same formula
    let f64_of = |a: f64| x.map(f64::from).map(|v| (a * v).sin() + (a * v).cos()).sum();
    let h = 1e-6;
    let fd = (f64_of(f64::from(a) + h) - f64_of(f64::from(a) - h)) / (2.0 * h);
    assert!((f64::from(da) - fd).abs() < 1e-4, "{da} vs {fd}");
}

// ---------------------------------------------------------------- a nested block

/// f(t) = y², y = sin(t − 1) + cos(t − 1): ∂t = 2y (cos(t − 1) − sin(t − 1)).
#[differentiate]
fn in_block(t: f32) -> f32 {
    let y = {
        let (s, c) = (t - 1.0).sin_cos();
        s + c
    };
    y * y
}

#[test]
fn in_a_nested_block_f32() {
    for t in [-0.5f32, 0.4, 2.0] {
        let (value, dt) = in_block_grad(t);
        assert_eq!(value, in_block(t));
        let (s, c) = ((t - 1.0).sin(), (t - 1.0).cos());
        let want = 2.0 * (s + c) * (c - s);
        assert!((dt - want).abs() <= 1e-5 * want.abs().max(1.0), "{dt} vs {want}");
        let f = |t: f64| {
            let y = (t - 1.0).sin() + (t - 1.0).cos();
            y * y
        };
        let h = 1e-6;
        let fd = (f(f64::from(t) + h) - f(f64::from(t) - h)) / (2.0 * h);
        assert!((f64::from(dt) - fd).abs() < 1e-4, "{dt} vs {fd}");
    }
}

// ---------------------------------------------------------------- forward mode and H·v

/// The rotation with forward mode: f(θ) = (R(θ) p) · q, f′(θ) = (R′(θ) p) · q and
/// f″(θ) = −f(θ) (R″ = −R).
#[differentiate(wrt(theta), forward)]
fn rotate_fwd(theta: f64, p: &Vector2<f64>, q: &Vector2<f64>) -> f64 {
    let (s, c) = theta.sin_cos();
    (Matrix2::new(c, -s, s, c) * p).dot(q)
}

#[test]
fn tangents_and_hessian_vector_products() {
    let (p, q) = (Vector2::new(0.7, -1.3), Vector2::new(0.4, 2.1));
    for theta in [-0.8, 0.5, 2.2] {
        let (r, r1) = rotation(theta);
        let (value, tangent) = rotate_fwd_jvp(theta, &p, &q, 0.5);
        assert_eq!(value, rotate_fwd(theta, &p, &q));
        close(tangent, 0.5 * (r1 * p).dot(&q), 1e-14);
        let (_, g, hv) = rotate_fwd_hvp(theta, &p, &q, 2.0);
        close(g, (r1 * p).dot(&q), 1e-14);
        close(hv, -2.0 * (r * p).dot(&q), 1e-13);
    }
}
