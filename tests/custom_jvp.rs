//! `#[custom_jvp(rule)]`: a function differentiated by the user's forward rule (itself a
//! `#[differentiate]` function), in every mode: its own `_jvp`, `_hvp`, `_grad` (reverse mode by
//! transposing the tangent), and callers in both modes, in the body and in a `map` closure.
//! Against closed forms and central differences.

mod common;

use common::{assert_close, mat};
use matgrad::{custom_jvp, differentiate};
use nalgebra::DMatrix;

fn assert_near(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol * b.abs().max(1.0), "{a} vs {b}");
}

/// ln(1 + eˣ), computed stably; its forward rule gives ẏ = σ(x) ẋ.
#[custom_jvp(softplus_rule)]
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[differentiate]
fn softplus_rule(x: f64, t: f64) -> (f64, f64) {
    let y = x.max(0.0) + (-x.abs()).exp().ln_1p();
    let s = 1.0 / (1.0 + (-x).exp());
    (y, s * t)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn a_scalar_rule_in_every_mode() {
    for x in [-3.0, -0.4, 0.0, 0.7, 5.0] {
        let (value, tangent) = softplus_jvp(x, 0.3);
        assert_eq!(value, softplus(x));
        assert_near(tangent, 0.3 * sigmoid(x), 1e-14);
        // reverse mode from the rule: ∂f/∂x = σ(x)
        let (value, g) = softplus_grad(x);
        assert_eq!(value, softplus(x));
        assert_near(g, sigmoid(x), 1e-14);
        // second order: f″ = σ(1 − σ)
        let (value, g, h) = softplus_hvp(x, 0.5);
        assert_eq!(value, softplus(x));
        assert_near(g, sigmoid(x), 1e-14);
        assert_near(h, 0.5 * sigmoid(x) * (1.0 - sigmoid(x)), 1e-12);
    }
}

/// A forward-mode caller: in the body and in a `map` closure.
#[differentiate(wrt(w), forward)]
fn caller(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let z = (x * w).map(softplus);
    z.sum() + softplus(w[(0, 0)])
}

/// A reverse-mode caller.
#[differentiate(wrt(w))]
fn reverse_caller(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (x * w).map(softplus).sum()
}

#[test]
fn callers_in_both_modes() {
    let (w, x, t) = (mat(3, 2, 1), mat(4, 3, 2), mat(3, 2, 3));
    // f = Σ softplus(XW) + softplus(W₀₀): ∇f = Xᵀ σ(XW) + σ(W₀₀) E₀₀
    let s = (&x * &w).map(sigmoid);
    let mut grad = x.transpose() * &s;
    grad[(0, 0)] += sigmoid(w[(0, 0)]);
    let (value, tangent) = caller_jvp(&w, &x, &t);
    assert_eq!(value, caller(&w, &x));
    assert_near(tangent, grad.dot(&t), 1e-12);
    let (_, g) = caller_grad(&w, &x);
    assert_close(&g, &grad, 1e-12);
    // H V = Xᵀ(σ′(XW) ⊙ XV) + σ′(W₀₀) V₀₀ E₀₀
    let (_, g, hv) = caller_hvp(&w, &x, &t);
    assert_close(&g, &grad, 1e-12);
    let mut closed = x.transpose() * (&x * &w).map(|v| sigmoid(v) * (1.0 - sigmoid(v))).component_mul(&(&x * &t));
    closed[(0, 0)] += sigmoid(w[(0, 0)]) * (1.0 - sigmoid(w[(0, 0)])) * t[(0, 0)];
    assert_close(&hv, &closed, 1e-12);
    let (_, g) = reverse_caller_grad(&w, &x);
    assert_close(&g, &(x.transpose() * s), 1e-12);
}

/// X = A⁻¹B, with the rule Ẋ = A⁻¹(Ḃ − ȦX).
#[custom_jvp(solve_rule)]
fn solve(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    a.clone().lu().solve(b).unwrap()
}

#[differentiate]
fn solve_rule(
    a: &DMatrix<f64>,
    b: &DMatrix<f64>,
    ta: &DMatrix<f64>,
    tb: &DMatrix<f64>,
) -> (DMatrix<f64>, DMatrix<f64>) {
    let lu = a.clone().lu();
    let x = lu.solve(b).unwrap();
    let dx = lu.solve(&(tb - ta * &x)).unwrap();
    (x, dx)
}

#[differentiate(wrt(a, b), forward)]
fn loss(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    solve(a, b).norm_squared()
}

#[test]
fn a_matrix_rule_in_every_mode() {
    let a = mat(3, 3, 1) + DMatrix::identity(3, 3) * 3.0;
    let (b, ta, tb) = (mat(3, 2, 2), mat(3, 3, 3), mat(3, 2, 4));
    let (x, dx) = solve_jvp(&a, &b, &ta, &tb);
    let ai = a.clone().try_inverse().unwrap();
    assert_close(&x, &(&ai * &b), 1e-12);
    assert_close(&dx, &(&ai * (&tb - &ta * &x)), 1e-12);
    // f = ‖X‖²: Ā = −2A⁻ᵀXXᵀ, B̄ = 2A⁻ᵀX
    let (value, ga, gb) = loss_grad(&a, &b);
    assert_eq!(value, loss(&a, &b));
    assert_close(&gb, &(ai.transpose() * &x * 2.0), 1e-12);
    assert_close(&ga, &(-(ai.transpose() * &x * x.transpose()) * 2.0), 1e-12);
    let (_, tangent) = loss_jvp(&a, &b, &ta, &tb);
    assert_near(tangent, ga.dot(&ta) + gb.dot(&tb), 1e-12);
    let (_, _, _, ha, hb) = loss_hvp(&a, &b, &ta, &tb);
    let h = 1e-5;
    let (p, m) = (loss_grad(&(&a + &ta * h), &(&b + &tb * h)), loss_grad(&(&a - &ta * h), &(&b - &tb * h)));
    assert_close(&ha, &((p.1 - m.1) / (2.0 * h)), 1e-6);
    assert_close(&hb, &((p.2 - m.2) / (2.0 * h)), 1e-6);
    // the vector-Jacobian product of the matrix-valued function itself
    let g = mat(3, 2, 5);
    let (_, va, vb) = solve_vjp(&a, &b, g.clone());
    let bn = ai.transpose() * &g;
    assert_close(&vb, &bn, 1e-12);
    assert_close(&va, &(-(&bn * x.transpose())), 1e-12);
}

/// `wrt` restricts the tangents: f(A; B) = ⟨A, B⟩ ‖A‖², with ḟ = ⟨Ȧ, B⟩‖A‖² + 2⟨A, B⟩⟨A, Ȧ⟩.
#[custom_jvp(weighted_rule, wrt(a))]
fn weighted(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.dot(b) * a.norm_squared()
}

#[differentiate]
fn weighted_rule(a: &DMatrix<f64>, b: &DMatrix<f64>, ta: &DMatrix<f64>) -> (f64, f64) {
    let (ab, aa) = (a.dot(b), a.norm_squared());
    (ab * aa, ta.dot(b) * aa + 2.0 * ab * a.dot(ta))
}

#[test]
fn a_rule_with_wrt() {
    let (a, b, t) = (mat(2, 3, 1), mat(2, 3, 2), mat(2, 3, 3));
    let (ab, aa) = (a.dot(&b), a.norm_squared());
    // ∇f = B‖A‖² + 2⟨A, B⟩A; H V = 2⟨A, V⟩B + 2⟨V, B⟩A + 2⟨A, B⟩V
    let grad = &b * aa + &a * (2.0 * ab);
    let (_, g) = weighted_grad(&a, &b);
    assert_close(&g, &grad, 1e-12);
    let (_, tangent) = weighted_jvp(&a, &b, &t);
    assert_near(tangent, grad.dot(&t), 1e-12);
    let (_, g, hv) = weighted_hvp(&a, &b, &t);
    assert_close(&g, &grad, 1e-12);
    let closed = &b * (2.0 * a.dot(&t)) + &a * (2.0 * t.dot(&b)) + &t * (2.0 * ab);
    assert_close(&hv, &closed, 1e-12);
}
