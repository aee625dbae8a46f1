//! Forward mode: `_jvp` against central differences of the function along the tangent, and
//! against closed forms derived by hand; every construct in its positions (body, branch arm,
//! loop body, nested loops, `map` closure, nested block), f32 and f64, SMatrix and DMatrix,
//! non-square, 1×1 and 1×n shapes.

mod common;

use common::{assert_close, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, Matrix3, RowDVector, SMatrix, SVector, Vector3};

/// The central difference of a scalar `f` along `t` at `x`: (f(x + ht) − f(x − ht)) / 2h.
fn fd<F: Fn(&DMatrix<f64>) -> f64>(f: F, x: &DMatrix<f64>, t: &DMatrix<f64>) -> f64 {
    let h = 1e-6;
    (f(&(x + t * h)) - f(&(x - t * h))) / (2.0 * h)
}

fn assert_near(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
}

/// f(W) = ‖σ(XW) − Y‖² (seed 001's network).
#[differentiate(wrt(w), forward)]
fn network(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}

#[test]
fn network_jvp_matches_central_differences_and_the_closed_form() {
    for &(n, m, k) in &[(8, 4, 3), (1, 1, 1), (1, 4, 1), (5, 2, 6)] {
        let (w, x, y, t) = (mat(m, k, 1), mat(n, m, 2), mat(n, k, 3), mat(m, k, 4));
        let (value, tangent) = network_jvp(&w, &x, &y, &t);
        assert_eq!(value, network(&w, &x, &y));
        assert_near(tangent, fd(|w| network(w, &x, &y), &w, &t), 1e-6);
        // ḟ = ⟨2(a − y) ⊙ a ⊙ (1 − a), X T⟩ (σ′ = σ(1 − σ)).
        let a = (&x * &w).map(|v| 1.0 / (1.0 + (-v).exp()));
        let g = (&a - &y).component_mul(&a.map(|v| 2.0 * v * (1.0 - v)));
        assert_near(tangent, g.dot(&(&x * &t)), 1e-12);
    }
}

/// The quadratic form aᵀXa, both differentiated.
#[differentiate(wrt(x, a), forward)]
fn quadratic(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (a.transpose() * x * a)[(0, 0)]
}

#[test]
fn quadratic_jvp_is_the_product_rule() {
    let (x, a, tx, ta) = (mat(4, 4, 1), mat(4, 1, 2), mat(4, 4, 3), mat(4, 1, 4));
    let (_, tangent) = quadratic_jvp(&x, &a, &tx, &ta);
    // ḟ = ȧᵀXa + aᵀẊa + aᵀXȧ
    let closed = (ta.transpose() * &x * &a + a.transpose() * &tx * &a + a.transpose() * &x * &ta)[(0, 0)];
    assert_near(tangent, closed, 1e-12);
    let h = 1e-6;
    let f = |s: f64| quadratic(&(&x + &tx * s), &(&a + &ta * s));
    assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-7);
}

/// ln det S through a Cholesky factorization, and tr(S⁻¹C) through a solve and an inverse.
#[differentiate(wrt(s), forward)]
fn gaussian(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().unwrap();
    let inv = chol.inverse();
    chol.ln_determinant() + chol.solve(c).trace() + 0.5 * (inv * c).trace()
}

fn spd(n: usize, seed: u64) -> DMatrix<f64> {
    let a = mat(n, n, seed);
    &a * a.transpose() + DMatrix::identity(n, n) * n as f64
}

fn sym(n: usize, seed: u64) -> DMatrix<f64> {
    let a = mat(n, n, seed);
    &a + a.transpose()
}

#[test]
fn gaussian_jvp_matches_the_closed_form() {
    for n in [1, 3, 5] {
        let (s, c, v) = (spd(n, 1), spd(n, 2), sym(n, 3));
        let (value, tangent) = gaussian_jvp(&s, &c, &v);
        assert_eq!(value, gaussian(&s, &c));
        // d ln det S = tr(S⁻¹V), d tr(S⁻¹C) = −tr(S⁻¹VS⁻¹C)
        let si = s.clone().try_inverse().unwrap();
        let closed = (&si * &v).trace() - 1.5 * (&si * &v * &si * &c).trace();
        assert_near(tangent, closed, 1e-10);
        assert_near(tangent, fd(|s| gaussian(s, &c), &s, &v), 1e-6);
    }
}

/// An LU solve and an explicit inverse of a non-symmetric matrix, a rectangular right side.
#[differentiate(wrt(a, b), forward)]
fn solves(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let x = a.clone().lu().solve(b).unwrap();
    let inv = a.clone().try_inverse().unwrap();
    x.norm_squared() + (inv * b).sum()
}

#[test]
fn solves_jvp_matches_central_differences() {
    let a = mat(4, 4, 1) + DMatrix::identity(4, 4) * 3.0;
    let (b, ta, tb) = (mat(4, 2, 2), mat(4, 4, 3), mat(4, 2, 4));
    let (_, tangent) = solves_jvp(&a, &b, &ta, &tb);
    let h = 1e-6;
    let f = |s: f64| solves(&(&a + &ta * s), &(&b + &tb * s));
    assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-7);
}

/// A matrix-valued function: its tangent has the value's shape.
#[differentiate(wrt(w), forward)]
fn layer(w: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    (x * w).map(|v| v.tanh()).transpose()
}

#[test]
fn matrix_valued_jvp_is_the_directional_derivative() {
    let (w, x, t) = (mat(3, 2, 1), mat(5, 3, 2), mat(3, 2, 3));
    let (value, tangent) = layer_jvp(&w, &x, &t);
    assert_eq!(value, layer(&w, &x));
    // Ẏ = (tanh′(XW) ⊙ XT)ᵀ
    let closed = (&x * &w).map(|v| 1.0 - v.tanh().powi(2)).component_mul(&(&x * &t)).transpose();
    assert_close(&tangent, &closed, 1e-12);
    let h = 1e-6;
    let fd = (layer(&(&w + &t * h), &x) - layer(&(&w - &t * h), &x)) / (2.0 * h);
    assert_close(&tangent, &fd, 1e-7);
}

/// Scalar functions on scalars and in closures, a differentiated capture, a branch and a
/// nested block inside the closure.
#[differentiate(wrt(x, s), forward)]
fn scalars(x: &DMatrix<f64>, s: f64) -> f64 {
    let k = s.sin() * s.cos() + s.sqrt() + s.ln() + s.recip() + s.tan() + s.sinh() - s.cosh();
    let y = x.map(|v| {
        let u = (v * s).tanh() + v.abs() * s + (v - 0.1).max(0.0) + v.powi(3) / s;
        if v > 0.0 {
            u * u.exp()
        } else {
            let w = { v.min(s) * 2.0 };
            w - u
        }
    });
    y.sum() * k + (x.component_div(&x.map(|v| v * v + 1.0))).mean()
}

#[test]
fn scalar_functions_jvp_matches_central_differences() {
    let (x, tx) = (mat(3, 4, 1), mat(3, 4, 2));
    let (s, ts) = (0.7, -0.4);
    let (_, tangent) = scalars_jvp(&x, s, &tx, ts);
    let h = 1e-6;
    let f = |e: f64| scalars(&(&x + &tx * e), s + ts * e);
    assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-6);
    // Along s alone.
    let (_, along_s) = scalars_jvp(&x, s, &DMatrix::zeros(3, 4), 1.0);
    let f = |e: f64| scalars(&x, s + e);
    assert_near(along_s, (f(h) - f(-h)) / (2.0 * h), 1e-6);
}

/// Control flow: a branch on a computed value, a loop carrying a matrix and an accumulator,
/// a nested loop, an early exit from a `while`.
#[differentiate(wrt(w, h0), forward)]
fn recurrent(w: &DMatrix<f64>, h0: &DMatrix<f64>, steps: usize) -> f64 {
    let mut h = h0.clone();
    let mut acc = 0.0;
    for k in 0..steps {
        h = (w * &h).map(|v| v.tanh());
        if h.sum() > 0.0 {
            acc += h.norm_squared();
        } else {
            acc -= h[(k % 3, 0)];
        }
        for j in 0..2 {
            acc += h.column(j).sum() * 0.5;
        }
    }
    let mut r = acc;
    let mut n = 0;
    while r.abs() > 0.1 && n < 5 {
        r *= 0.5;
        n += 1;
    }
    if acc > 100.0 {
        acc
    } else {
        r + acc
    }
}

#[test]
fn control_flow_jvp_matches_central_differences() {
    for seed in 0..4 {
        let (w, h0, tw, th) = (mat(3, 3, seed), mat(3, 2, seed + 10), mat(3, 3, seed + 20), mat(3, 2, seed + 30));
        let (value, tangent) = recurrent_jvp(&w, &h0, 4, &tw, &th);
        assert_eq!(value, recurrent(&w, &h0, 4));
        let h = 1e-6;
        let f = |e: f64| recurrent(&(&w + &tw * e), &(&h0 + &th * e), 4);
        assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-6);
    }
}

/// Views, reductions, structure and broadcasting.
#[differentiate(wrt(a, b), forward)]
fn structure(a: &DMatrix<f64>, b: &RowDVector<f64>) -> f64 {
    let m = matgrad::add_row_vector(a, b);
    let t = m.rows(1, 2) * m.row(0).transpose();
    let d = m.fixed_view::<2, 2>(0, 1).clone_owned();
    let r = m.row_sum() + b.scale(2.0);
    let mut e = m.clone();
    e[(0, 1)] = b[0] * b[1];
    e.set_column(0, &m.column(2));
    t.sum() + d.trace() + r.dot(b) + m.column_mean().norm() + m.tr_mul(&m).trace() + (&e / 3.0).sum()
}

#[test]
fn structure_jvp_matches_central_differences() {
    let (a, ta) = (mat(4, 3, 1), mat(4, 3, 2));
    let b = RowDVector::from_row_slice(&[0.3, -0.5, 0.8]);
    let tb = RowDVector::from_row_slice(&[0.2, 0.7, -0.1]);
    let (_, tangent) = structure_jvp(&a, &b, &ta, &tb);
    let h = 1e-6;
    let f = |e: f64| structure(&(&a + &ta * e), &(&b + &tb * e));
    assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-7);
}

/// Fixed sizes in f32 (the pose residual with a loop over points, as `examples/pose.rs`).
#[differentiate(wrt(r, t), forward)]
fn pose(r: &Matrix3<f32>, t: &Vector3<f32>, p: &SMatrix<f32, 3, 8>, q: &SMatrix<f32, 3, 8>) -> f32 {
    let mut fit = 0.0;
    for i in 0..8 {
        let e = r * p.column(i) + t - q.column(i);
        fit += e.norm_squared();
    }
    let gram = r.tr_mul(r) - Matrix3::identity();
    fit + gram.norm_squared()
}

#[test]
fn fixed_size_f32_jvp_matches_the_closed_form() {
    let r = Matrix3::<f32>::from_fn(|i, j| if i == j { 0.9 } else { 0.1 * (i as f32 - j as f32) });
    let t = Vector3::<f32>::new(0.1, -0.2, 0.3);
    let p = SMatrix::<f32, 3, 8>::from_fn(|i, j| ((i * 5 + j * 3) % 7) as f32 / 3.5 - 1.0);
    let q = SMatrix::<f32, 3, 8>::from_fn(|i, j| ((i * 3 + j * 5) % 7) as f32 / 3.5 - 1.0);
    let tr = Matrix3::<f32>::from_fn(|i, j| 0.3 * i as f32 - 0.2 * j as f32);
    let tt = Vector3::<f32>::new(0.5, 0.1, -0.4);
    let (value, tangent) = pose_jvp(&r, &t, &p, &q, &tr, &tt);
    assert_eq!(value, pose(&r, &t, &p, &q));
    // ḟ = Σᵢ 2⟨eᵢ, Ṙpᵢ + ṫ⟩ + 2⟨G, ṘᵀR + RᵀṘ⟩, in f64.
    let (r, t, p, q, tr, tt) =
        (r.cast::<f64>(), t.cast::<f64>(), p.cast::<f64>(), q.cast::<f64>(), tr.cast::<f64>(), tt.cast::<f64>());
    let mut closed = 0.0;
    for i in 0..8 {
        let e = r * p.column(i) + t - q.column(i);
        closed += 2.0 * e.dot(&(tr * p.column(i) + tt));
    }
    let g = r.transpose() * r - Matrix3::identity();
    closed += 2.0 * g.dot(&(tr.transpose() * r + r.transpose() * tr));
    assert!((f64::from(tangent) - closed).abs() < 1e-4 * closed.abs().max(1.0), "{tangent} vs {closed}");
}

/// A generic function, used at f32 and f64, with a static vector.
#[differentiate(wrt(x), forward)]
fn generic<T: nalgebra::RealField + Copy>(x: &SVector<T, 4>) -> T {
    x.map(|v| v.sin() * v).sum() * x.norm()
}

#[test]
fn generic_jvp_at_f32_and_f64() {
    let x = SVector::<f64, 4>::new(0.3, -0.7, 1.1, 0.2);
    let t = SVector::<f64, 4>::new(0.5, 0.1, -0.3, 0.8);
    let (_, d64) = generic_jvp(&x, &t);
    let (_, d32) = generic_jvp(&x.cast::<f32>(), &t.cast::<f32>());
    let h = 1e-6;
    let fd = (generic(&(x + t * h)) - generic(&(x - t * h))) / (2.0 * h);
    assert_near(d64, fd, 1e-7);
    assert!((f64::from(d32) - fd).abs() < 1e-5 * fd.abs().max(1.0), "{d32} vs {fd}");
}

/// A differentiated helper, called below with a differentiated and a constant argument.
#[differentiate(forward)]
fn energy(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a.transpose() * b).map(|v| v.tanh()).sum()
}

/// A scalar helper, called inside a `map` closure.
#[differentiate(forward)]
fn softplus(v: f64) -> f64 {
    (v.exp() + 1.0).ln()
}

/// A matrix-valued helper.
#[differentiate(wrt(w), forward)]
fn affine(w: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    x * w
}

/// Composition: each call's tangent comes from the callee's `_tangent`.
#[differentiate(wrt(w), forward)]
fn composed(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let z = affine(w, x);
    let s = z.map(softplus);
    let e = energy(&s, x) + energy(x, &s);
    if e > 0.0 {
        e * softplus(z[(0, 0)])
    } else {
        e
    }
}

#[test]
fn composition_jvp_matches_central_differences() {
    let (w, x, t) = (mat(3, 3, 1), mat(3, 3, 2), mat(3, 3, 3));
    let (value, tangent) = composed_jvp(&w, &x, &t);
    assert_eq!(value, composed(&w, &x));
    assert_near(tangent, fd(|w| composed(w, &x), &w, &t), 1e-6);
}

/// `zip_map` with a differentiated capture, and the scalar functions of the second table.
#[differentiate(wrt(x, y, s), forward)]
fn more_scalars(x: &DMatrix<f64>, y: &DMatrix<f64>, s: f64) -> f64 {
    let z = x.zip_map(y, |a, b| (a * b + s).sin() + a.atan2(b) + a.hypot(b * s) + a.mul_add(s, b));
    let w = x.map(|v| {
        v.ln_1p()
            + v.exp_m1()
            + (v + 2.0).log2()
            + (v + 2.0).log10()
            + (v + 2.0).log(s + 1.0)
            + (v * 0.5).asin()
            + (v * 0.5).acos()
            + v.atan()
            + v.asinh()
            + (v + 2.0).acosh()
            + (v * 0.5).atanh()
            + (v + 2.0).cbrt()
            + v.signum()
            + (v + 2.0).powf(s)
            + v.clamp(-0.5, s)
    });
    let p = matgrad::softmax_rows(&z);
    let l = matgrad::logsumexp_rows(&w);
    let q = matgrad::quadform(&(x.transpose() * x), y);
    z.sum() + w.sum() + (p.component_mul(&w)).sum() + l.sum() + q.trace() + x.normalize().dot(y)
}

#[test]
fn more_scalar_functions_jvp_matches_central_differences() {
    let (x, y, tx, ty) = (mat(3, 3, 1) * 0.9, mat(3, 3, 2), mat(3, 3, 3), mat(3, 3, 4));
    let (s, ts) = (0.7, 0.3);
    let (value, tangent) = more_scalars_jvp(&x, &y, s, &tx, &ty, ts);
    assert_eq!(value, more_scalars(&x, &y, s));
    let h = 1e-6;
    let f = |e: f64| more_scalars(&(&x + &tx * e), &(&y + &ty * e), s + ts * e);
    assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-6);
}

/// Constructors that read differentiated scalars (`from_fn` with `i`, `j`, `new`), `stack!`
/// and `from_element`. (nalgebra's `stack!` binds with `let ref`.)
#[allow(clippy::toplevel_ref_arg)]
#[differentiate(wrt(x, s), forward)]
fn constructors(x: &DMatrix<f64>, s: f64) -> f64 {
    let k = DMatrix::from_fn(3, 3, |i, j| (-((i as f64 - j as f64) / s).powi(2)).exp());
    let r = nalgebra::Matrix2::new(s.cos(), -s.sin(), s.sin(), s.cos());
    let e = DMatrix::from_element(1, 2, s * s);
    let b = nalgebra::stack![x; e];
    (k * x).sum() + r.trace() * r[(0, 1)] + b.norm_squared()
}

#[test]
fn constructors_jvp_matches_central_differences() {
    let (x, tx) = (mat(3, 2, 1), mat(3, 2, 2));
    let (s, ts) = (0.8, -0.5);
    let (value, tangent) = constructors_jvp(&x, s, &tx, ts);
    assert_eq!(value, constructors(&x, s));
    let h = 1e-6;
    let f = |e: f64| constructors(&(&x + &tx * e), s + ts * e);
    assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-7);
    let (_, _, _, hx, hs) = constructors_hvp(&x, s, &tx, ts);
    let (p, m) =
        (constructors_grad(&(&x + &tx * 1e-5), s + ts * 1e-5), constructors_grad(&(&x - &tx * 1e-5), s - ts * 1e-5));
    assert_close(&hx, &((p.1 - m.1) / 2e-5), 1e-6);
    assert_near(hs, (p.2 - m.2) / 2e-5, 1e-6);
}

/// The rest of the table: `cross`, `kronecker`, `select_rows`, `reshape_generic`,
/// `component_div`, `add_scalar`, `diagonal`, `from_diagonal`, `swap_rows`, views.
#[differentiate(wrt(a, b, s), forward)]
fn table(a: &DMatrix<f64>, b: &DMatrix<f64>, s: f64) -> f64 {
    let u = Vector3::new(a[(0, 0)], a[(1, 0)], s);
    let v = Vector3::new(b[(0, 1)], s * s, b[(1, 1)]);
    let c = u.cross(&v);
    let k = a.kronecker(b);
    let r = k.select_rows(&[0, 2, 3]);
    let q = r.reshape_generic(nalgebra::Dyn(6), nalgebra::Dyn(2));
    let d = a.component_div(&b.add_scalar(3.0));
    let mut m = DMatrix::from_diagonal(&a.diagonal());
    m.swap_rows(0, 1);
    c.norm_squared() + q.columns(0, 1).sum() * q[(5, 1)] + d.mean() + m.view((0, 0), (2, 1)).sum() * s
}

#[test]
fn the_rest_of_the_table_jvp_matches_central_differences() {
    let (a, b, ta, tb) = (mat(2, 2, 1), mat(2, 2, 2), mat(2, 2, 3), mat(2, 2, 4));
    let (s, ts) = (0.4, 0.9);
    let (_, tangent) = table_jvp(&a, &b, s, &ta, &tb, ts);
    let h = 1e-6;
    let f = |e: f64| table(&(&a + &ta * e), &(&b + &tb * e), s + ts * e);
    assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-7);
}

/// Reductions and selections: `max`, `min`, `amax` of matrices, `sup`, `inf`.
#[differentiate(wrt(a, b), forward)]
fn selections(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let s = a.sup(b);
    let i = a.inf(&(b * 2.0));
    s.max() * i.min() + (a - b).amax() + s.component_mul(&i).sum()
}

#[test]
fn selections_jvp_and_hvp_match_central_differences() {
    let (a, b, ta, tb) = (mat(3, 4, 1), mat(3, 4, 2), mat(3, 4, 3), mat(3, 4, 4));
    let (_, tangent) = selections_jvp(&a, &b, &ta, &tb);
    let h = 1e-6;
    let f = |e: f64| selections(&(&a + &ta * e), &(&b + &tb * e));
    assert_near(tangent, (f(h) - f(-h)) / (2.0 * h), 1e-7);
    let (_, _, _, ha, hb) = selections_hvp(&a, &b, &ta, &tb);
    let (p, m) = (
        selections_grad(&(&a + &ta * 1e-5), &(&b + &tb * 1e-5)),
        selections_grad(&(&a - &ta * 1e-5), &(&b - &tb * 1e-5)),
    );
    assert_close(&ha, &((p.1 - m.1) / 2e-5), 1e-6);
    assert_close(&hb, &((p.2 - m.2) / 2e-5), 1e-6);
}
