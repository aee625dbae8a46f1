//! Struct parameters (`#[derive(Differentiable)]`) in `wrt`: field reads in every position,
//! each gradient against a closed form and against central differences through
//! `to_flat`/`from_flat`.

mod common;

use common::{assert_close_flat, numeric_flat};
use matgrad::{differentiate, Differentiable};
use nalgebra::{DMatrix, DVector, RowDVector};

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Mlp {
    pub w1: DMatrix<f64>,
    pub b1: RowDVector<f64>,
    #[differentiable(skip)]
    pub scale: f64,
}

/// f(p) = s ‖X W₁ + 1b₁‖²: W̄₁ = 2s Xᵀ R, b̄₁ = 2s 1ᵀR (R = X W₁ + 1b₁); the skipped s keeps
/// its value.
#[differentiate(wrt(p))]
fn affine(p: &Mlp, x: &DMatrix<f64>) -> f64 {
    let ones = DVector::from_element(x.nrows(), 1.0);
    let r = x * &p.w1 + &ones * &p.b1;
    p.scale * r.norm_squared()
}

fn mlp() -> Mlp {
    Mlp {
        w1: DMatrix::from_fn(3, 2, |i, j| 0.3 * i as f64 - 0.2 * j as f64 + 0.1),
        b1: RowDVector::from_fn(2, |_, j| 0.5 - j as f64),
        scale: 0.7,
    }
}

#[test]
fn field_reads_of_a_struct() {
    let p = mlp();
    let x = DMatrix::from_fn(4, 3, |i, j| ((i * 3 + j) % 5) as f64 * 0.4 - 0.8);
    let (value, dp): (f64, Mlp) = affine_grad(&p, &x);
    assert_eq!(value, affine(&p, &x));
    let r = &x * &p.w1 + DVector::from_element(4, 1.0) * &p.b1;
    assert!((dp.w1.clone() - 2.0 * 0.7 * x.transpose() * &r).norm() < 1e-12);
    assert!((dp.b1.clone() - 2.0 * 0.7 * r.row_sum()).norm() < 1e-12);
    assert_eq!(dp.scale, 0.7, "a skipped field's slot holds the value");
    assert_close_flat(&dp.to_flat(), &numeric_flat(|q: &Mlp| affine(q, &x), &p), 1e-6);
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Encoder {
    pub w: DMatrix<f64>,
    pub gain: f64,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Model {
    pub enc: Encoder,
    pub v: DVector<f64>,
    #[differentiable(skip)]
    pub steps: usize,
}

/// A field read in a loop body, in a branch arm inside the loop, in a `map` closure, in a nested
/// block, nested (`p.enc.w`), and the scalar field `p.enc.gain` read in two places:
/// f = Σₖ₌₀³ cₖ ‖W v‖² + ‖exp(g · W)‖₁ with cₖ = g for even k and 1 for odd k
///   = (2g + 2) q + Σᵢⱼ exp(g Wᵢⱼ), q = ‖W v‖²
/// W̄ = (2g + 2)·2 (W v) vᵀ + g exp(g W),  v̄ = (2g + 2)·2 Wᵀ W v,
/// ḡ = 2q + Σᵢⱼ Wᵢⱼ exp(g Wᵢⱼ).
#[differentiate(wrt(m))]
fn positions(m: &Model) -> f64 {
    let mut acc = 0.0;
    for k in 0..4 {
        let y = &m.enc.w * &m.v;
        if k % 2 == 0 {
            acc += m.enc.gain * y.norm_squared();
        } else {
            acc += {
                let n = y.norm_squared();
                n * 1.0
            };
        }
    }
    let e = m.enc.w.map(|a| (m.enc.gain * a).exp());
    acc + e.sum()
}

fn model() -> Model {
    Model {
        enc: Encoder { w: DMatrix::from_fn(2, 3, |i, j| 0.2 * i as f64 - 0.1 * j as f64 + 0.05), gain: 0.8 },
        v: DVector::from_fn(3, |i, _| 0.3 - 0.2 * i as f64),
        steps: 4,
    }
}

#[test]
fn field_reads_in_every_position() {
    let m = model();
    let (value, dm) = positions_grad(&m);
    assert!((value - positions(&m)).abs() < 1e-12);
    let (w, v, g) = (&m.enc.w, &m.v, m.enc.gain);
    let y = w * v;
    let q = y.norm_squared();
    let ex = w.map(|a| (g * a).exp());
    let dw = (2.0 * g + 2.0) * 2.0 * &y * v.transpose() + g * &ex;
    let dv = (2.0 * g + 2.0) * 2.0 * w.transpose() * &y;
    let dg = 2.0 * q + w.component_mul(&ex).sum();
    assert!((&dm.enc.w - dw).norm() < 1e-12);
    assert!((&dm.v - dv).norm() < 1e-12);
    assert!((dm.enc.gain - dg).abs() < 1e-12);
    assert_eq!(dm.steps, 4);
    assert_close_flat(&dm.to_flat(), &numeric_flat(|q: &Model| positions(q), &m), 1e-6);
}

/// The encoder alone, a composed function: e(E, v) = g ‖W v‖².
#[differentiate(wrt(enc, v))]
fn encode(enc: &Encoder, v: &DVector<f64>) -> f64 {
    enc.gain * (&enc.w * v).norm_squared()
}

/// Composition: the callee takes a field (`&m.enc`) or the whole struct, by reference and by
/// value. f = e(E, v) + h(M) with h(M) = ‖v‖² + e(E, v) ⇒ every gradient doubled from e's
/// plus 2v for v̄.
#[differentiate(wrt(m))]
fn composed(m: Model) -> f64 {
    encode(&m.enc, &m.v) + whole(&m)
}

#[differentiate(wrt(m))]
fn whole(m: &Model) -> f64 {
    m.v.norm_squared() + encode(&m.enc, &m.v)
}

#[test]
fn composition_with_struct_arguments() {
    let m = model();
    let (value, dm) = composed_grad(m.clone());
    assert!((value - composed(m.clone())).abs() < 1e-12);
    let (w, v, g) = (&m.enc.w, &m.v, m.enc.gain);
    let y = w * v;
    assert!((&dm.enc.w - 2.0 * 2.0 * g * &y * v.transpose()).norm() < 1e-12);
    assert!((&dm.v - (2.0 * 2.0 * g * w.transpose() * &y + 2.0 * v)).norm() < 1e-12);
    assert!((dm.enc.gain - 2.0 * y.norm_squared()).abs() < 1e-12);
    assert_close_flat(&dm.to_flat(), &numeric_flat(|q: &Model| composed(q.clone()), &m), 1e-6);
}

/// A skipped scalar read where a differentiated one would be: its adjoint is dropped, the slot
/// keeps the value. f = s ‖W‖² ⇒ W̄ = 2 s W.
#[differentiate(wrt(p))]
fn skipped_read(p: &Mlp) -> f64 {
    p.scale * p.w1.norm_squared()
}

#[test]
fn a_skipped_field_read_gets_no_gradient() {
    let p = mlp();
    let (_, dp) = skipped_read_grad(&p);
    assert!((&dp.w1 - 2.0 * 0.7 * &p.w1).norm() < 1e-12);
    assert_eq!(dp.b1, RowDVector::zeros(2), "a field the body does not read has a zero gradient");
    assert_eq!(dp.scale, 0.7);
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Stepper {
    pub w: DMatrix<f64>,
    #[differentiable(skip)]
    pub steps: usize,
    #[differentiable(skip)]
    pub rows: usize,
}

/// Skipped fields read as constants: a range, a constructor's size, an index.
/// f = Σₖ₌₀^{n−1} ‖W‖² + ⟨1, W⟩ + W₀₀ (n = steps, rows = 2) ⇒ W̄ = 2n W + 1 + e₀e₀ᵀ.
#[differentiate(wrt(p))]
fn skipped_as_constants(p: &Stepper) -> f64 {
    let mut acc = 0.0;
    for _ in 0..p.steps {
        acc += p.w.norm_squared();
    }
    let ones = DMatrix::from_element(p.rows, p.w.ncols(), 1.0);
    acc + p.w.dot(&ones) + p.w[(p.rows - 2, 0)]
}

#[test]
fn skipped_fields_read_as_constants() {
    let p = Stepper { w: DMatrix::from_fn(2, 3, |i, j| i as f64 - 0.5 * j as f64), steps: 3, rows: 2 };
    let (value, dp) = skipped_as_constants_grad(&p);
    assert_eq!(value, skipped_as_constants(&p));
    let mut expected = 6.0 * &p.w + DMatrix::from_element(2, 3, 1.0);
    expected[(0, 0)] += 1.0;
    assert!((&dp.w - expected).norm() < 1e-12);
    assert_eq!((dp.steps, dp.rows), (3, 2));
}

/// A generic struct with fixed sizes, in f32 and f64.
#[derive(Clone, Copy, Debug, PartialEq, Differentiable)]
pub struct Pose<T: nalgebra::RealField + Copy> {
    pub r: nalgebra::SMatrix<T, 2, 2>,
    pub t: nalgebra::SVector<T, 2>,
}

/// f(P) = ‖R X + t1ᵀ − Y‖² ⇒ R̄ = 2 E Xᵀ, t̄ = 2 E 1 (E the residual).
#[differentiate(wrt(p))]
fn pose_fit<T: nalgebra::RealField + Copy>(
    p: &Pose<T>,
    x: &nalgebra::SMatrix<T, 2, 3>,
    y: &nalgebra::SMatrix<T, 2, 3>,
) -> T {
    let ones = nalgebra::SMatrix::<T, 1, 3>::repeat(T::one());
    (p.r * x + p.t * ones - y).norm_squared()
}

#[test]
fn generic_fixed_size_struct_in_f32_and_f64() {
    use nalgebra::{SMatrix, SVector};
    let p = Pose { r: SMatrix::<f64, 2, 2>::new(1.0, 0.2, -0.1, 0.9), t: SVector::<f64, 2>::new(0.3, -0.4) };
    let x = SMatrix::<f64, 2, 3>::new(0.5, -1.0, 2.0, 1.5, 0.0, -0.5);
    let y = SMatrix::<f64, 2, 3>::new(0.4, -0.8, 1.9, 1.2, 0.3, -0.2);
    let (value, dp) = pose_fit_grad(&p, &x, &y);
    let e = p.r * x + p.t * SMatrix::<f64, 1, 3>::repeat(1.0) - y;
    assert_eq!(value, pose_fit(&p, &x, &y));
    assert!((dp.r - 2.0 * e * x.transpose()).norm() < 1e-12);
    assert!((dp.t - 2.0 * e.column_sum()).norm() < 1e-12);
    assert_close_flat(&dp.to_flat(), &numeric_flat(|q: &Pose<f64>| pose_fit(q, &x, &y), &p), 1e-6);

    let p32 = Pose { r: p.r.cast::<f32>(), t: p.t.cast::<f32>() };
    let (x32, y32) = (x.cast::<f32>(), y.cast::<f32>());
    let (_, dp32) = pose_fit_grad(&p32, &x32, &y32);
    let e32 = p32.r * x32 + p32.t * SMatrix::<f32, 1, 3>::repeat(1.0) - y32;
    assert!((dp32.r - 2.0 * e32 * x32.transpose()).norm() < 1e-5);
    assert!((dp32.t - 2.0 * e32.column_sum()).norm() < 1e-5);
}

/// A tuple struct taken by value: f(P) = P.1 ‖P.0‖² ⇒ v̄ = 2 P.1 v, s̄ = ‖v‖².
#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Scaled(pub DVector<f64>, pub f64);

#[differentiate(wrt(p))]
fn scaled(p: Scaled) -> f64 {
    p.1 * p.0.norm_squared()
}

#[test]
fn tuple_struct_by_value() {
    let p = Scaled(DVector::from_column_slice(&[1.0, -2.0, 0.5]), 1.5);
    let (value, dp) = scaled_grad(p.clone());
    assert_eq!(value, 1.5 * 5.25);
    assert!((&dp.0 - 3.0 * &p.0).norm() < 1e-12);
    assert!((dp.1 - 5.25).abs() < 1e-12);
    assert_close_flat(&dp.to_flat(), &numeric_flat(|q: &Scaled| scaled(q.clone()), &p), 1e-6);
}

/// A user rule over a struct: e(E, v) = g ‖W v‖² by hand. Ē = (2g (W v) vᵀ, ‖W v‖²),
/// v̄ = 2g Wᵀ W v.
#[matgrad::custom_vjp(encode_rule, wrt(enc, v))]
fn encode_by_rule(enc: &Encoder, v: &DVector<f64>) -> f64 {
    enc.gain * (&enc.w * v).norm_squared()
}

fn encode_rule(enc: &Encoder, v: &DVector<f64>, _value: &f64, g: f64) -> (Encoder, DVector<f64>) {
    let y = &enc.w * v;
    let de = Encoder { w: 2.0 * g * enc.gain * &y * v.transpose(), gain: g * y.norm_squared() };
    (de, 2.0 * g * enc.gain * enc.w.transpose() * y)
}

/// f(M) = e(M.enc, M.v) through the rule, plus ‖v‖².
#[differentiate(wrt(m))]
fn through_rule(m: &Model) -> f64 {
    encode_by_rule(&m.enc, &m.v) + m.v.norm_squared()
}

#[test]
fn custom_vjp_over_a_struct() {
    let m = model();
    let (_, de, dv) = encode_by_rule_grad(&m.enc, &m.v);
    let (_, de2, dv2) = encode_grad(&m.enc, &m.v);
    assert!((&de.w - &de2.w).norm() < 1e-12 && (de.gain - de2.gain).abs() < 1e-12);
    assert!((&dv - &dv2).norm() < 1e-12);
    let (value, dm) = through_rule_grad(&m);
    assert_eq!(value, through_rule(&m));
    assert!((&dm.v - (&dv2 + 2.0 * &m.v)).norm() < 1e-12);
    assert_close_flat(&dm.to_flat(), &numeric_flat(|q: &Model| through_rule(q), &m), 1e-6);
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Deep {
    pub layers: Vec<DMatrix<f64>>,
    pub heads: [DVector<f64>; 2],
    pub w: DMatrix<f64>,
    #[differentiable(skip)]
    pub depth: usize,
}

/// Indexing a `Vec` field and an array field by a loop variable, and an entry of a matrix
/// field, in a loop body and a branch arm: f = Σₖ ‖Lₖ h‖² + Σ L₁ + ⟨H₀, H₁⟩ + W₀₁ ⇒
/// L̄ₖ = 2 (Lₖ h) hᵀ (+ 11ᵀ for k = 1), H̄₀ = H₁, H̄₁ = H₀, W̄ = e₀e₁ᵀ.
#[differentiate(wrt(p))]
fn indexed(p: &Deep, h: &DVector<f64>) -> f64 {
    let mut acc = 0.0;
    for k in 0..p.depth {
        let l = &p.layers[k];
        acc += (l * h).norm_squared();
        if k == 1 {
            acc += p.layers[k].sum();
        }
    }
    acc + p.heads[0].dot(&p.heads[1]) + p.w[(0, 1)]
}

#[test]
fn vec_array_and_entry_of_fields() {
    let p = Deep {
        layers: (0..3).map(|k| DMatrix::from_fn(2, 3, |i, j| 0.1 * (k + i) as f64 - 0.2 * j as f64)).collect(),
        heads: [DVector::from_column_slice(&[1.0, 2.0]), DVector::from_column_slice(&[-0.5, 0.25])],
        w: DMatrix::from_element(2, 2, 1.0),
        depth: 3,
    };
    let h = DVector::from_column_slice(&[0.5, -1.0, 2.0]);
    let (value, dp) = indexed_grad(&p, &h);
    assert_eq!(value, indexed(&p, &h));
    for k in 0..3 {
        let y = &p.layers[k] * &h;
        let ones = DMatrix::from_element(2, 3, if k == 1 { 1.0 } else { 0.0 });
        assert!((&dp.layers[k] - 2.0 * y * h.transpose() - ones).norm() < 1e-12, "layer {k}");
    }
    assert_eq!(dp.heads, [p.heads[1].clone(), p.heads[0].clone()]);
    assert_eq!(dp.w, DMatrix::from_column_slice(2, 2, &[0.0, 0.0, 1.0, 0.0]));
    assert_close_flat(&dp.to_flat(), &numeric_flat(|q: &Deep| indexed(q, &h), &p), 1e-6);
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Layers {
    pub ws: Vec<DMatrix<f64>>,
    pub bs: Vec<DVector<f64>>,
    pub gates: [f64; 3],
}

/// Loops over fields: `for w in &p.ws`, `for (w, b) in p.ws.iter().zip(&p.bs)`, `for g in
/// p.gates.iter()`, nested in a loop and in a branch arm, with h an input:
/// f = Σ_w ‖w h‖² + Σ_(w,b) ⟨w h, b⟩ + 2 Σ_g g² (the last loop runs twice)
/// ⇒ W̄ₖ = 2 (Wₖ h) hᵀ + bₖ hᵀ, b̄ₖ = Wₖ h, ḡ = 4 g.
#[differentiate(wrt(p))]
fn loops(p: &Layers, h: &DVector<f64>) -> f64 {
    let mut acc = 0.0;
    for w in &p.ws {
        acc += (w * h).norm_squared();
    }
    if !h.is_empty() {
        for (w, b) in p.ws.iter().zip(&p.bs) {
            acc += (w * h).dot(b);
        }
    }
    for _ in 0..2 {
        for g in p.gates.iter() {
            acc += g * g;
        }
    }
    acc
}

#[test]
fn loops_over_fields() {
    let p = Layers {
        ws: (0..2).map(|k| DMatrix::from_fn(2, 3, |i, j| 0.1 * (k + i) as f64 - 0.2 * j as f64)).collect(),
        bs: vec![DVector::from_column_slice(&[1.0, -1.0]), DVector::from_column_slice(&[0.5, 2.0])],
        gates: [0.5, -1.0, 2.0],
    };
    let h = DVector::from_column_slice(&[0.5, -1.0, 2.0]);
    let (value, dp) = loops_grad(&p, &h);
    assert!((value - loops(&p, &h)).abs() < 1e-12);
    for k in 0..2 {
        let y = &p.ws[k] * &h;
        assert!((&dp.ws[k] - (2.0 * &y * h.transpose() + &p.bs[k] * h.transpose())).norm() < 1e-12);
        assert!((&dp.bs[k] - &y).norm() < 1e-12);
    }
    assert_eq!(dp.gates, [2.0, -4.0, 8.0]);
    assert_close_flat(&dp.to_flat(), &numeric_flat(|q: &Layers| loops(q, &h), &p), 1e-6);
}

/// A slice of matrices in `wrt`: its gradient is a `Vec`. f = Σₖ ‖Wₖ h‖² + ⟨W₀, W₁⟩
/// ⇒ W̄ₖ = 2 (Wₖ h) hᵀ + W₁₋ₖ (for the two matrices).
#[differentiate(wrt(ws))]
fn over_slice(ws: &[DMatrix<f64>], h: &DVector<f64>) -> f64 {
    let mut acc = 0.0;
    for w in ws {
        acc += (w * h).norm_squared();
    }
    acc + ws[0].dot(&ws[1])
}

/// The same over a `&Vec` (iterated with `iter()`, indexed by a range) and in f32 over an array
/// taken by value.
#[differentiate(wrt(ws))]
#[allow(clippy::ptr_arg)] // `&Vec` is what this tests
fn over_vec(ws: &Vec<DMatrix<f64>>, h: &DVector<f64>) -> f64 {
    let mut acc = 0.0;
    for w in ws.iter() {
        acc += (w * h).norm_squared();
    }
    for k in 0..1 {
        acc += ws[k].dot(&ws[k + 1]);
    }
    acc
}

/// f = Σₖ sₖ ‖vₖ‖² over an array of vectors and a Vec of scalars ⇒ v̄ₖ = 2 sₖ vₖ, s̄ₖ = ‖vₖ‖².
#[differentiate(wrt(vs, s))]
#[allow(clippy::ptr_arg)]
fn over_array(vs: [nalgebra::SVector<f32, 2>; 3], s: &Vec<f32>) -> f32 {
    let mut acc = 0.0;
    for k in 0..3 {
        acc += s[k] * vs[k].norm_squared();
    }
    acc
}

#[test]
fn slices_vecs_and_arrays_in_wrt() {
    let ws: Vec<DMatrix<f64>> =
        (0..2).map(|k| DMatrix::from_fn(2, 3, |i, j| 0.1 * (k + i) as f64 - 0.2 * j as f64)).collect();
    let h = DVector::from_column_slice(&[0.5, -1.0, 2.0]);
    let expected: Vec<DMatrix<f64>> = (0..2).map(|k| 2.0 * (&ws[k] * &h) * h.transpose() + &ws[1 - k]).collect();
    let (value, dws): (f64, Vec<DMatrix<f64>>) = over_slice_grad(&ws, &h);
    assert_eq!(value, over_slice(&ws, &h));
    let (value2, dws2) = over_vec_grad(&ws, &h);
    assert!((value2 - value).abs() < 1e-12);
    for k in 0..2 {
        assert!((&dws[k] - &expected[k]).norm() < 1e-12);
        assert!((&dws2[k] - &expected[k]).norm() < 1e-12);
    }
    assert_close_flat(&dws.to_flat(), &numeric_flat(|q: &Vec<DMatrix<f64>>| over_slice(q, &h), &ws), 1e-6);

    use nalgebra::SVector;
    let vs = [SVector::<f32, 2>::new(1.0, 2.0), SVector::<f32, 2>::new(-0.5, 0.5), SVector::<f32, 2>::new(0.0, 3.0)];
    let s = vec![0.5_f32, 2.0, -1.0];
    let (_, dvs, ds): (f32, [SVector<f32, 2>; 3], Vec<f32>) = over_array_grad(vs, &s);
    for k in 0..3 {
        assert!((dvs[k] - vs[k] * (2.0 * s[k])).norm() < 1e-6);
        assert!((ds[k] - vs[k].norm_squared()).abs() < 1e-6);
    }
}

/// A slice of scalars in `wrt` (formerly refused): f(x, w) = x w₀ ⇒ x̄ = w₀, w̄ = (x, 0, 0).
#[differentiate(wrt(x, weights))]
fn scalar_slice(x: f64, weights: &[f64]) -> f64 {
    x * weights[0]
}

#[test]
fn a_slice_of_scalars() {
    let (value, dx, dw) = scalar_slice_grad(2.0, &[3.0, 4.0, 5.0]);
    assert_eq!((value, dx, dw), (6.0, 3.0, vec![2.0, 0.0, 0.0]));
}

#[derive(Clone, Debug, Differentiable)]
pub struct Gated {
    pub gates: [f64; 2],
    pub w: DMatrix<f64>,
    pub s: f64,
}

/// Fields read in a `map` closure: a scalar field captured directly, an array element through
/// a `let` before the closure. f = Σᵢⱼ (Wᵢⱼ g₁ + s Wᵢⱼ) ⇒ W̄ = (g₁ + s) 11ᵀ, ḡ₁ = s̄ = Σ W,
/// ḡ₀ = 0.
#[differentiate(wrt(p))]
fn gated(p: &Gated) -> f64 {
    let g = p.gates[1];
    p.w.map(|v| v * g + p.s * v).sum()
}

#[test]
fn fields_in_a_map_closure() {
    let p = Gated { gates: [1.0, 2.0], w: DMatrix::from_fn(2, 3, |i, j| 0.5 * i as f64 - 0.25 * j as f64), s: 3.0 };
    let (value, dp) = gated_grad(&p);
    assert!((value - gated(&p)).abs() < 1e-12);
    assert_eq!(dp.w, DMatrix::from_element(2, 3, 5.0));
    assert_eq!(dp.gates, [0.0, p.w.sum()]);
    assert!((dp.s - p.w.sum()).abs() < 1e-12);
    assert_close_flat(&dp.to_flat(), &numeric_flat(|q: &Gated| gated(q), &p), 1e-6);
}

/// Tuples in `wrt`, by reference and by value, and a tuple field of a struct: f(t) = t.1 ‖t.0‖²
/// ⇒ (2 t.1 t.0, ‖t.0‖²).
#[differentiate(wrt(t))]
fn tuple_ref(t: &(DVector<f64>, f64)) -> f64 {
    t.1 * t.0.norm_squared()
}

#[differentiate(wrt(t, u))]
fn tuple_value(t: (DVector<f64>, f64), u: f64) -> f64 {
    t.1 * t.0.norm_squared() + u
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct WithPair {
    pub pair: (DVector<f64>, f64),
}

#[differentiate(wrt(p))]
fn pair_field(p: &WithPair) -> f64 {
    p.pair.1 * p.pair.0.norm_squared()
}

#[test]
fn tuples_in_wrt() {
    let t = (DVector::from_column_slice(&[1.0, -2.0]), 0.5);
    let (value, dt): (f64, (DVector<f64>, f64)) = tuple_ref_grad(&t);
    assert_eq!(value, 2.5);
    assert_eq!(dt, (DVector::from_column_slice(&[1.0, -2.0]), 5.0));
    let (_, dt2, du) = tuple_value_grad(t.clone(), 3.0);
    assert_eq!((dt2, du), (dt.clone(), 1.0));
    let (_, dp) = pair_field_grad(&WithPair { pair: t.clone() });
    assert_eq!(dp.pair, dt);
    assert_close_flat(&dt.to_flat(), &numeric_flat(|q: &(DVector<f64>, f64)| tuple_ref(q), &t), 1e-6);
}

/// Composition with collections: a callee over a slice in `wrt`, called with a `Vec` field.
/// f(p) = Σ_w ‖w h‖² through `over_slice`'s sum, plus ⟨W₀, W₁⟩ (see `over_slice`).
#[differentiate(wrt(p))]
fn through_slice(p: &Layers, h: &DVector<f64>) -> f64 {
    over_slice(&p.ws, h)
}

#[test]
fn composition_with_a_slice_callee() {
    let p = Layers {
        ws: (0..2).map(|k| DMatrix::from_fn(2, 3, |i, j| 0.1 * (k + i) as f64 - 0.2 * j as f64)).collect(),
        bs: vec![DVector::zeros(2), DVector::zeros(2)],
        gates: [0.0; 3],
    };
    let h = DVector::from_column_slice(&[0.5, -1.0, 2.0]);
    let (value, dp) = through_slice_grad(&p, &h);
    assert_eq!(value, over_slice(&p.ws, &h));
    let (_, dws) = over_slice_grad(&p.ws, &h);
    assert_eq!(dp.ws, dws);
    assert_eq!(dp.bs, vec![DVector::zeros(2), DVector::zeros(2)]);
}

#[derive(Clone, Debug, Differentiable)]
pub struct Shifted {
    pub w: DMatrix<f64>,
    pub size: f64,
}

/// A differentiated field as a constructor's element: f = ‖W + s11ᵀ‖² with s = `m.size`;
/// ∂f/∂W = 2(W + s11ᵀ), ∂f/∂s = 2 Σ(W + s11ᵀ).
#[differentiate(wrt(m))]
fn filled_from_a_field(m: &Shifted) -> f64 {
    let ones = DMatrix::from_element(2, 3, m.size);
    (&m.w + ones).norm_squared()
}

#[test]
fn a_differentiated_field_fills_a_matrix() {
    let m = Shifted { w: DMatrix::from_fn(2, 3, |i, j| i as f64 - 0.3 * j as f64), size: 0.7 };
    let (v, dm) = filled_from_a_field_grad(&m);
    assert_eq!(v, filled_from_a_field(&m));
    let e = m.w.add_scalar(m.size);
    assert!((&dm.w - 2.0 * &e).norm() < 1e-12);
    assert!((dm.size - 2.0 * e.sum()).abs() < 1e-12);
}
