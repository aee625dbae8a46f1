//! Control flow, composition and user rules: branches (both sides taken), loops (accumulators,
//! recurrences over 1, 2 and 50 steps, nested loops, fixed trip counts), calls between
//! `#[differentiate]` functions and `#[custom_vjp]` rules, each checked against a closed form
//! and against central finite differences.

mod common;

use common::{assert_close, assert_fd, assert_same_value, mat};
use matgrad::{custom_vjp, differentiate};
use nalgebra::{DMatrix, DVector, SMatrix, SVector};

// ---------------------------------------------------------------- branches

/// f = ‖A‖² if `square` else ‖A‖⁴; ∂f/∂A = 2A, or 4‖A‖²A. (An arm binds a value.)
#[differentiate(wrt(a))]
#[allow(clippy::let_and_return)]
fn branch_on_param(a: &DMatrix<f64>, square: bool) -> f64 {
    let n = a.norm_squared();
    if square {
        n
    } else {
        let m = n * n;
        m
    }
}

#[test]
fn if_else_on_a_parameter_takes_both_sides() {
    for (r, c) in [(3, 2), (1, 1), (1, 4)] {
        let a = mat(r, c, 1);
        let (v, da) = branch_on_param_grad(&a, true);
        assert_eq!(v, branch_on_param(&a, true));
        assert_close(&da, &(2.0 * &a), 1e-12);
        let (v, da) = branch_on_param_grad(&a, false);
        assert_eq!(v, branch_on_param(&a, false));
        assert_close(&da, &(4.0 * a.norm_squared() * &a), 1e-12);
        assert_fd(|a: &DMatrix<f64>| branch_on_param(a, false), &a, &da, 1e-7);
    }
}

/// Huber loss of each residual, with a branch on a computed (differentiated) value:
/// h(r) = r²/2 if |r| ≤ δ, δ(|r| − δ/2) otherwise; dh/dr = r, or δ·sign(r).
#[differentiate(wrt(x))]
fn huber(x: &DVector<f64>, y: &DVector<f64>, delta: f64) -> f64 {
    let mut total = 0.0;
    for i in 0..x.len() {
        let r = x[i] - y[i];
        if r.abs() <= delta {
            total += 0.5 * r * r;
        } else {
            total += delta * (r.abs() - 0.5 * delta);
        }
    }
    total
}

#[test]
fn branch_on_a_computed_value_inside_a_loop() {
    let x = DVector::from_vec(vec![0.1, -2.0, 0.4, 3.0, -0.3]);
    let y = DVector::from_vec(vec![0.0, 0.0, 0.2, 0.5, 0.1]);
    let delta = 0.5;
    let (v, dx) = huber_grad(&x, &y, delta);
    assert_eq!(v, huber(&x, &y, delta));
    let want = DVector::from_iterator(
        5,
        (0..5).map(|i| {
            let r: f64 = x[i] - y[i];
            if r.abs() <= delta {
                r
            } else {
                delta * r.signum()
            }
        }),
    );
    assert_close(&dx, &want, 1e-12);
    assert_fd(|x: &DVector<f64>| huber(x, &y, delta), &x, &dx, 1e-6);
}

#[derive(Clone, Copy)]
enum Penalty {
    None,
    Ridge(f64),
    Lasso { weight: f64 },
}

/// ‖Xw − y‖² + penalty(w): ∂/∂w = 2Xᵀ(Xw − y) + {0, 2λw, λ·sign(w)}.
#[differentiate(wrt(w))]
fn penalised(w: &DVector<f64>, x: &DMatrix<f64>, y: &DVector<f64>, penalty: Penalty) -> f64 {
    let r = x * w - y;
    let fit = r.norm_squared();
    let pen = match penalty {
        Penalty::None => 0.0,
        Penalty::Ridge(l) => l * w.norm_squared(),
        Penalty::Lasso { weight } if weight > 0.0 => weight * w.map(|v| v.abs()).sum(),
        Penalty::Lasso { .. } => 0.0,
    };
    fit + pen
}

#[test]
fn match_with_bindings_and_guards() {
    let (x, w) = (mat(6, 3, 3), DVector::from_vec(vec![0.3, -0.7, 1.1]));
    let y = DVector::from_vec(vec![1.0, 0.0, -1.0, 0.5, 0.2, 0.0]);
    let base = 2.0 * x.transpose() * (&x * &w - &y);
    for (penalty, extra) in [
        (Penalty::None, DVector::zeros(3)),
        (Penalty::Ridge(0.3), 0.6 * &w),
        (Penalty::Lasso { weight: 0.2 }, w.map(|v| 0.2 * v.signum())),
        (Penalty::Lasso { weight: -1.0 }, DVector::zeros(3)),
    ] {
        let (v, dw) = penalised_grad(&w, &x, &y, penalty);
        assert_eq!(v, penalised(&w, &x, &y, penalty));
        assert_close(&dw, &(&base + extra), 1e-12);
        assert_fd(|w: &DVector<f64>| penalised(w, &x, &y, penalty), &w, &dw, 1e-7);
    }
}

/// `if let` on a constant option, and an `if` without `else` that reassigns a matrix.
/// f = ‖S‖² with S = A·k (k = scale or 1), then S = S + B when `add`: ∂f/∂A = 2k S, ∂f/∂B = 2S·[add].
#[differentiate(wrt(a, b))]
fn if_let_and_no_else(a: &DMatrix<f64>, b: &DMatrix<f64>, scale: Option<f64>, add: bool) -> f64 {
    let mut s = a.clone();
    if let Some(k) = scale {
        s *= k;
    }
    if add {
        s += b;
    }
    s.norm_squared()
}

#[test]
fn if_let_and_if_without_else() {
    let (a, b) = (mat(2, 3, 4), mat(2, 3, 5));
    for scale in [None, Some(-1.5)] {
        for add in [false, true] {
            let k = scale.unwrap_or(1.0);
            let s = if add { &a * k + &b } else { &a * k };
            let (v, da, db) = if_let_and_no_else_grad(&a, &b, scale, add);
            assert_eq!(v, if_let_and_no_else(&a, &b, scale, add));
            assert_close(&da, &(2.0 * k * &s), 1e-12);
            assert_close(&db, &(if add { 2.0 * &s } else { DMatrix::zeros(2, 3) }), 1e-12);
        }
    }
}

/// A branch inside a `map` closure: leaky ReLU, g′ = 1 or 0.1.
#[differentiate]
fn leaky(x: &DMatrix<f64>) -> f64 {
    x.map(|v| if v > 0.0 { v } else { 0.1 * v }).sum()
}

#[test]
fn branch_inside_map() {
    let x = mat(4, 3, 6);
    let (_, dx) = leaky_grad(&x);
    assert_close(&dx, &x.map(|v| if v > 0.0 { 1.0 } else { 0.1 }), 1e-15);
}

// ---------------------------------------------------------------- loops

/// Σᵢ ‖xᵢ − c‖² over the columns of X (a constant), with c differentiated: ∂/∂c = 2 Σᵢ (c − xᵢ).
#[differentiate(wrt(c))]
fn sum_of_squares(c: &DVector<f64>, x: &DMatrix<f64>) -> f64 {
    let mut acc = 0.0;
    for i in 0..x.ncols() {
        let e = x.column(i) - c;
        acc += e.norm_squared();
    }
    acc
}

#[test]
fn scalar_accumulator_over_a_runtime_range() {
    let (x, c) = (mat(3, 7, 7), DVector::from_vec(vec![0.2, -0.1, 0.4]));
    let (v, dc) = sum_of_squares_grad(&c, &x);
    assert_eq!(v, sum_of_squares(&c, &x));
    let want = 2.0 * (7.0 * &c - x.column_sum());
    assert_close(&dc, &want, 1e-12);
    assert_fd(|c: &DVector<f64>| sum_of_squares(c, &x), &c, &dc, 1e-7);
}

/// A recurrent network: h ← tanh(W h + U xₖ), loss ‖h_T‖². Differentiated in W, U and h₀.
#[differentiate(wrt(w, u, h0))]
fn rnn(w: &DMatrix<f64>, u: &DMatrix<f64>, h0: &DVector<f64>, xs: &DMatrix<f64>, steps: usize) -> f64 {
    let mut h = h0.clone();
    for k in 0..steps {
        h = (w * &h + u * xs.column(k)).map(|v| v.tanh());
    }
    h.norm_squared()
}

/// The same recurrence differentiated by hand (back-propagation through time).
fn rnn_by_hand(
    w: &DMatrix<f64>,
    u: &DMatrix<f64>,
    h0: &DVector<f64>,
    xs: &DMatrix<f64>,
    steps: usize,
) -> (DMatrix<f64>, DMatrix<f64>, DVector<f64>) {
    let mut hs = vec![h0.clone()];
    for k in 0..steps {
        let h = (w * &hs[k] + u * xs.column(k)).map(f64::tanh);
        hs.push(h);
    }
    let (mut dw, mut du) = (DMatrix::zeros(w.nrows(), w.ncols()), DMatrix::zeros(u.nrows(), u.ncols()));
    let mut dh = 2.0 * &hs[steps];
    for k in (0..steps).rev() {
        let dz = dh.component_mul(&hs[k + 1].map(|y| 1.0 - y * y));
        dw += &dz * hs[k].transpose();
        du += &dz * xs.column(k).transpose();
        dh = w.transpose() * dz;
    }
    (dw, du, dh)
}

#[test]
fn recurrence_over_1_2_and_50_steps() {
    let (n, m) = (4, 3);
    let w = 0.4 * mat(n, n, 8);
    let u = 0.5 * mat(n, m, 9);
    let h0 = mat(n, 1, 10).column(0).into_owned();
    let xs = mat(m, 50, 11);
    for steps in [0, 1, 2, 50] {
        let (v, dw, du, dh0) = rnn_grad(&w, &u, &h0, &xs, steps);
        // (the map's tanh runs over lanes: within `lanes::ULPS` of the scalar `tanh`)
        assert!(common::same_value(v, rnn(&w, &u, &h0, &xs, steps)));
        let (ww, uw, hw) = rnn_by_hand(&w, &u, &h0, &xs, steps);
        assert_close(&dw, &ww, 1e-12);
        assert_close(&du, &uw, 1e-12);
        assert_close(&dh0, &hw, 1e-12);
        assert_fd(|w: &DMatrix<f64>| rnn(w, &u, &h0, &xs, steps), &w, &dw, 1e-6);
        assert_fd(|h0: &DVector<f64>| rnn(&w, &u, h0, &xs, steps), &h0, &dh0, 1e-6);
    }
}

/// Nested loops with an accumulator carried through both and an index-dependent weight:
/// f = Σᵢ Σⱼ (i + 1) x_ij² · s, ∂/∂X = 2 (i + 1) s X, ∂/∂s = Σ (i + 1) x_ij².
#[differentiate]
fn nested(x: &DMatrix<f64>, s: f64) -> f64 {
    let mut acc = 0.0;
    for i in 0..x.nrows() {
        let weight = (i + 1) as f64;
        for j in 0..x.ncols() {
            let v = x[(i, j)];
            acc += weight * v * v * s;
        }
    }
    acc
}

#[test]
fn nested_loops() {
    for (r, c) in [(3, 4), (1, 1), (1, 5)] {
        let (x, s) = (mat(r, c, 12), 0.7);
        let (v, dx, ds) = nested_grad(&x, s);
        assert_eq!(v, nested(&x, s));
        let want = DMatrix::from_fn(r, c, |i, j| 2.0 * (i + 1) as f64 * s * x[(i, j)]);
        assert_close(&dx, &want, 1e-12);
        let ds_want: f64 = (0..r).map(|i| (0..c).map(|j| (i + 1) as f64 * x[(i, j)].powi(2)).sum::<f64>()).sum();
        assert!((ds - ds_want).abs() < 1e-12);
    }
}

/// A loop-carried matrix: P ← P·A, f = tr(P) after `n` steps (f = tr(Aⁿ), ∂f/∂A = n (Aⁿ⁻¹)ᵀ).
#[differentiate]
fn power_trace(a: &DMatrix<f64>, n: usize) -> f64 {
    let mut p = DMatrix::identity(a.nrows(), a.ncols());
    for _ in 0..n {
        p *= a;
    }
    p.trace()
}

#[test]
fn loop_carried_matrix_starting_constant() {
    let a = 0.5 * mat(3, 3, 13);
    for n in [1, 2, 5] {
        let (v, da) = power_trace_grad(&a, n);
        assert!((v - power_trace(&a, n)).abs() < 1e-15);
        let want = n as f64 * a.pow((n - 1) as u32).transpose();
        assert_close(&da, &want, 1e-12);
    }
}

/// Fixed-size points and a constant trip count: the tape is an array (no heap).
/// f(R, t) = Σᵢ ‖R pᵢ + t − qᵢ‖².
#[differentiate(wrt(r, t))]
fn pose_loop(r: &SMatrix<f32, 3, 3>, t: &SVector<f32, 3>, p: &SMatrix<f32, 3, 8>, q: &SMatrix<f32, 3, 8>) -> f32 {
    let mut total = 0.0;
    for i in 0..8 {
        let e = r * p.column(i) + t - q.column(i);
        total += e.norm_squared();
    }
    total
}

#[test]
fn fixed_trip_count_in_f32() {
    let r = SMatrix::<f32, 3, 3>::from_fn(|i, j| if i == j { 0.9 } else { 0.1 * (i as f32 - j as f32) });
    let t = SVector::<f32, 3>::new(0.1, -0.2, 0.3);
    let p = SMatrix::<f32, 3, 8>::from_fn(|i, j| ((i * 3 + j * 5) % 7) as f32 / 7.0 - 0.4);
    let q = SMatrix::<f32, 3, 8>::from_fn(|i, j| ((i * 2 + j * 3) % 5) as f32 / 5.0 - 0.5);
    let (v, dr, dt) = pose_loop_grad(&r, &t, &p, &q);
    let e = r * p + t * SMatrix::<f32, 1, 8>::repeat(1.0) - q;
    assert!((v - e.norm_squared()).abs() < 1e-5);
    let dr_want = 2.0 * e * p.transpose();
    let dt_want = 2.0 * e.column_sum();
    assert!((dr - dr_want).abs().max() < 1e-5, "{dr} vs {dr_want}");
    assert!((dt - dt_want).abs().max() < 1e-5, "{dt} vs {dt_want}");
}

const STEPS: usize = 3;

/// Nested constant trip counts (`0..STEPS`, an inclusive `1..=2`, each loop's tape indexed by
/// its iteration), a matrix carried through both and a `continue` that ends the inner
/// iteration early: after outer step k, P = Aᵏ⁺¹, so
/// f(A, s) = s (tr A + 2 tr A² + 3 tr A³), ∂f/∂A = s (I + 4Aᵀ + 9(A²)ᵀ), ∂f/∂s = f / s.
#[differentiate]
fn nested_constant_loops(a: &SMatrix<f64, 2, 2>, s: f64) -> f64 {
    let mut p = SMatrix::<f64, 2, 2>::identity();
    let mut acc = 0.0;
    for k in 0..STEPS {
        for j in 1..=2 {
            if j == 2 {
                continue;
            }
            p *= a;
        }
        acc += s * (k + 1) as f64 * p.trace();
    }
    acc
}

/// The same over a dynamic matrix.
#[differentiate]
fn nested_constant_loops_dyn(a: &DMatrix<f64>, s: f64) -> f64 {
    let mut p = DMatrix::<f64>::identity(a.nrows(), a.ncols());
    let mut acc = 0.0;
    for k in 0..STEPS {
        for j in 1..=2 {
            if j == 2 {
                continue;
            }
            p *= a;
        }
        acc += s * (k + 1) as f64 * p.trace();
    }
    acc
}

#[test]
fn nested_constant_trip_counts() {
    let s = 0.7;
    let a = SMatrix::<f64, 2, 2>::new(0.9, -0.3, 0.4, 0.6);
    let (v, da, ds) = nested_constant_loops_grad(&a, s);
    let traces = a.trace() + 2.0 * (a * a).trace() + 3.0 * (a * a * a).trace();
    assert!((v - s * traces).abs() < 1e-12);
    assert!((ds - traces).abs() < 1e-12);
    let want = s * (SMatrix::<f64, 2, 2>::identity() + 4.0 * a.transpose() + 9.0 * (a * a).transpose());
    assert!((da - want).abs().max() < 1e-12, "{da} vs {want}");
    for n in [1, 3] {
        let a = mat(n, n, 21);
        let (v, da, ds) = nested_constant_loops_dyn_grad(&a, s);
        assert!(common::same_value(v, nested_constant_loops_dyn(&a, s)));
        let a2 = &a * &a;
        let traces = a.trace() + 2.0 * a2.trace() + 3.0 * (&a2 * &a).trace();
        assert!((ds - traces).abs() < 1e-12);
        let want = s * (DMatrix::identity(n, n) + 4.0 * a.transpose() + 9.0 * a2.transpose());
        assert_close(&da, &want, 1e-12);
        assert_fd(|a: &DMatrix<f64>| nested_constant_loops_dyn(a, s), &a, &da, 1e-7);
    }
}

/// Scalar loop inside a `map` closure: g(v) = v + v² + v³, g′ = 1 + 2v + 3v².
#[differentiate]
fn loop_in_map(x: &DMatrix<f64>) -> f64 {
    x.map(|v| {
        let mut acc = 0.0;
        for k in 1..4 {
            acc += v.powi(k);
        }
        acc
    })
    .sum()
}

#[test]
fn loop_inside_map() {
    let x = mat(2, 3, 14);
    let (_, dx) = loop_in_map_grad(&x);
    assert_close(&dx, &x.map(|v| 1.0 + 2.0 * v + 3.0 * v * v), 1e-12);
}

// ---------------------------------------------------------------- composition

/// A matrix-valued `#[differentiate]` function: σ(XW) (its `_vjp` is generated).
#[differentiate(wrt(w))]
fn layer(w: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    (x * w).map(|v| 1.0 / (1.0 + (-v).exp()))
}

/// A scalar one calling it: ‖σ(XW) − Y‖² (seed 001's network, by composition).
#[differentiate(wrt(w))]
fn composed_network(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let a = layer(w, x);
    (a - y).norm_squared()
}

#[test]
fn composition_through_a_matrix_valued_function() {
    let (x, w, y) = (mat(5, 3, 15), mat(3, 2, 16), 0.5 * mat(5, 2, 17));
    let (v, dw) = composed_network_grad(&w, &x, &y);
    assert_eq!(v, composed_network(&w, &x, &y));
    let a = (&x * &w).map(|v| 1.0 / (1.0 + (-v).exp()));
    let want = 2.0 * x.transpose() * (&a - &y).component_mul(&a.map(|s| s * (1.0 - s)));
    assert_close(&dw, &want, 1e-12);
    // The vector-Jacobian product of the matrix-valued function itself.
    let g = mat(5, 2, 18);
    let (value, dw) = layer_vjp(&w, &x, g.clone());
    assert_same_value(&value, &layer(&w, &x));
    assert_close(&dw, &(x.transpose() * g.component_mul(&a.map(|s| s * (1.0 - s)))), 1e-12);
}

/// A scalar helper used inside a closure and in the body: softplus(v) = ln(1 + eᵛ), ′ = σ(v).
#[differentiate]
fn softplus(v: f64) -> f64 {
    (1.0 + v.exp()).ln()
}

/// Σ softplus(x_ij) + softplus(s)·‖X‖²: composition inside `map`, twice in a body.
#[differentiate]
fn uses_softplus(x: &DMatrix<f64>, s: f64) -> f64 {
    x.map(softplus).sum() + softplus(s) * x.norm_squared()
}

#[test]
fn composition_of_a_scalar_function_in_map_and_body() {
    let (x, s) = (mat(3, 4, 19), 0.3);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let (v, dx, ds) = uses_softplus_grad(&x, s);
    assert!((v - uses_softplus(&x, s)).abs() < 1e-12);
    let sp = (1.0 + s.exp()).ln();
    assert_close(&dx, &(x.map(sig) + 2.0 * sp * &x), 1e-12);
    assert!((ds - sig(s) * x.norm_squared()).abs() < 1e-12);
}

// ---------------------------------------------------------------- user rules

/// A black box whose rule is deliberately not its derivative: the value is ‖x‖², the declared
/// "gradient" is 3x. If the macro differentiated the body it would give 2x.
#[custom_vjp(fake_rule)]
fn black_box(x: &DVector<f64>) -> f64 {
    x.norm_squared()
}

fn fake_rule(x: &DVector<f64>, _value: &f64, g: f64) -> DVector<f64> {
    x * (3.0 * g)
}

/// 2·black_box(x) + ‖x‖²: with the rule, ∂/∂x = 2·3x + 2x = 8x.
#[differentiate]
fn uses_black_box(x: &DVector<f64>) -> f64 {
    2.0 * black_box(x) + x.norm_squared()
}

#[test]
fn user_rule_is_used() {
    let x = DVector::from_vec(vec![0.5, -1.0, 2.0]);
    let (v, dx) = uses_black_box_grad(&x);
    assert_eq!(v, 3.0 * x.norm_squared());
    assert_close(&dx, &(8.0 * &x), 1e-15);
    let (v, dx) = black_box_grad(&x);
    assert_eq!(v, x.norm_squared());
    assert_close(&dx, &(3.0 * &x), 1e-15);
}

/// A scalar user rule used inside `map`: a clipped identity whose declared derivative is 1
/// everywhere (a straight-through estimator).
#[custom_vjp(straight_through)]
fn clip(v: f64) -> f64 {
    v.clamp(-0.5, 0.5)
}

fn straight_through(_v: f64, _value: &f64, g: f64) -> f64 {
    g
}

#[differentiate]
fn clipped_sum(x: &DMatrix<f64>) -> f64 {
    x.map(|v| clip(v) * 2.0).sum()
}

#[test]
fn scalar_user_rule_inside_map() {
    let x = mat(3, 3, 20);
    let (v, dx) = clipped_sum_grad(&x);
    assert_eq!(v, clipped_sum(&x));
    assert_close(&dx, &DMatrix::from_element(3, 3, 2.0), 1e-15);
}

/// A user rule for a matrix-valued black box with two differentiated parameters: X = A⁻¹B by
/// a solver the macro cannot see, with its rule B̄ = A⁻ᵀḠ, Ā = −B̄ Xᵀ.
#[custom_vjp(solve_rule)]
fn solve(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    a.clone().lu().solve(b).expect("singular")
}

fn solve_rule(a: &DMatrix<f64>, _b: &DMatrix<f64>, x: &DMatrix<f64>, g: DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
    let db = a.transpose().lu().solve(&g).expect("singular");
    let da = -&db * x.transpose();
    (da, db)
}

#[differentiate]
fn solve_loss(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    solve(a, b).norm_squared()
}

#[test]
fn matrix_user_rule_with_two_gradients() {
    let a = mat(3, 3, 21) + 3.0 * DMatrix::identity(3, 3);
    let b = mat(3, 2, 22);
    let (_, da, db) = solve_loss_grad(&a, &b);
    assert_fd(|a: &DMatrix<f64>| solve_loss(a, &b), &a, &da, 1e-6);
    assert_fd(|b: &DMatrix<f64>| solve_loss(&a, b), &b, &db, 1e-6);
}

/// Composition with a local value as argument (its pullback is rebuilt in the reverse pass):
/// two layers, ‖σ(σ(X W₁) W₂)‖².
#[differentiate(wrt(w1, w2))]
fn two_layers(w1: &DMatrix<f64>, w2: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
    let h = dense(w1, x);
    let out = dense(w2, &h);
    out.norm_squared()
}

/// σ(X W), differentiated with respect to both (a hidden layer's input is differentiated).
#[differentiate]
fn dense(w: &DMatrix<f64>, x: &DMatrix<f64>) -> DMatrix<f64> {
    (x * w).map(|v| 1.0 / (1.0 + (-v).exp()))
}

/// A matrix-valued step called in a loop on the loop-carried state.
#[differentiate(wrt(w, h))]
fn step(w: &DMatrix<f64>, h: &DVector<f64>, x: f64) -> DVector<f64> {
    (w * h).map(|v| (v + x).tanh())
}

#[differentiate(wrt(w, h0))]
fn unrolled(w: &DMatrix<f64>, h0: &DVector<f64>, xs: &[f64]) -> f64 {
    let mut h = h0.clone();
    for &x in xs {
        h = step(w, &h, x);
    }
    h.sum()
}

#[test]
fn composition_with_local_arguments_and_in_loops() {
    let (x, w1, w2) = (mat(5, 3, 23), mat(3, 4, 24), mat(4, 2, 25));
    let (v, d1, d2) = two_layers_grad(&w1, &w2, &x);
    assert_eq!(v, two_layers(&w1, &w2, &x));
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let h = (&x * &w1).map(sig);
    let o = (&h * &w2).map(sig);
    let dz2 = (2.0 * &o).component_mul(&o.map(|s| s * (1.0 - s)));
    let dz1 = (&dz2 * w2.transpose()).component_mul(&h.map(|s| s * (1.0 - s)));
    assert_close(&d2, &(h.transpose() * &dz2), 1e-12);
    assert_close(&d1, &(x.transpose() * &dz1), 1e-12);

    let (w, h0) = (0.5 * mat(3, 3, 26), mat(3, 1, 27).column(0).into_owned());
    let xs = [0.3, -0.2, 0.5, 0.1];
    let (v, dw, dh0) = unrolled_grad(&w, &h0, &xs);
    assert_eq!(v, unrolled(&w, &h0, &xs));
    assert_fd(|w: &DMatrix<f64>| unrolled(w, &h0, &xs), &w, &dw, 1e-7);
    assert_fd(|h0: &DVector<f64>| unrolled(&w, h0, &xs), &h0, &dh0, 1e-7);
}

/// A loop over a constant collection with a destructuring pattern: f = Σ (a x + b)², ∂/∂x = Σ 2a(ax + b).
#[differentiate(wrt(x))]
fn over_pairs(x: f64, pairs: &[(f64, f64)]) -> f64 {
    let mut acc = 0.0;
    for &(a, b) in pairs {
        let r = a * x + b;
        acc += r * r;
    }
    acc
}

#[test]
fn loop_over_a_constant_collection_with_a_pattern() {
    let pairs = [(1.0, 0.5), (-2.0, 0.25), (0.5, -1.0)];
    let x = 0.7;
    let (v, dx) = over_pairs_grad(x, &pairs);
    assert_eq!(v, over_pairs(x, &pairs));
    let want: f64 = pairs.iter().map(|&(a, b)| 2.0 * a * (a * x + b)).sum();
    assert!((dx - want).abs() < 1e-12, "{dx} vs {want}");
}

/// The value a loop variable starts from is also read in the body: it must not be moved.
/// f = ‖h‖² with h = a + n·a = (n + 1)a, a = 2x; ∂f/∂x = 4(n + 1)²·2x… computed: 8(n + 1)² x.
#[differentiate]
fn start_value_read_in_body(x: &DVector<f64>, n: usize) -> f64 {
    let a = x * 2.0;
    let mut h = a.clone();
    for _ in 0..n {
        h += &a;
    }
    h.norm_squared()
}

#[test]
fn loop_start_value_read_in_the_body() {
    let x = DVector::from_vec(vec![0.5, -1.0]);
    for n in [0, 1, 3] {
        let (v, dx) = start_value_read_in_body_grad(&x, n);
        assert_eq!(v, start_value_read_in_body(&x, n));
        let k = (n + 1) as f64;
        assert_close(&dx, &(8.0 * k * k * &x), 1e-12);
    }
}

/// Views of a differentiated matrix indexed by the loop variable: points P (3×n) pulled to
/// targets Q, f = Σᵢ ‖pᵢ − qᵢ‖² + Σᵢ ‖P[0..3, i]‖² (the second with `fixed_view`), so
/// ∂f/∂P = 2(P − Q) + 2P.
#[differentiate(wrt(p))]
fn views_in_a_loop(p: &SMatrix<f64, 3, 5>, q: &SMatrix<f64, 3, 5>) -> f64 {
    let mut total = 0.0;
    for i in 0..5 {
        let e = p.column(i) - q.column(i);
        let v = p.fixed_view::<3, 1>(0, i);
        total += e.norm_squared() + v.norm_squared();
    }
    total
}

#[differentiate(wrt(p))]
fn dynamic_columns_in_a_loop(p: &DMatrix<f64>, q: &DMatrix<f64>) -> f64 {
    let mut total = 0.0;
    for i in 0..p.ncols() {
        let e = p.column(i) - q.column(i);
        total += e.norm_squared();
    }
    total
}

#[test]
fn views_indexed_by_the_loop_variable() {
    let p = SMatrix::<f64, 3, 5>::from_fn(|i, j| (i as f64 - j as f64) * 0.3);
    let q = SMatrix::<f64, 3, 5>::from_fn(|i, j| (i * j) as f64 * 0.1);
    let (v, dp) = views_in_a_loop_grad(&p, &q);
    assert_eq!(v, views_in_a_loop(&p, &q));
    assert!((dp - (2.0 * (p - q) + 2.0 * p)).abs().max() < 1e-12);
    for (r, c) in [(3, 4), (1, 1), (1, 5)] {
        let (p, q) = (mat(r, c, 28), mat(r, c, 29));
        let (_, dp) = dynamic_columns_in_a_loop_grad(&p, &q);
        assert_close(&dp, &(2.0 * (&p - &q)), 1e-12);
    }
}

/// Values defined before a loop and read by rules inside it and after it: the adjoint of a
/// sum's term accumulates over iterations, and no rule moves a value another still reads.
/// f = Σ_k ‖a + y‖² + ‖a‖² + Σ_k ⟨a, a⟩ with a = 2x, n iterations:
/// ∂f/∂x = 2·[2n(a + y) + 2a + 2n·a].
#[differentiate(wrt(x))]
fn values_across_a_loop(x: &DVector<f64>, y: &DVector<f64>, n: usize) -> f64 {
    let a = x * 2.0;
    let mut acc = 0.0;
    for _ in 0..n {
        let s = &a + y;
        acc += s.norm_squared() + a.dot(&a);
    }
    let z = a.norm_squared();
    z + acc
}

#[test]
fn values_read_inside_and_after_a_loop() {
    let (x, y) = (DVector::from_vec(vec![0.5, -1.0, 0.25]), DVector::from_vec(vec![0.1, 0.2, -0.3]));
    for n in [0, 1, 3] {
        let (v, dx) = values_across_a_loop_grad(&x, &y, n);
        assert!((v - values_across_a_loop(&x, &y, n)).abs() < 1e-12);
        let a = &x * 2.0;
        let k = n as f64;
        let want = 2.0 * (2.0 * k * (&a + &y) + 2.0 * &a + 2.0 * k * &a);
        assert_close(&dx, &want, 1e-12);
    }
}

/// Views of values computed inside a loop body or an arm, kept for the reverse pass: the tape
/// keeps a copy, as what they borrow ends with the iteration. f = Σ_k ‖(2A)[0, :]‖² (+ ‖(3A)[:, 0]‖²
/// when `extra`): ∂/∂A = 8n A on row 0 (+ 18 A on column 0).
#[differentiate(wrt(a))]
fn views_of_locals(a: &DMatrix<f64>, n: usize, extra: bool) -> f64 {
    let mut acc = 0.0;
    for _ in 0..n {
        let m = a * 2.0;
        let r = m.row(0);
        acc += r.norm_squared();
    }
    if extra {
        let m = a * 3.0;
        let c = m.column(0);
        acc += c.norm_squared();
    }
    acc
}

#[test]
fn views_of_values_local_to_a_loop_or_an_arm() {
    let a = mat(3, 2, 30);
    for (n, extra) in [(0, true), (2, false), (3, true)] {
        let (v, da) = views_of_locals_grad(&a, n, extra);
        assert!((v - views_of_locals(&a, n, extra)).abs() < 1e-12);
        let mut want = DMatrix::zeros(3, 2);
        want.row_mut(0).copy_from(&(a.row(0) * (8.0 * n as f64)));
        if extra {
            let col = want.column(0) + a.column(0) * 18.0;
            want.column_mut(0).copy_from(&col);
        }
        assert_close(&da, &want, 1e-12);
    }
}

/// A batch in a slice: a loop over the slice binds references, and `&xs[k]` borrows.
/// f = Σ ‖W xₖ‖², ∂/∂W = 2 Σ (W xₖ) xₖᵀ, written both ways.
#[differentiate(wrt(w))]
fn batch_by_item(w: &DMatrix<f64>, xs: &[DVector<f64>]) -> f64 {
    let mut acc = 0.0;
    for x in xs {
        acc += (w * x).norm_squared();
    }
    acc
}

#[differentiate(wrt(w))]
#[allow(clippy::needless_range_loop)]
fn batch_by_index(w: &DMatrix<f64>, xs: &[DVector<f64>]) -> f64 {
    let mut acc = 0.0;
    for k in 0..xs.len() {
        let x = &xs[k];
        acc += (w * x).norm_squared();
    }
    acc
}

#[test]
fn loops_over_a_slice_of_vectors() {
    let w = mat(2, 3, 31);
    let xs: Vec<DVector<f64>> = (0..4).map(|k| mat(3, 1, 32 + k).column(0).into_owned()).collect();
    let want = xs.iter().fold(DMatrix::zeros(2, 3), |acc, x| acc + 2.0 * (&w * x) * x.transpose());
    let (v, dw) = batch_by_item_grad(&w, &xs);
    assert_eq!(v, batch_by_item(&w, &xs));
    assert_close(&dw, &want, 1e-12);
    let (v, dw) = batch_by_index_grad(&w, &xs);
    assert_eq!(v, batch_by_index(&w, &xs));
    assert_close(&dw, &want, 1e-12);
}
