//! Hessian-vector products: `_hvp` against central differences of `_grad` along v and against
//! closed-form Hessians derived by hand; symmetry ⟨u, Hv⟩ = ⟨v, Hu⟩; branches and loops, `map`
//! closures, f32 and f64, SMatrix and DMatrix, non-square shapes.

mod common;

use common::{assert_close, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, Matrix3, SMatrix, SVector, Vector3};

/// (∇f(x + hv) − ∇f(x − hv)) / 2h for a gradient `grad` of one parameter.
fn fd_grad<G: Fn(&DMatrix<f64>) -> DMatrix<f64>>(grad: G, x: &DMatrix<f64>, v: &DMatrix<f64>) -> DMatrix<f64> {
    let h = 1e-5;
    (grad(&(x + v * h)) - grad(&(x - v * h))) / (2.0 * h)
}

/// f(W) = ‖σ(XW) − Y‖² (seed 001's network).
#[differentiate(wrt(w), forward)]
fn network(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}

#[test]
fn network_hvp_matches_central_differences_of_grad_and_the_closed_form() {
    for &(n, m, k) in &[(8, 4, 3), (1, 1, 1), (1, 4, 1), (5, 2, 6)] {
        let (w, x, y, v) = (mat(m, k, 1), mat(n, m, 2), mat(n, k, 3), mat(m, k, 4));
        let (value, g, hv) = network_hvp(&w, &x, &y, &v);
        let (value_grad, g_grad) = network_grad(&w, &x, &y);
        assert_eq!(value, value_grad);
        assert_close(&g, &g_grad, 1e-12);
        assert_close(&hv, &fd_grad(|w| network_grad(w, &x, &y).1, &w, &v), 1e-6);
        // ∇f = Xᵀ(2(a − y) ⊙ σ′), σ′ = a(1 − a), σ″ = σ′(1 − 2a); along V (Ż = XV):
        // H V = Xᵀ(2 Ż ⊙ σ′ ⊙ σ′ + 2(a − y) ⊙ σ″ ⊙ Ż).
        let a = (&x * &w).map(|v| 1.0 / (1.0 + (-v).exp()));
        let s1 = a.map(|v| v * (1.0 - v));
        let s2 = a.map(|v| v * (1.0 - v) * (1.0 - 2.0 * v));
        let zd = &x * &v;
        let inner =
            zd.component_mul(&s1).component_mul(&s1) * 2.0 + (&a - &y).component_mul(&s2).component_mul(&zd) * 2.0;
        assert_close(&hv, &(x.transpose() * inner), 1e-12);
    }
}

/// The quadratic form aᵀXa, both differentiated.
#[differentiate(wrt(x, a), forward)]
fn quadratic(x: &DMatrix<f64>, a: &DMatrix<f64>) -> f64 {
    (a.transpose() * x * a)[(0, 0)]
}

#[test]
fn quadratic_form_hvp_is_the_closed_form() {
    let (x, a, vx, va) = (mat(4, 4, 1), mat(4, 1, 2), mat(4, 4, 3), mat(4, 1, 4));
    let (value, gx, ga, hx, ha) = quadratic_hvp(&x, &a, &vx, &va);
    assert_eq!(value, quadratic(&x, &a));
    // ∇ₓf = a aᵀ, ∇ₐf = (X + Xᵀ) a.
    assert_close(&gx, &(&a * a.transpose()), 1e-12);
    assert_close(&ga, &((&x + x.transpose()) * &a), 1e-12);
    // f is linear in X: Hₓₓ = 0, so hₓ = ∂(a aᵀ)/∂a · vₐ = vₐ aᵀ + a vₐᵀ;
    // hₐ = (X + Xᵀ) vₐ + (Vₓ + Vₓᵀ) a.
    assert_close(&hx, &(&va * a.transpose() + &a * va.transpose()), 1e-12);
    assert_close(&ha, &((&x + x.transpose()) * &va + (&vx + vx.transpose()) * &a), 1e-12);
}

/// Dictionary learning f(D, R) = ‖X − DR‖² (non-square).
#[differentiate(wrt(d, r), forward)]
fn dictionary(x: &DMatrix<f64>, d: &DMatrix<f64>, r: &DMatrix<f64>) -> f64 {
    (x - d * r).norm_squared()
}

#[test]
fn dictionary_hvp_is_the_closed_form_and_symmetric() {
    let (x, d, r) = (mat(6, 5, 1), mat(6, 3, 2), mat(3, 5, 3));
    let (vd, vr) = (mat(6, 3, 4), mat(3, 5, 5));
    let (_, _, _, hd, hr) = dictionary_hvp(&x, &d, &r, &vd, &vr);
    // E = X − DR, ∇_D = −2ERᵀ, ∇_R = −2DᵀE; along (V, U) = (vd, vr), Ė = −VR − DU:
    // h_D = −2(ĖRᵀ + EUᵀ) = 2VRRᵀ + 2DURᵀ − 2EUᵀ, h_R = −2(VᵀE + DᵀĖ) = 2DᵀDU + 2DᵀVR − 2VᵀE.
    let e = &x - &d * &r;
    let closed_d = &vd * &r * r.transpose() * 2.0 + &d * &vr * r.transpose() * 2.0 - &e * vr.transpose() * 2.0;
    let closed_r = d.transpose() * &d * &vr * 2.0 + d.transpose() * &vd * &r * 2.0 - vd.transpose() * &e * 2.0;
    assert_close(&hd, &closed_d, 1e-12);
    assert_close(&hr, &closed_r, 1e-12);
    // ⟨(u_D, u_R), H(v_D, v_R)⟩ = ⟨(v_D, v_R), H(u_D, u_R)⟩
    let (ud, ur) = (mat(6, 3, 6), mat(3, 5, 7));
    let (_, _, _, kd, kr) = dictionary_hvp(&x, &d, &r, &ud, &ur);
    let (uhv, vhu) = (ud.dot(&hd) + ur.dot(&hr), vd.dot(&kd) + vr.dot(&kr));
    assert!((uhv - vhu).abs() < 1e-10 * uhv.abs().max(1.0), "{uhv} vs {vhu}");
}

/// ln det S + tr(S⁻¹C) through one Cholesky factorization (the Gaussian negative log-likelihood).
#[differentiate(wrt(s), forward)]
fn gaussian(s: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let chol = s.clone().cholesky().unwrap();
    chol.ln_determinant() + chol.solve(c).trace()
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
fn ln_det_hvp_is_minus_s_inverse_v_s_inverse() {
    for n in [1, 2, 4] {
        let (s, c, v) = (spd(n, 1), spd(n, 2), sym(n, 3));
        let (_, g, hv) = gaussian_hvp(&s, &c, &v);
        let si = s.clone().try_inverse().unwrap();
        // ∇f = S⁻¹ − S⁻¹CS⁻¹ (symmetric); H V = −S⁻¹VS⁻¹ + S⁻¹VS⁻¹CS⁻¹ + S⁻¹CS⁻¹VS⁻¹
        // (vec form: ln det has Hessian −S⁻¹ ⊗ S⁻¹).
        assert_close(&g, &(&si - &si * &c * &si), 1e-10);
        let closed = -(&si * &v * &si) + &si * &v * &si * &c * &si + &si * &c * &si * &v * &si;
        assert_close(&hv, &closed, 1e-10);
        assert_close(&hv, &fd_grad(|s| gaussian_grad(s, &c).1, &s, &v), 1e-6);
    }
}

/// Branches, a loop carrying a matrix, a nested loop, a `map` closure with a differentiated
/// capture and a branch inside.
#[differentiate(wrt(w, s), forward)]
fn recurrent(w: &DMatrix<f64>, s: f64, h0: &DMatrix<f64>, steps: usize) -> f64 {
    let mut h = h0.clone();
    let mut acc = 0.0;
    for k in 0..steps {
        h = (w * &h).map(|v| if v > 0.0 { (v * s).tanh() } else { v.sin() * s });
        if h.sum() > 0.0 {
            acc += h.norm_squared();
        } else {
            acc -= h[(k % 3, 0)] * s;
        }
        for j in 0..2 {
            acc += h.column(j).sum() * h[(0, j)];
        }
    }
    acc
}

#[test]
fn control_flow_hvp_matches_central_differences_of_grad() {
    for seed in 0..4 {
        let (w, h0, vw) = (mat(3, 3, seed), mat(3, 2, seed + 10), mat(3, 3, seed + 20));
        let (s, vs) = (0.8, -0.3);
        let (value, gw, gs, hw, hs) = recurrent_hvp(&w, s, &h0, 4, &vw, vs);
        let (value_grad, gw_grad, gs_grad) = recurrent_grad(&w, s, &h0, 4);
        assert_eq!(value, value_grad);
        assert_close(&gw, &gw_grad, 1e-12);
        assert!((gs - gs_grad).abs() < 1e-12 * gs_grad.abs().max(1.0));
        let h = 1e-5;
        let (p, m) =
            (recurrent_grad(&(&w + &vw * h), s + vs * h, &h0, 4), recurrent_grad(&(&w - &vw * h), s - vs * h, &h0, 4));
        assert_close(&hw, &((p.1 - m.1) / (2.0 * h)), 1e-6);
        let fd_s = (p.2 - m.2) / (2.0 * h);
        assert!((hs - fd_s).abs() < 1e-6 * fd_s.abs().max(1.0), "{hs} vs {fd_s}");
    }
}

/// `map`s whose value and tangent run as one pass (no differentiated capture), in a loop body
/// and in a branch arm: their stored derivatives go through the loop's and the arm's tapes.
#[differentiate(wrt(w), forward)]
fn layered(w: &DMatrix<f64>, h0: &DMatrix<f64>, steps: usize) -> f64 {
    let mut h = h0.clone();
    for _ in 0..steps {
        h = (w * &h).map(|v| v.tanh());
        if h.sum() > 0.0 {
            h = h.map(|v| v * v + v.sin());
        }
    }
    h.norm_squared()
}

#[test]
fn fused_maps_in_loops_and_branches_match_central_differences() {
    for seed in 0..4 {
        let (w, h0, v) = (mat(3, 3, seed + 30), mat(3, 2, seed + 40), mat(3, 3, seed + 50));
        let (value, g, hv) = layered_hvp(&w, &h0, 3, &v);
        let (value_grad, g_grad) = layered_grad(&w, &h0, 3);
        assert!((value - value_grad).abs() < 1e-12 * value.abs().max(1.0));
        assert_close(&g, &g_grad, 1e-12);
        assert_close(&hv, &fd_grad(|w| layered_grad(w, &h0, 3).1, &w, &v), 1e-6);
        let (value_jvp, tangent) = layered_jvp(&w, &h0, 3, &v);
        assert_eq!(value_jvp, layered(&w, &h0, 3));
        assert!((tangent - g.dot(&v)).abs() < 1e-10 * tangent.abs().max(1.0), "{tangent} vs {}", g.dot(&v));
    }
}

/// A differentiated capture keeps a map and its tangent apart in `_hvp` (one pass in `_jvp`);
/// the closure's value is not read by its tangent.
#[differentiate(wrt(w, s), forward)]
fn scaled(w: &DMatrix<f64>, x: &DMatrix<f64>, s: f64) -> f64 {
    let z = x * w;
    z.map(|v| v * v * s).sum()
}

/// f = s Σ(XW)²: ∇_W f = 2s Xᵀ(XW), ∂f/∂s = Σ(XW)²; H·(V, σ) = (2s XᵀXV + 2σ XᵀXW, 2⟨XW, XV⟩).
#[test]
fn captured_scalar_keeps_the_maps_apart_and_is_the_closed_form() {
    let (w, x, v) = (mat(3, 2, 60), mat(4, 3, 61), mat(3, 2, 62));
    let (s, sv) = (0.7, -0.4);
    let (z, zv) = (&x * &w, &x * &v);
    let (value, gw, gs, hw, hs) = scaled_hvp(&w, &x, s, &v, sv);
    assert!((value - s * z.norm_squared()).abs() < 1e-12 * value.abs().max(1.0));
    assert_close(&gw, &(x.transpose() * &z * (2.0 * s)), 1e-12);
    assert!((gs - z.norm_squared()).abs() < 1e-12 * gs.abs().max(1.0));
    assert_close(&hw, &(x.transpose() * (&zv * (2.0 * s) + &z * (2.0 * sv))), 1e-12);
    assert!((hs - 2.0 * z.dot(&zv)).abs() < 1e-12 * hs.abs().max(1.0));
    let (value_jvp, tangent) = scaled_jvp(&w, &x, s, &v, sv);
    assert_eq!(value_jvp, scaled(&w, &x, s));
    let expected = gw.dot(&v) + gs * sv;
    assert!((tangent - expected).abs() < 1e-12 * expected.abs().max(1.0));
}

/// f(W) = ‖tanh(XW)‖², fixed-size f32, the map's value typed: one pass for the map and its
/// tangent.
#[differentiate(wrt(w), forward)]
fn squash(w: &SMatrix<f32, 2, 3>, x: &SMatrix<f32, 4, 2>) -> f32 {
    let z = x * w;
    let a: SMatrix<f32, 4, 3> = z.map(|v| v.tanh());
    a.norm_squared()
}

/// With A = tanh(XW) and Ż = XV: ∇f = Xᵀ(2A ⊙ (1 − A²)), ⟨∇f, V⟩ = ⟨2A ⊙ (1 − A²), Ż⟩ and, as
/// d²(a²)/dz² = 2(1 − a²)(1 − 3a²), H·V = Xᵀ(2Ż ⊙ (1 − A²) ⊙ (1 − 3A²)).
#[test]
fn fused_map_fixed_size_f32_is_the_closed_form() {
    let w = SMatrix::<f32, 2, 3>::from_fn(|i, j| 0.3 * i as f32 - 0.2 * j as f32 + 0.1);
    let x = SMatrix::<f32, 4, 2>::from_fn(|i, j| 0.5 - 0.25 * i as f32 + 0.4 * j as f32);
    let v = SMatrix::<f32, 2, 3>::from_fn(|i, j| 0.7 - 0.3 * (i + j) as f32);
    let a = (x * w).map(|z| z.tanh());
    let da = a.map(|a| 1.0 - a * a);
    let zd = x * v;
    let g = x.transpose() * (a * 2.0).component_mul(&da);
    let hv = x.transpose() * (zd * 2.0).component_mul(&da).component_mul(&a.map(|a| 1.0 - 3.0 * a * a));
    let (value, dw, h) = squash_hvp(&w, &x, &v);
    assert!((value - a.norm_squared()).abs() < 1e-6);
    assert!((dw - g).norm() < 1e-5 * g.norm().max(1.0));
    assert!((h - hv).norm() < 1e-5 * hv.norm().max(1.0));
    let (value, tangent) = squash_jvp(&w, &x, &v);
    assert_eq!(value, squash(&w, &x));
    assert!((tangent - g.dot(&v)).abs() < 1e-5 * tangent.abs().max(1.0));
}

/// The pose fit in f32 with fixed sizes (as `examples/pose.rs`).
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
fn fixed_size_f32_hvp_is_the_closed_form() {
    let r = Matrix3::<f32>::from_fn(|i, j| if i == j { 0.9 } else { 0.1 * (i as f32 - j as f32) });
    let t = Vector3::<f32>::new(0.1, -0.2, 0.3);
    let p = SMatrix::<f32, 3, 8>::from_fn(|i, j| ((i * 5 + j * 3) % 7) as f32 / 3.5 - 1.0);
    let q = SMatrix::<f32, 3, 8>::from_fn(|i, j| ((i * 3 + j * 5) % 7) as f32 / 3.5 - 1.0);
    let vr = Matrix3::<f32>::from_fn(|i, j| 0.3 * i as f32 - 0.2 * j as f32);
    let vt = Vector3::<f32>::new(0.5, 0.1, -0.4);
    let (_, _, _, hr, ht) = pose_hvp(&r, &t, &p, &q, &vr, &vt);
    // In f64: ∇_R = Σ 2eᵢpᵢᵀ + 4RG, ∇_t = Σ 2eᵢ (G = RᵀR − I); along (V, u), ėᵢ = Vpᵢ + u:
    // h_R = Σ 2ėᵢpᵢᵀ + 4VG + 4R(VᵀR + RᵀV), h_t = Σ 2ėᵢ.
    let (r, t, p, q, vr, vt) =
        (r.cast::<f64>(), t.cast::<f64>(), p.cast::<f64>(), q.cast::<f64>(), vr.cast::<f64>(), vt.cast::<f64>());
    let g = r.transpose() * r - Matrix3::identity();
    let mut closed_r = vr * g * 4.0 + r * (vr.transpose() * r + r.transpose() * vr) * 4.0;
    let mut closed_t = Vector3::zeros();
    for i in 0..8 {
        let ed = vr * p.column(i) + vt;
        closed_r += ed * p.column(i).transpose() * 2.0;
        closed_t += ed * 2.0;
    }
    let _ = (t, q);
    assert!((hr.cast::<f64>() - closed_r).abs().max() < 1e-4 * closed_r.abs().max(), "{hr} vs {closed_r}");
    assert!((ht.cast::<f64>() - closed_t).abs().max() < 1e-4 * closed_t.abs().max(), "{ht} vs {closed_t}");
}

/// f(x) = ½ xᵀAx + Σ sin xᵢ, a fixed-size vector.
#[differentiate(wrt(x), forward)]
fn bowl(x: &SVector<f64, 4>, a: &SMatrix<f64, 4, 4>) -> f64 {
    (x.transpose() * a * x)[(0, 0)] * 0.5 + x.map(|v| v.sin()).sum()
}

#[test]
fn dense_hessians_are_the_closed_form() {
    let x = SVector::<f64, 4>::new(0.3, -0.7, 1.1, 0.2);
    let a = SMatrix::<f64, 4, 4>::from_fn(|i, j| (i as f64 + 1.0) * 0.5 - j as f64 * 0.3);
    // H = (A + Aᵀ)/2 − diag(sin x)
    let closed = (a + a.transpose()) * 0.5 - SMatrix::<f64, 4, 4>::from_diagonal(&x.map(|v| v.sin()));
    let h = matgrad::hessian_fixed(&x, |v| bowl_hvp(&x, &a, v).2);
    assert!((h - closed).abs().max() < 1e-12, "{h} vs {closed}");
    let hd = matgrad::hessian(&x, |v| bowl_hvp(&x, &a, v).2);
    assert_eq!(hd.shape(), (4, 4));
    assert!((hd - DMatrix::from_column_slice(4, 4, closed.as_slice())).abs().max() < 1e-12);
}

/// f(x) = (x₀x₁, sin x₂, x₀ + 2x₂), a fixed-size vector function.
#[differentiate(wrt(x), forward)]
fn warp(x: &SVector<f64, 3>) -> SVector<f64, 3> {
    Vector3::new(x[0] * x[1], x[2].sin(), x[0] + 2.0 * x[2])
}

/// A matrix function Y = tanh(XW)ᵀ of a non-square W.
#[differentiate(wrt(w), forward)]
fn layer(w: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    (x * w).map(|v| v.tanh()).transpose()
}

#[test]
fn dense_jacobians_are_the_closed_form_and_central_differences() {
    let x = SVector::<f64, 3>::new(0.3, -0.7, 1.1);
    let j = matgrad::jacobian_fixed(&x, |t| warp_jvp(&x, t).1);
    // J = [[x₁, x₀, 0], [0, 0, cos x₂], [1, 0, 2]]
    let closed = SMatrix::<f64, 3, 3>::new(x[1], x[0], 0.0, 0.0, 0.0, x[2].cos(), 1.0, 0.0, 2.0);
    assert!((j - closed).abs().max() < 1e-12, "{j} vs {closed}");
    let (w, xm) = (mat(3, 2, 1), mat(5, 3, 2));
    let jd = matgrad::jacobian(&w, |t| layer_jvp(&w, &xm, t).1);
    assert_eq!(jd.shape(), (10, 6));
    let h = 1e-6;
    for k in 0..6 {
        let mut e = DMatrix::zeros(3, 2);
        e[k] = 1.0;
        let fd = (layer(&(&w + &e * h), &xm) - layer(&(&w - &e * h), &xm)) / (2.0 * h);
        let col = nalgebra::DVector::from_column_slice(fd.as_slice());
        assert_close(&jd.column(k).into_owned(), &col, 1e-7);
    }
}

#[differentiate(forward)]
fn energy(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a.transpose() * b).map(|v| v.tanh()).sum()
}

#[differentiate(forward)]
fn softplus(v: f64) -> f64 {
    (v.exp() + 1.0).ln()
}

#[differentiate(wrt(w), forward)]
fn affine(w: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    x * w
}

/// Composition: each call's reverse pass is the callee's `_tangent_pullback`.
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
fn composition_hvp_matches_central_differences_of_grad() {
    let (w, x, v) = (mat(3, 3, 1), mat(3, 3, 2), mat(3, 3, 3));
    let (value, g, hv) = composed_hvp(&w, &x, &v);
    let (value_grad, g_grad) = composed_grad(&w, &x);
    assert_eq!(value, value_grad);
    assert_close(&g, &g_grad, 1e-12);
    assert_close(&hv, &fd_grad(|w| composed_grad(w, &x).1, &w, &v), 1e-6);
}

/// `zip_map` with a differentiated capture, softmax, log-sum-exp, `powf`, `atan2`.
#[differentiate(wrt(x, y, s), forward)]
fn more(x: &DMatrix<f64>, y: &DMatrix<f64>, s: f64) -> f64 {
    let z = x.zip_map(y, |a, b| (a * b + s).sin() + a.atan2(b + 2.0) + (a + 2.0).powf(s));
    let p = matgrad::softmax_rows(&z);
    (p.component_mul(y)).sum() + matgrad::logsumexp_rows(&z).sum() + x.normalize().dot(y)
}

#[test]
fn more_functions_hvp_matches_central_differences_of_grad() {
    let (x, y, vx, vy) = (mat(3, 4, 1), mat(3, 4, 2), mat(3, 4, 3), mat(3, 4, 4));
    let (s, vs) = (0.7, 0.3);
    let (_, gx, gy, gs, hx, hy, hs) = more_hvp(&x, &y, s, &vx, &vy, vs);
    let (_, gx2, gy2, gs2) = more_grad(&x, &y, s);
    assert_close(&gx, &gx2, 1e-12);
    assert_close(&gy, &gy2, 1e-12);
    assert!((gs - gs2).abs() < 1e-12);
    let h = 1e-5;
    let (p, m) = (
        more_grad(&(&x + &vx * h), &(&y + &vy * h), s + vs * h),
        more_grad(&(&x - &vx * h), &(&y - &vy * h), s - vs * h),
    );
    assert_close(&hx, &((p.1 - m.1) / (2.0 * h)), 1e-6);
    assert_close(&hy, &((p.2 - m.2) / (2.0 * h)), 1e-6);
    let fd = (p.3 - m.3) / (2.0 * h);
    assert!((hs - fd).abs() < 1e-6 * fd.abs().max(1.0), "{hs} vs {fd}");
}

/// Every exit and loop form, with a call in a loop body and in a branch arm: `while` with
/// `continue` and `break`, `match` with a guard, `if let`, a loop over columns, an early return.
#[differentiate(wrt(w, s), forward)]
fn exits(w: &DMatrix<f64>, s: f64, limit: Option<usize>) -> f64 {
    let mut acc = 0.0;
    let mut k = 0;
    while k < 6 {
        k += 1;
        if k == 2 {
            continue;
        }
        acc += energy(w, w) * s;
        if acc > 50.0 {
            break;
        }
    }
    for c in w.column_iter() {
        acc += c.norm_squared() * s;
    }
    let m = match k {
        n if n > 3 => softplus(acc * 0.1) * s,
        _ => acc,
    };
    if let Some(n) = limit {
        if n == 0 {
            return m * m;
        }
    }
    let r = {
        let t = m.sin();
        t * acc
    };
    r + m
}

#[test]
fn exits_and_calls_hvp_and_jvp_match_central_differences() {
    let (w, vw) = (mat(3, 2, 1), mat(3, 2, 2));
    let (s, vs) = (0.6, -0.4);
    for limit in [None, Some(0), Some(3)] {
        let (value, gw, gs, hw, hs) = exits_hvp(&w, s, limit, &vw, vs);
        let (value_grad, gw2, gs2) = exits_grad(&w, s, limit);
        assert_eq!(value, value_grad);
        assert_close(&gw, &gw2, 1e-12);
        assert!((gs - gs2).abs() < 1e-12 * gs2.abs().max(1.0));
        let h = 1e-5;
        let (p, m) = (exits_grad(&(&w + &vw * h), s + vs * h, limit), exits_grad(&(&w - &vw * h), s - vs * h, limit));
        assert_close(&hw, &((p.1 - m.1) / (2.0 * h)), 1e-6);
        let fd = (p.2 - m.2) / (2.0 * h);
        assert!((hs - fd).abs() < 1e-6 * fd.abs().max(1.0), "{hs} vs {fd}");
        // ḟ = ⟨∇f, v⟩, against central differences of f.
        let (_, tangent) = exits_jvp(&w, s, limit, &vw, vs);
        let fdf = (exits(&(&w + &vw * h), s + vs * h, limit) - exits(&(&w - &vw * h), s - vs * h, limit)) / (2.0 * h);
        assert!((tangent - fdf).abs() < 1e-6 * fdf.abs().max(1.0), "{tangent} vs {fdf}");
    }
}

/// A classifier's loss: cross-entropy of XW against soft labels Y, both differentiated.
#[differentiate(wrt(w, y), forward)]
fn classifier(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    matgrad::cross_entropy(&(x * w), y)
}

#[test]
fn cross_entropy_jvp_and_hvp_match_central_differences() {
    let (w, x, vw) = (mat(3, 4, 1), mat(5, 3, 2), mat(3, 4, 3));
    let y = mat(5, 4, 4).map(|v| v.abs());
    let vy = mat(5, 4, 5);
    let (_, tangent) = classifier_jvp(&w, &x, &y, &vw, &vy);
    let h = 1e-5;
    let f = |e: f64| classifier(&(&w + &vw * e), &x, &(&y + &vy * e));
    let fd = (f(h) - f(-h)) / (2.0 * h);
    assert!((tangent - fd).abs() < 1e-7 * fd.abs().max(1.0), "{tangent} vs {fd}");
    let (_, _, _, hw, hy) = classifier_hvp(&w, &x, &y, &vw, &vy);
    let (p, m) =
        (classifier_grad(&(&w + &vw * h), &x, &(&y + &vy * h)), classifier_grad(&(&w - &vw * h), &x, &(&y - &vy * h)));
    assert_close(&hw, &((p.1 - m.1) / (2.0 * h)), 1e-6);
    assert_close(&hy, &((p.2 - m.2) / (2.0 * h)), 1e-6);
}
