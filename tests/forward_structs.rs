//! Forward mode over struct (`#[derive(Differentiable)]`), tuple and slice parameters in
//! `wrt`: the tangent has the parameter's type; `_jvp` against central differences of f along
//! it, `_hvp` (whose gradient and H·v have the parameter's type too) against central
//! differences of `_grad` along v, with field reads in a loop body, a branch arm, a `map`
//! closure and a call; f32 fixed-size and f64 dynamic.

use matgrad::{differentiate, Differentiable};
use nalgebra::{DMatrix, DVector, Matrix2, RowDVector, Vector2};

fn assert_flat(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "entry {k}: {x} vs {y}");
    }
}

/// p + s t, for any differentiable p.
fn step<P: Differentiable<Scalar = f64>>(p: &P, s: f64, t: &P) -> P {
    let mut q = p.clone();
    q.add_scaled(s, t);
    q
}

/// (f(p + ht) − f(p − ht)) / 2h.
fn fd<P: Differentiable<Scalar = f64>>(f: impl Fn(&P) -> f64, p: &P, t: &P) -> f64 {
    let h = 1e-6;
    (f(&step(p, h, t)) - f(&step(p, -h, t))) / (2.0 * h)
}

/// (∇f(p + hv) − ∇f(p − hv)) / 2h, flattened.
fn fd_grad<P: Differentiable<Scalar = f64>>(grad: impl Fn(&P) -> P, p: &P, v: &P) -> Vec<f64> {
    let h = 1e-5;
    let mut d = grad(&step(p, h, v));
    d.add_scaled(-1.0, &grad(&step(p, -h, v)));
    d.scale(1.0 / (2.0 * h));
    d.to_flat()
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Mlp {
    pub w1: DMatrix<f64>,
    pub b1: RowDVector<f64>,
    pub w2: DMatrix<f64>,
    pub layers: Vec<DMatrix<f64>>,
    #[differentiable(skip)]
    pub slope: f64,
}

fn mlp(seed: f64) -> Mlp {
    Mlp {
        w1: DMatrix::from_fn(3, 2, |i, j| (0.3 * i as f64 - 0.2 * j as f64 + 0.1) * seed),
        b1: RowDVector::from_fn(2, |_, j| (0.5 - j as f64) * seed),
        w2: DMatrix::from_fn(2, 2, |i, j| (0.4 * (i + j) as f64 - 0.3) * seed),
        layers: (0..2).map(|k| DMatrix::from_fn(2, 2, |i, j| 0.1 * (k + i) as f64 - 0.2 * j as f64 * seed)).collect(),
        slope: 0.7,
    }
}

/// A network through every position: a `map` closure reading a field, a loop over a `Vec`
/// field, a branch arm, a field passed to a call.
#[differentiate(wrt(p), forward)]
fn network(p: &Mlp, x: &DMatrix<f64>, y: &DMatrix<f64>, deep: bool) -> f64 {
    let ones = DVector::from_element(x.nrows(), 1.0);
    let mut h = (x * &p.w1 + &ones * &p.b1).map(|v| v.tanh());
    for w in &p.layers {
        h = (&h * w).map(|v| v.max(0.0) + 0.1 * v);
    }
    let out = if deep { &h * &p.w2 } else { h * p.slope };
    (out - y).norm_squared() + head(&p.w2, x.nrows() as f64)
}

#[differentiate(wrt(w), forward)]
fn head(w: &DMatrix<f64>, s: f64) -> f64 {
    w.norm_squared() * s
}

#[test]
fn struct_jvp_and_hvp_match_central_differences() {
    let (p, t) = (mlp(1.0), mlp(-0.6));
    let x = DMatrix::from_fn(4, 3, |i, j| ((i * 3 + j) % 5) as f64 * 0.4 - 0.8);
    let y = DMatrix::from_fn(4, 2, |i, j| ((i + 2 * j) % 3) as f64 * 0.5 - 0.5);
    for deep in [true, false] {
        let (value, tangent) = network_jvp(&p, &x, &y, deep, &t);
        assert_eq!(value, network(&p, &x, &y, deep));
        let want = fd(|p| network(p, &x, &y, deep), &p, &t);
        assert!((tangent - want).abs() <= 1e-6 * want.abs().max(1.0), "{tangent} vs {want}");
        // ⟨∇f, t⟩ with the gradient of `_grad`
        let (_, g) = network_grad(&p, &x, &y, deep);
        assert!((tangent - g.dot(&t)).abs() <= 1e-10 * tangent.abs().max(1.0));
        let (value, g_hvp, hv): (f64, Mlp, Mlp) = network_hvp(&p, &x, &y, deep, &t);
        assert_eq!(value, network(&p, &x, &y, deep));
        assert_flat(&g_hvp.to_flat(), &g.to_flat(), 1e-12);
        assert_flat(&hv.to_flat(), &fd_grad(|p| network_grad(p, &x, &y, deep).1, &p, &t), 1e-6);
        // the skipped field keeps its value in both
        assert_eq!((g_hvp.slope, hv.slope), (p.slope, p.slope));
    }
}

/// A tuple parameter: f(m, s) = s ‖m‖² + s³ (hand-derived: ḟ = 2s⟨m, ṁ⟩ + (‖m‖² + 3s²) ṡ).
#[differentiate(wrt(p), forward)]
fn tuple(p: &(DMatrix<f64>, f64)) -> f64 {
    p.0.norm_squared() * p.1 + p.1 * p.1 * p.1
}

#[test]
fn tuple_jvp_and_hvp_are_the_closed_form() {
    let p = (DMatrix::from_fn(2, 3, |i, j| 0.2 * i as f64 - 0.1 * j as f64 + 0.3), 0.8);
    let t = (DMatrix::from_fn(2, 3, |i, j| 0.1 * (i + j) as f64 - 0.2), -0.5);
    let (value, tangent) = tuple_jvp(&p, &t);
    assert_eq!(value, tuple(&p));
    let closed = 2.0 * p.1 * p.0.dot(&t.0) + (p.0.norm_squared() + 3.0 * p.1 * p.1) * t.1;
    assert!((tangent - closed).abs() < 1e-12);
    assert!((tangent - fd(tuple, &p, &t)).abs() < 1e-7);
    // ∇f = (2s m, ‖m‖² + 3s²); H v = (2ṡ m + 2s ṁ, 2⟨m, ṁ⟩ + 6s ṡ)
    let (_, g, hv) = tuple_hvp(&p, &t);
    assert_flat(&g.to_flat(), &tuple_grad(&p).1.to_flat(), 1e-12);
    let closed = (&p.0 * (2.0 * t.1) + &t.0 * (2.0 * p.1), 2.0 * p.0.dot(&t.0) + 6.0 * p.1 * t.1);
    assert_flat(&hv.to_flat(), &closed.to_flat(), 1e-12);
    assert_flat(&hv.to_flat(), &fd_grad(|p| tuple_grad(p).1, &p, &t), 1e-6);
}

/// A slice parameter iterated in a loop; its tangent is a slice, its gradient and H·v `Vec`s.
#[differentiate(wrt(ws), forward)]
fn chain(ws: &[DMatrix<f64>], h: &DVector<f64>) -> f64 {
    let mut v = h.clone();
    for w in ws {
        v = (w * v).map(|e| e.tanh());
    }
    v.norm_squared()
}

/// A slice passed whole to another forward function.
#[differentiate(wrt(ws), forward)]
fn chain_twice(ws: &[DMatrix<f64>], h: &DVector<f64>) -> f64 {
    chain(ws, h) + chain(ws, &(h * 0.5))
}

#[test]
fn slice_parameter_jvp_and_hvp() {
    let ws: Vec<DMatrix<f64>> =
        (0..3).map(|k| DMatrix::from_fn(3, 3, |i, j| 0.2 * (i + k) as f64 - 0.3 * j as f64)).collect();
    let ts: Vec<DMatrix<f64>> =
        (0..3).map(|k| DMatrix::from_fn(3, 3, |i, j| 0.1 * (i * j) as f64 - 0.05 * k as f64)).collect();
    let h = DVector::from_vec(vec![0.5, -0.3, 0.8]);
    let (value, tangent) = chain_jvp(&ws, &h, &ts);
    assert_eq!(value, chain(&ws, &h));
    assert!((tangent - fd(|w: &Vec<DMatrix<f64>>| chain(w, &h), &ws, &ts)).abs() < 1e-7);
    let (_, _, hv) = chain_hvp(&ws, &h, &ts);
    assert_flat(&hv.to_flat(), &fd_grad(|w: &Vec<DMatrix<f64>>| chain_grad(w, &h).1, &ws, &ts), 1e-6);
    let (_, tangent) = chain_twice_jvp(&ws, &h, &ts);
    assert!((tangent - fd(|w: &Vec<DMatrix<f64>>| chain_twice(w, &h), &ws, &ts)).abs() < 1e-7);
    let (_, _, hv) = chain_twice_hvp(&ws, &h, &ts);
    assert_flat(&hv.to_flat(), &fd_grad(|w: &Vec<DMatrix<f64>>| chain_twice_grad(w, &h).1, &ws, &ts), 1e-6);
}

/// A fixed-size f32 struct: `_jvp` and `_hvp` on the stack.
#[derive(Clone, Copy, Debug, PartialEq, Differentiable)]
pub struct Pose {
    pub r: Matrix2<f32>,
    pub t: Vector2<f32>,
}

#[differentiate(wrt(p), forward)]
fn fit(p: &Pose, a: &Vector2<f32>, b: &Vector2<f32>) -> f32 {
    let e = p.r * a + p.t - b;
    e.norm_squared() + (p.r.tr_mul(&p.r) - Matrix2::identity()).norm_squared()
}

#[test]
fn fixed_size_f32_struct() {
    let p = Pose { r: Matrix2::new(0.9, -0.2, 0.3, 1.1), t: Vector2::new(0.1, -0.4) };
    let v = Pose { r: Matrix2::new(0.1, 0.2, -0.3, 0.05), t: Vector2::new(-0.2, 0.3) };
    let (a, b) = (Vector2::new(1.0, 0.5), Vector2::new(0.3, -0.7));
    let (_, tangent) = fit_jvp(&p, &a, &b, &v);
    let (_, g) = fit_grad(&p, &a, &b);
    assert!((tangent - g.dot(&v)).abs() < 1e-5);
    // h = ∇²f v: e = R a + t − b, ė = V_R a + v_t; G = RᵀR − I:
    // h_R = 2 ė aᵀ + 4 V_R G + 4 R (V_Rᵀ R + Rᵀ V_R), h_t = 2 ė
    let (_, _, hv) = fit_hvp(&p, &a, &b, &v);
    let ed = v.r * a + v.t;
    let gram = p.r.tr_mul(&p.r) - Matrix2::identity();
    let hr = ed * a.transpose() * 2.0 + v.r * gram * 4.0 + p.r * (v.r.tr_mul(&p.r) + p.r.tr_mul(&v.r)) * 4.0;
    assert!((hv.r - hr).abs().max() < 1e-5, "{} vs {hr}", hv.r);
    assert!((hv.t - ed * 2.0).abs().max() < 1e-5);
}

/// A struct passed whole to another forward function (its `_tangent` takes the struct's tangent).
#[differentiate(wrt(p), forward)]
fn outer(p: &Mlp, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    network(p, x, y, true) * 0.5 + p.w1.sum()
}

#[test]
fn struct_arguments_of_calls() {
    let (p, t) = (mlp(1.0), mlp(0.4));
    let x = DMatrix::from_fn(4, 3, |i, j| ((i * 3 + j) % 5) as f64 * 0.4 - 0.8);
    let y = DMatrix::from_fn(4, 2, |i, j| ((i + 2 * j) % 3) as f64 * 0.5 - 0.5);
    let (_, tangent) = outer_jvp(&p, &x, &y, &t);
    assert!((tangent - fd(|p| outer(p, &x, &y), &p, &t)).abs() < 1e-6);
    let (_, _, hv) = outer_hvp(&p, &x, &y, &t);
    assert_flat(&hv.to_flat(), &fd_grad(|p| outer_grad(p, &x, &y).1, &p, &t), 1e-6);
}

/// Nested structs and a tuple struct: the field paths `p.enc.w`, `p.enc.shift` (skipped inside
/// a differentiated field) and `p.head.0`.
#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Encoder {
    pub w: DMatrix<f64>,
    #[differentiable(skip)]
    pub shift: f64,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Head(pub DVector<f64>, pub f64);

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Nested {
    pub enc: Encoder,
    pub head: Head,
}

#[differentiate(wrt(p), forward)]
fn nested(p: &Nested, x: &DVector<f64>) -> f64 {
    let h = (&p.enc.w * x).map(|v| (v + p.enc.shift).tanh());
    h.dot(&p.head.0) * p.head.1 + p.head.1 * p.head.1
}

#[test]
fn nested_and_tuple_struct_fields() {
    let p = Nested {
        enc: Encoder { w: DMatrix::from_fn(3, 2, |i, j| 0.3 * i as f64 - 0.4 * j as f64 + 0.1), shift: 0.2 },
        head: Head(DVector::from_vec(vec![0.5, -0.2, 0.7]), 1.3),
    };
    // a tangent whose skipped field holds a value: it must count as zero
    let t = Nested {
        enc: Encoder { w: DMatrix::from_fn(3, 2, |i, j| 0.1 * (i + j) as f64 - 0.2), shift: 5.0 },
        head: Head(DVector::from_vec(vec![-0.3, 0.4, 0.1]), -0.6),
    };
    let x = DVector::from_vec(vec![0.8, -1.1]);
    let (value, tangent) = nested_jvp(&p, &x, &t);
    assert_eq!(value, nested(&p, &x));
    let want = fd(|p| nested(p, &x), &p, &t);
    assert!((tangent - want).abs() <= 1e-7 * want.abs().max(1.0), "{tangent} vs {want}");
    let (_, g, hv) = nested_hvp(&p, &x, &t);
    assert_flat(&g.to_flat(), &nested_grad(&p, &x).1.to_flat(), 1e-12);
    assert_flat(&hv.to_flat(), &fd_grad(|p| nested_grad(p, &x).1, &p, &t), 1e-6);
    assert_eq!(hv.enc.shift, p.enc.shift);
}

/// A generic fixed-size struct, in f32 and f64.
#[derive(Clone, Copy, Debug, PartialEq, Differentiable)]
pub struct Line<T: nalgebra::RealField + Copy> {
    pub a: Vector2<T>,
    pub b: T,
}

#[differentiate(wrt(p), forward)]
fn line_fit<T: nalgebra::RealField + Copy>(p: &Line<T>, x: &Vector2<T>, y: T) -> T {
    let r = p.a.dot(x) + p.b - y;
    r * r + p.b * p.b * p.b
}

#[test]
fn generic_struct_in_f32_and_f64() {
    let (p, t) = (Line { a: Vector2::new(0.5, -0.3), b: 0.2f64 }, Line { a: Vector2::new(0.1, 0.4), b: -0.7f64 });
    let x = Vector2::new(1.5, 0.5);
    // f = r² + b³, r = aᵀx + b − y: ḟ = 2r (ȧᵀx + ḃ) + 3b² ḃ; H v = (2(ȧᵀx + ḃ) x, 2(ȧᵀx + ḃ) + 6b ḃ)
    let r = p.a.dot(&x) + p.b - 0.3;
    let rd = t.a.dot(&x) + t.b;
    let (_, tangent) = line_fit_jvp(&p, &x, 0.3, &t);
    assert!((tangent - (2.0 * r * rd + 3.0 * p.b * p.b * t.b)).abs() < 1e-12);
    let (_, _, hv) = line_fit_hvp(&p, &x, 0.3, &t);
    assert!((hv.a - x * (2.0 * rd)).norm() < 1e-12 && (hv.b - (2.0 * rd + 6.0 * p.b * t.b)).abs() < 1e-12);
    let p32 = Line { a: p.a.cast::<f32>(), b: p.b as f32 };
    let t32 = Line { a: t.a.cast::<f32>(), b: t.b as f32 };
    let (_, _, hv32) = line_fit_hvp(&p32, &x.cast::<f32>(), 0.3f32, &t32);
    assert!((hv32.a.cast::<f64>() - hv.a).norm() < 1e-5 && (f64::from(hv32.b) - hv.b).abs() < 1e-5);
}
