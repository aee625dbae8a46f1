//! A `map` whose closure applies one function with a derivative that is a function of its value
//! (`tanh`: 1 − y², `exp`: y, `sqrt`: 1/(2y), `recip`: −y²) stores no derivative: the reverse
//! pass computes `Ḡ ⊙ f′(Y)` from the map's values. Each function, in the function body, a
//! branch arm, a loop body, nested loops and a nested block, its value carried by a loop, beside
//! a compound closure, in f64 and f32, dynamic and static sizes, 1×1 and 1×n, generic over the
//! scalar type and with forward mode. Gradients against closed forms and central differences,
//! values against the user's function (`same_value`, as for every lane map).

mod common;

use common::{assert_close, assert_fd, assert_same_value, mat, same_value, SHAPES};
use matgrad::differentiate;
use nalgebra::{DMatrix, RealField, SMatrix};

/// f(X, P) = Σ tanh(X) ⊙ eˣ + ⟨√P, 1/P⟩ (P > 0), each map read with a non-constant adjoint:
/// ∂f/∂X = (1 − tanh² X) ⊙ eˣ + tanh X ⊙ eˣ, ∂f/∂P = −½ P^(−3/2).
#[differentiate(wrt(x, p))]
fn four(x: &DMatrix<f64>, p: &DMatrix<f64>) -> f64 {
    let a = x.map(|v| v.tanh());
    let b = x.map(|v| v.exp());
    let c = p.map(|v| v.sqrt());
    let d = p.map(|v| v.recip());
    a.component_mul(&b).sum() + c.dot(&d)
}

fn four_closed_form(x: &DMatrix<f64>, p: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
    let dx = x.map(|v| (1.0 - v.tanh().powi(2)) * v.exp() + v.tanh() * v.exp());
    let dp = p.map(|v| -0.5 * v.powf(-1.5));
    (dx, dp)
}

/// On the common shapes, and on shapes of 64 entries and more, which take lanes chosen at run
/// time where the CPU's are wider than the build's (`dispatch`), the last lane partial in all but
/// one (8×8).
#[test]
fn each_function_against_its_closed_form_on_every_shape() {
    let long = [(12, 9), (8, 8), (1, 70), (70, 1), (33, 5)];
    for &(r, c) in SHAPES.iter().chain(&long) {
        let x = mat(r, c, 1);
        let p = mat(r, c, 2).map(|v| v.abs() + 0.5);
        let (value, dx, dp) = four_grad(&x, &p);
        assert!(same_value(value, four(&x, &p)), "{r}×{c}: {value} vs {}", four(&x, &p));
        let (cx, cp) = four_closed_form(&x, &p);
        assert_close(&dx, &cx, 1e-13);
        assert_close(&dp, &cp, 1e-13);
        assert_fd(|x| four(x, &p), &x, &dx, 1e-6);
        assert_fd(|p| four(&x, p), &p, &dp, 1e-6);
    }
}

/// f32 on 99 entries (lanes chosen at run time, as above).
#[test]
fn long_f32_maps_against_their_closed_form() {
    let x = SMatrix::<f32, 9, 11>::from_fn(|i, j| (i as f32 - 4.0) * 0.4 + j as f32 * 0.2 - 1.0);
    let (value, dx) = long_f32_grad(&x);
    assert!(same_value(value, long_f32(&x)));
    assert_f32_closed_form(&x, &dx);
}

/// [`static_f32`] on 99 entries.
#[differentiate(wrt(x))]
fn long_f32(x: &SMatrix<f32, 9, 11>) -> f32 {
    x.map(|v| v.tanh()).component_mul(&x.map(|v| v.exp())).sum()
}

/// The map in each position, f = Σ tanh(XW) once per run of the body that holds it (eˣ in the
/// other arm): ∂f/∂W = k Xᵀ(1 − tanh²(XW)) with k = 1 (body, arm, block), 3 (loop), 4 (nested
/// loops); the other arm Xᵀ e^(XW).
#[differentiate(wrt(w))]
fn in_body(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (x * w).map(|v| v.tanh()).sum()
}

#[differentiate(wrt(w))]
fn in_arm(w: &DMatrix<f64>, x: &DMatrix<f64>, gate: bool) -> f64 {
    if gate {
        (x * w).map(|v| v.tanh()).sum()
    } else {
        (x * w).map(|v| v.exp()).sum()
    }
}

#[differentiate(wrt(w))]
fn in_loop(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let mut total = 0.0;
    for _ in 0..3 {
        let h = (x * w).map(|v| v.tanh());
        total += h.sum();
    }
    total
}

#[differentiate(wrt(w))]
fn in_nested_loops(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let mut total = 0.0;
    for _ in 0..2 {
        for _ in 0..2 {
            total += (x * w).map(|v| v.tanh()).sum();
        }
    }
    total
}

#[differentiate(wrt(w))]
fn in_block(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let s = {
        let h = (x * w).map(|v| v.tanh());
        h.sum()
    };
    s * 1.0
}

#[test]
fn in_every_position() {
    for &(r, c) in SHAPES {
        let (x, w) = (mat(r, c, 3), mat(c, r + 1, 4));
        let t = x.tr_mul(&(&x * &w).map(|v| 1.0 - v.tanh().powi(2)));
        let e = x.tr_mul(&(&x * &w).map(|v| v.exp()));
        let check = |(value, dw): (f64, DMatrix<f64>), f: &dyn Fn(&DMatrix<f64>) -> f64, want: DMatrix<f64>| {
            assert!(same_value(value, f(&w)));
            assert_close(&dw, &want, 1e-13);
            assert_fd(f, &w, &dw, 1e-6);
        };
        check(in_body_grad(&w, &x), &|w| in_body(w, &x), t.clone());
        check(in_arm_grad(&w, &x, true), &|w| in_arm(w, &x, true), t.clone());
        check(in_arm_grad(&w, &x, false), &|w| in_arm(w, &x, false), e);
        check(in_loop_grad(&w, &x), &|w| in_loop(w, &x), &t * 3.0);
        check(in_nested_loops_grad(&w, &x), &|w| in_nested_loops(w, &x), &t * 4.0);
        check(in_block_grad(&w, &x), &|w| in_block(w, &x), t);
    }
}

/// The map's value carried by a loop, h ← tanh(W h), and read after it:
/// f = ‖h₃‖², checked by central differences, beside a compound closure (no value map).
#[differentiate(wrt(w))]
fn carried(w: &DMatrix<f64>, h0: &DMatrix<f64>) -> f64 {
    let mut h = h0.clone();
    for _ in 0..3 {
        h = (w * h).map(|v| v.tanh());
    }
    let soft = h.map(|v| (1.0 + v.exp()).ln());
    h.norm_squared() + soft.sum()
}

#[test]
fn a_value_carried_by_a_loop() {
    let (w, h0) = (mat(4, 4, 5) * 0.8, mat(4, 3, 6));
    let (value, dw) = carried_grad(&w, &h0);
    assert!(same_value(value, carried(&w, &h0)));
    assert_fd(|w| carried(w, &h0), &w, &dw, 1e-6);
}

/// f32, static sizes: f(X) = Σ tanh(X) ⊙ eˣ; the closed form as for [`four`].
#[differentiate(wrt(x))]
fn static_f32(x: &SMatrix<f32, 3, 5>) -> f32 {
    x.map(|v| v.tanh()).component_mul(&x.map(|v| v.exp())).sum()
}

#[test]
fn f32_and_static_sizes() {
    let x = SMatrix::<f32, 3, 5>::from_fn(|i, j| (i as f32 - 1.0) * 0.7 + j as f32 * 0.3 - 0.6);
    let (value, dx) = static_f32_grad(&x);
    assert!(same_value(value, static_f32(&x)));
    assert_f32_closed_form(&x, &dx);
}

/// The gradient `dx` of Σ tanh(X) ⊙ eˣ at `x` (f32) against the closed form of [`four`].
fn assert_f32_closed_form<const R: usize, const C: usize>(x: &SMatrix<f32, R, C>, dx: &SMatrix<f32, R, C>) {
    let want = x.map(|v| (1.0 - v.tanh().powi(2)) * v.exp() + v.tanh() * v.exp());
    for (g, w) in dx.iter().zip(want.iter()) {
        assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{g} vs {w}");
    }
}

/// A matrix value: the vector-Jacobian product of Y = e^X with an adjoint U is U ⊙ e^X.
#[differentiate(wrt(x))]
fn exp_of(x: &DMatrix<f64>) -> DMatrix<f64> {
    x.map(|v| v.exp())
}

#[test]
fn a_matrix_value() {
    let (x, u) = (mat(3, 4, 7), mat(3, 4, 8));
    let (value, dx) = exp_of_vjp(&x, u.clone());
    assert_same_value(value.iter(), exp_of(&x).iter());
    assert_close(&dx, &u.component_mul(&x.map(|v| v.exp())), 1e-14);
}

/// Generic over the scalar type: the map stays on the scalar path (no lanes there).
#[differentiate(wrt(x))]
fn generic<T: RealField + Copy>(x: &DMatrix<T>) -> T {
    x.map(|v| v.tanh()).sum()
}

#[test]
fn generic_over_the_scalar_type() {
    let x = mat(2, 3, 9);
    let (value, dx) = generic_grad(&x);
    assert_eq!(value, generic(&x));
    assert_close(&dx, &x.map(|v| 1.0 - v.tanh().powi(2)), 1e-15);
}

/// Forward mode keeps the map (its tangent runs in the same pass): f = Σ tanh(XW),
/// ∂f/∂W · V = ⟨(1 − tanh²(XW)), XV⟩, and the Hessian-vector product by differences of `_grad`.
#[differentiate(wrt(w), forward)]
fn with_forward(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    (x * w).map(|v| v.tanh()).sum()
}

#[test]
fn forward_mode_and_second_order() {
    let (x, w, v) = (mat(4, 3, 10), mat(3, 2, 11), mat(3, 2, 12));
    let (value, dw) = with_forward_grad(&w, &x);
    assert!(same_value(value, with_forward(&w, &x)));
    let (jv, tangent) = with_forward_jvp(&w, &x, &v);
    assert!(same_value(jv, value));
    let want = (&x * &w).map(|z| 1.0 - z.tanh().powi(2)).dot(&(&x * &v));
    assert!((tangent - want).abs() <= 1e-13 * want.abs().max(1.0), "{tangent} vs {want}");
    assert!((dw.dot(&v) - want).abs() <= 1e-13 * want.abs().max(1.0));
    let (hvp_value, hvp_grad, hv) = with_forward_hvp(&w, &x, &v);
    assert!(same_value(hvp_value, value));
    assert_close(&hvp_grad, &dw, 1e-13);
    let h = 1e-6;
    let fd = (with_forward_grad(&(&w + &v * h), &x).1 - with_forward_grad(&(&w - &v * h), &x).1) / (2.0 * h);
    assert_close(&hv, &fd, 1e-6);
}

/// The map's value moved by the next op of the forward pass (`h + y` takes `h`), and read by
/// the reverse pass: f = ‖tanh(X) + Y‖², ∂f/∂X = 2(tanh X + Y) ⊙ (1 − tanh² X).
#[differentiate(wrt(x))]
fn moved_after(x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let h = x.map(|v| v.tanh());
    let s = h + y;
    s.norm_squared()
}

#[test]
fn a_value_the_forward_pass_moves() {
    let (x, y) = (mat(3, 4, 13), mat(3, 4, 14));
    let (value, dx) = moved_after_grad(&x, &y);
    assert!(same_value(value, moved_after(&x, &y)));
    let want = (x.map(|v| v.tanh()) + &y).component_mul(&x.map(|v| 1.0 - v.tanh().powi(2))) * 2.0;
    assert_close(&dx, &want, 1e-13);
    assert_fd(|x| moved_after(x, &y), &x, &dx, 1e-6);
}

/// A map of a constant in a differentiated function is left as written: the user's scalar
/// `tanh`, so the value is the function's bit for bit. f(W) = ⟨W, tanh(X)⟩, ∂f/∂W = tanh X.
#[differentiate(wrt(w))]
fn of_a_constant(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let c = x.map(|v| v.tanh());
    w.component_mul(&c).sum()
}

#[test]
fn a_map_of_a_constant_keeps_the_scalar_calls() {
    let (w, x) = (mat(3, 5, 15), mat(3, 5, 16));
    let (value, dw) = of_a_constant_grad(&w, &x);
    assert_eq!(value, of_a_constant(&w, &x));
    assert_eq!(dw, x.map(|v| v.tanh()));
}

/// Maps of a view and of a reference parameter: f = Σᵢ exp(Xᵢ₁) + Σ tanh(X),
/// ∂f/∂X = 1 − tanh² X, plus e^(Xᵢ₁) in column 1.
#[differentiate(wrt(x))]
fn of_a_view(x: &DMatrix<f64>) -> f64 {
    x.column(1).map(|v| v.exp()).sum() + x.map(|v| v.tanh()).sum()
}

#[test]
fn maps_of_a_view_and_a_reference() {
    let x = mat(4, 3, 17);
    let (value, dx) = of_a_view_grad(&x);
    assert!(same_value(value, of_a_view(&x)));
    let mut want = x.map(|v| 1.0 - v.tanh().powi(2));
    for i in 0..4 {
        want[(i, 1)] += x[(i, 1)].exp();
    }
    assert_close(&dx, &want, 1e-13);
    assert_fd(of_a_view, &x, &dx, 1e-6);
}
