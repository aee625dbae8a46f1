//! Early exits and unbounded loops: `return` anywhere (function body, branch arms, loop bodies,
//! nested loops, `map` closures, nested blocks), `break` and `continue` (labelled, and `break
//! value` out of `loop`), `while` and `loop` whose conditions read computed values, iteration
//! over a differentiated matrix's columns, rows and entries, and tuple patterns. Each against
//! the plain function's value, a closed form, and central differences, with every exit both
//! taken and not taken.

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, Matrix2x3, SMatrix, Vector3};

// ---------------------------------------------------------------- return

/// r = ‖XW‖²; f = √(cap·r) when r > cap (the guard clause returns), r otherwise.
/// ∂f/∂W = Xᵀ(2XW)·f′(r), with f′(r) = cap / (2√(cap·r)) or 1.
#[differentiate(wrt(w))]
fn capped(x: &DMatrix<f64>, w: &DMatrix<f64>, cap: f64) -> f64 {
    let r = (x * w).norm_squared();
    if r > cap {
        return (cap * r).sqrt();
    }
    r
}

#[test]
fn a_guard_clause_returns_its_own_value_and_gradient() {
    let (x, w) = (mat(4, 3, 1), mat(3, 2, 2));
    let r = (&x * &w).norm_squared();
    for cap in [0.5 * r, 2.0 * r] {
        let (v, dw) = capped_grad(&x, &w, cap);
        assert_eq!(v, capped(&x, &w, cap));
        let slope = if r > cap { cap / (2.0 * (cap * r).sqrt()) } else { 1.0 };
        let expected = x.transpose() * (2.0 * &x * &w) * slope;
        assert_close(&dw, &expected, 1e-12);
        assert_fd(|w: &DMatrix<f64>| capped(&x, w, cap), &w, &dw, 1e-7);
    }
}

/// Σ g(xᵢⱼ) with g(v) = 0 for v ≤ 0 (an early `return` in the closure), v² otherwise:
/// ∂f/∂x = 2x where x > 0, 0 elsewhere.
#[differentiate]
fn relu_squared(x: &DMatrix<f64>) -> f64 {
    x.map(|v| {
        if v <= 0.0 {
            return 0.0;
        }
        v * v
    })
    .sum()
}

#[test]
fn return_in_a_map_closure_is_the_closures_value() {
    let x = mat(3, 4, 3);
    let (v, dx) = relu_squared_grad(&x);
    assert_eq!(v, relu_squared(&x));
    let expected = x.map(|v| if v > 0.0 { 2.0 * v } else { 0.0 });
    assert_close(&dx, &expected, 1e-15);
    assert!(x.iter().any(|&v| v <= 0.0) && x.iter().any(|&v| v > 0.0));
}

/// cost = Σₖ≤K xₖ², where K is the first k at which the running sum exceeds the budget (the
/// loop returns there); ∂f/∂xₖ = 2xₖ for k ≤ K, 0 after.
#[differentiate(wrt(x))]
fn budgeted(x: &DVector<f64>, budget: f64) -> f64 {
    let mut cost = 0.0;
    for k in 0..x.len() {
        cost += x[k] * x[k];
        if cost > budget {
            return cost;
        }
    }
    cost
}

#[test]
fn return_inside_a_loop_leaves_the_loop_and_the_function() {
    let x = DVector::from_vec(vec![0.5, -1.0, 0.8, 1.5, -0.3]);
    for (budget, stop) in [(1.0, 1), (2.0, 3), (100.0, 4), (-1.0, 0)] {
        let (v, dx) = budgeted_grad(&x, budget);
        assert_eq!(v, budgeted(&x, budget), "budget {budget}");
        let expected = DVector::from_fn(5, |k, _| if k <= stop { 2.0 * x[k] } else { 0.0 });
        assert_close(&dx, &expected, 1e-15);
        assert_fd(|x: &DVector<f64>| budgeted(x, budget), &x, &dx, 1e-7);
    }
}

/// A matrix returned from inside a loop: Y = Aᵏ x with k the first power whose norm exceeds
/// `limit` (or the last). The vector-Jacobian product with adjoint U is checked by differences.
#[differentiate(wrt(a))]
fn first_large_power(a: &DMatrix<f64>, x: &DMatrix<f64>, limit: f64) -> DMatrix<f64> {
    let mut y = x.clone();
    for _ in 0..6 {
        y = a * &y;
        if y.norm() > limit {
            return y * 2.0;
        }
    }
    y
}

#[test]
fn a_matrix_returned_from_inside_a_loop() {
    let (a, x) = (mat(3, 3, 4) * 1.5, mat(3, 2, 5));
    let u = mat(3, 2, 6);
    for limit in [0.0, (&a * &a * &x).norm() * 1.01, 1e9] {
        let (y, da) = first_large_power_vjp(&a, &x, limit, u.clone());
        assert_eq!(y, first_large_power(&a, &x, limit));
        assert_fd(|a: &DMatrix<f64>| first_large_power(a, &x, limit).dot(&u), &a, &da, 1e-6);
    }
}

/// `match` arms that return: f = ‖x‖ (mode 0), 2‖x‖² (mode 2) or 3‖x‖² (mode 1 falls
/// through); ∂f/∂x = x/‖x‖, 4x, 6x.
#[differentiate]
fn by_mode(x: &DMatrix<f64>, mode: u8) -> f64 {
    let r = x.norm_squared();
    match mode {
        0 => {
            return r.sqrt();
        }
        1 => {}
        _ => return 2.0 * r,
    }
    3.0 * r
}

#[test]
fn match_arms_return_or_fall_through() {
    let x = mat(2, 3, 7);
    for (mode, expected) in [(0, &x / x.norm()), (1, 6.0 * &x), (2, 4.0 * &x)] {
        let (v, dx) = by_mode_grad(&x, mode);
        assert_eq!(v, by_mode(&x, mode));
        assert_close(&dx, &expected, 1e-13);
    }
}

/// A `return` nested in a block and a branch of an arm, not at its end: the rest of the arm and
/// of the function run only when it does not. f = s³ if s > 2 (inner return), else s² + 1
/// when s > 1, else s; s = Σx.
#[differentiate]
fn nested_return(x: &DVector<f64>) -> f64 {
    let s = x.sum();
    let mut out = s;
    if s > 1.0 {
        {
            if s > 2.0 {
                return s * s * s;
            }
        }
        out = s * s;
        out += 1.0;
    }
    out
}

#[test]
fn return_nested_in_blocks_and_arms() {
    for (vals, slope) in [([1.0, 1.5], 3.0 * 2.5 * 2.5), ([0.5, 0.9], 2.0 * 1.4), ([0.2, 0.3], 1.0)] {
        let x = DVector::from_row_slice(&vals);
        let (v, dx) = nested_return_grad(&x);
        assert_eq!(v, nested_return(&x));
        assert_close(&dx, &DVector::from_element(2, slope), 1e-13);
        assert_fd(nested_return, &x, &dx, 1e-7);
    }
}

/// `let y = if c { return v; } else { w };`: an exit in a branch used as a value.
#[differentiate]
fn return_from_a_value_branch(x: f64) -> f64 {
    let y = if x > 1.0 { return x * 10.0 } else { x * x };
    y + x
}

#[test]
fn return_from_a_branch_used_as_a_value() {
    assert_eq!(return_from_a_value_branch_grad(2.0), (20.0, 10.0));
    assert_eq!(return_from_a_value_branch_grad(0.5), (0.75, 2.0));
}

/// A final `return` is the body's value.
#[differentiate]
#[allow(clippy::needless_return)]
fn final_return(x: f64) -> f64 {
    let y = x * 3.0;
    return y * x;
}

#[test]
fn a_final_return_is_the_value() {
    assert_eq!(final_return_grad(2.0), (12.0, 12.0));
}

// ---------------------------------------------------------------- break and continue

/// Σ xₖ³ over k < stop, skipping k = skip; ∂f/∂xₖ = 3xₖ² there, 0 elsewhere.
#[differentiate]
fn partial_cubes(x: &DVector<f64>, stop: usize, skip: usize) -> f64 {
    let mut s = 0.0;
    for k in 0..x.len() {
        if k == skip {
            continue;
        }
        if k == stop {
            break;
        }
        s += x[k].powi(3);
    }
    s
}

#[test]
fn break_and_continue_in_a_for_loop() {
    let x = DVector::from_vec(vec![0.5, -1.0, 0.8, 1.5, -0.3]);
    for (stop, skip) in [(3, 1), (0, 9), (9, 9), (5, 0), (1, 1)] {
        let (v, dx) = partial_cubes_grad(&x, stop, skip);
        assert_eq!(v, partial_cubes(&x, stop, skip));
        // `continue` comes first: when stop = skip, the loop never breaks.
        let counted = |k: usize| k != skip && (stop == skip || k < stop);
        let expected = DVector::from_fn(5, |k, _| if counted(k) { 3.0 * x[k] * x[k] } else { 0.0 });
        assert_close(&dx, &expected, 1e-15);
    }
}

/// Row-major walk over A accumulating squares until the sum exceeds `thresh`, leaving both
/// loops with `break 'rows`; entries visited get 2aᵢⱼ. A labelled `continue 'rows` skips the
/// rest of a row after a negative entry.
#[differentiate(wrt(a))]
fn walk(a: &DMatrix<f64>, thresh: f64, skip_rows: bool) -> f64 {
    let mut acc = 0.0;
    'rows: for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            if skip_rows && a[(i, j)] < 0.0 {
                continue 'rows;
            }
            acc += a[(i, j)] * a[(i, j)];
            if acc > thresh {
                break 'rows;
            }
        }
        acc *= 1.5;
    }
    acc
}

#[test]
fn labelled_break_and_continue_leave_nested_loops() {
    let a = mat(3, 4, 8);
    for skip in [false, true] {
        for thresh in [0.3, 1.5, 100.0] {
            let (v, da) = walk_grad(&a, thresh, skip);
            assert_eq!(v, walk(&a, thresh, skip));
            assert_fd(|a: &DMatrix<f64>| walk(a, thresh, skip), &a, &da, 1e-7);
        }
    }
}

/// `break` in nested blocks of a fixed-trip loop over a fixed-size matrix (a fixed tape and a
/// count), f32.
#[differentiate]
fn fixed_break(x: &SMatrix<f32, 2, 3>) -> f32 {
    let mut acc = 0.0f32;
    for j in 0..3 {
        {
            let c = x.column(j);
            if c.sum() > 1.0 {
                break;
            }
            acc += c.norm_squared();
        }
    }
    acc
}

#[test]
fn break_in_a_fixed_size_loop_f32() {
    let x = Matrix2x3::new(0.2f32, 0.9, -0.5, 0.1, 0.4, 0.3);
    let (v, dx) = fixed_break_grad(&x);
    assert_eq!(v, fixed_break(&x));
    // column 1 sums to 1.3 > 1: columns 0 only.
    let expected = Matrix2x3::new(0.4f32, 0.0, 0.0, 0.2, 0.0, 0.0);
    assert!((dx - expected).norm() < 1e-6, "{dx}");
}

// ---------------------------------------------------------------- while and loop

/// t solves t³ + t = s with s = ‖w‖², by Newton's method until the residual is below 1e-13
/// (the trip count depends on w). Implicitly dt/ds = 1/(3t² + 1), so ∂t/∂w = 2w/(3t² + 1).
#[differentiate]
fn newton_root(w: &DVector<f64>) -> f64 {
    let s = w.norm_squared();
    let mut t = s;
    while (t * t * t + t - s).abs() > 1e-13 {
        t -= (t * t * t + t - s) / (3.0 * t * t + 1.0);
    }
    t
}

#[test]
fn a_while_loop_until_converged_differentiates_to_the_implicit_derivative() {
    for w in [DVector::from_vec(vec![0.3, -0.7, 1.1]), DVector::from_vec(vec![2.0]), DVector::from_vec(vec![0.0])] {
        let (t, dw) = newton_root_grad(&w);
        assert_eq!(t, newton_root(&w));
        assert!((t * t * t + t - w.norm_squared()).abs() < 1e-12);
        let expected = &w * (2.0 / (3.0 * t * t + 1.0));
        assert_close(&dw, &expected, 1e-10);
    }
}

/// The same root by `loop` with `break value`: `let t = loop { … break t; };`.
#[differentiate]
fn newton_loop(w: &DVector<f64>) -> f64 {
    let s = w.norm_squared();
    let mut t = s;
    let root = loop {
        let r = t * t * t + t - s;
        if r.abs() <= 1e-13 {
            break t;
        }
        t -= r / (3.0 * t * t + 1.0);
    };
    root * 2.0
}

#[test]
fn loop_with_break_value() {
    let w = DVector::from_vec(vec![0.3, -0.7, 1.1]);
    let (v, dw) = newton_loop_grad(&w);
    assert_eq!(v, newton_loop(&w));
    let t = v / 2.0;
    assert_close(&dw, &(&w * (4.0 / (3.0 * t * t + 1.0))), 1e-10);
}

/// A `while` with zero iterations, one, and many: h ← 0.5·h + x while ‖h‖ < 2 (at most 50).
#[differentiate(wrt(x))]
fn grow(x: &DMatrix<f64>, limit: f64) -> f64 {
    let mut h = x * 0.0;
    let mut n = 0;
    while h.norm() < limit && n < 50 {
        h = h * 0.5 + x;
        n += 1;
    }
    h.norm_squared()
}

#[test]
fn while_runs_zero_one_and_many_times() {
    let x = mat(2, 3, 9);
    // (1.7‖x‖ stops after 3 iterations, away from a tie: hₙ = (2 − 2¹⁻ⁿ)x.)
    for limit in [-1.0, 1e-9, 1.7 * x.norm(), 1e9] {
        let (v, dx) = grow_grad(&x, limit);
        assert_eq!(v, grow(&x, limit));
        assert_fd(|x: &DMatrix<f64>| grow(x, limit), &x, &dx, 1e-7);
    }
}

/// A `loop` inside a `map` closure: a scalar fixed-point iteration per entry, u = cos(u)·v
/// iterated from u = v until it settles; ∂u/∂v = cos u / (1 + v sin u) at the fixed point.
#[differentiate]
fn fixed_points(x: &DMatrix<f64>) -> f64 {
    x.map(|v| {
        let mut u = v;
        let mut k = 0;
        loop {
            let next = u.cos() * v;
            if (next - u).abs() < 1e-14 || k > 200 {
                return next;
            }
            u = next;
            k += 1;
        }
    })
    .sum()
}

#[test]
fn a_loop_in_a_map_closure() {
    let x = mat(2, 2, 10) * 0.5;
    let (v, dx) = fixed_points_grad(&x);
    assert_eq!(v, fixed_points(&x));
    let u = x.map(|v| {
        let mut u = v;
        for _ in 0..300 {
            u = u.cos() * v;
        }
        u
    });
    let expected = u.zip_map(&x, |u, v| u.cos() / (1.0 + v * u.sin()));
    assert_close(&dx, &expected, 1e-8);
}

/// `while` in a branch arm and a loop body (nested): for each row i, halve the row's norm
/// target until below 1 when `shrink`.
#[differentiate(wrt(a))]
fn while_in_arms(a: &DMatrix<f64>, shrink: bool) -> f64 {
    let mut total = 0.0;
    for i in 0..a.nrows() {
        let r = a.row(i).norm_squared();
        if shrink {
            let mut s = r;
            while s > 0.2 {
                s *= 0.5;
            }
            total += s;
        } else {
            total += r;
        }
    }
    total
}

#[test]
fn while_inside_a_branch_inside_a_loop() {
    let a = mat(3, 2, 11) * 2.0;
    for shrink in [false, true] {
        let (v, da) = while_in_arms_grad(&a, shrink);
        assert_eq!(v, while_in_arms(&a, shrink));
        assert_fd(|a: &DMatrix<f64>| while_in_arms(a, shrink), &a, &da, 1e-7);
    }
}

// ---------------------------------------------------------------- iterating a matrix

/// Σⱼ (j + 1)·Σᵢ xᵢⱼ through `column_iter().enumerate()`: ∂f/∂xᵢⱼ = j + 1.
#[differentiate]
fn weighted_columns(x: &DMatrix<f64>) -> f64 {
    let mut s = 0.0;
    for (j, c) in x.column_iter().enumerate() {
        s += (j as f64 + 1.0) * c.sum();
    }
    s
}

/// Σᵢ ‖xᵢ‖ over the rows: ∂f/∂xᵢ = xᵢ/‖xᵢ‖.
#[differentiate]
fn row_norms(x: &DMatrix<f64>) -> f64 {
    let mut s = 0.0;
    for r in x.row_iter() {
        s += r.norm();
    }
    s
}

/// Σ v³ over the entries: 3v².
#[differentiate]
fn entry_cubes(x: &DMatrix<f64>) -> f64 {
    let mut s = 0.0;
    for v in x.iter() {
        s += *v * *v * v;
    }
    s
}

/// Σⱼ wⱼ ‖cⱼ‖² with constant weights zipped in: 2wⱼ cⱼ.
#[differentiate(wrt(x))]
fn zipped(x: &DMatrix<f64>, w: &[f64]) -> f64 {
    let mut s = 0.0;
    for (c, wj) in x.column_iter().zip(w.iter()) {
        s += c.norm_squared() * wj;
    }
    s
}

#[test]
fn iterating_columns_rows_and_entries() {
    for (r, c) in [(3, 2), (1, 1), (1, 4), (4, 1)] {
        let x = mat(r, c, 12);
        let (v, dx) = weighted_columns_grad(&x);
        assert_eq!(v, weighted_columns(&x));
        assert_close(&dx, &DMatrix::from_fn(r, c, |_, j| j as f64 + 1.0), 1e-15);
        let (v, dx) = row_norms_grad(&x);
        assert_eq!(v, row_norms(&x));
        let mut expected = x.clone();
        for mut row in expected.row_iter_mut() {
            let n = row.norm();
            row /= n;
        }
        assert_close(&dx, &expected, 1e-14);
        let (v, dx) = entry_cubes_grad(&x);
        assert_eq!(v, entry_cubes(&x));
        assert_close(&dx, &x.map(|v| 3.0 * v * v), 1e-15);
        let w: Vec<f64> = (0..c).map(|j| 0.5 + j as f64).collect();
        let (v, dx) = zipped_grad(&x, &w);
        assert_eq!(v, zipped(&x, &w));
        assert_close(&dx, &DMatrix::from_fn(r, c, |i, j| 2.0 * w[j] * x[(i, j)]), 1e-15);
    }
}

/// Columns of a computed matrix (the iterator's receiver is evaluated once), with `break`.
#[differentiate]
fn columns_of_a_product(a: &SMatrix<f64, 3, 3>, v: &Vector3<f64>) -> f64 {
    let mut s = 0.0;
    for c in (a * a).column_iter() {
        s += c.dot(v);
        if s > 1.0 {
            break;
        }
    }
    s
}

#[test]
fn iterating_a_computed_matrix_with_break() {
    let a = SMatrix::<f64, 3, 3>::from_fn(|i, j| 0.3 * (i as f64) - 0.2 * (j as f64) + 0.1);
    let v = Vector3::new(1.0, -2.0, 0.5);
    let (s, da, dv) = columns_of_a_product_grad(&a, &v);
    assert_eq!(s, columns_of_a_product(&a, &v));
    assert_fd(|a: &SMatrix<f64, 3, 3>| columns_of_a_product(a, &v), &a, &da, 1e-7);
    assert_fd(|v: &Vector3<f64>| columns_of_a_product(&a, v), &v, &dv, 1e-7);
}

// ---------------------------------------------------------------- tuple patterns

/// (A, B) = (XW, YW); f = ‖A − B‖² = ‖(X − Y)W‖²; ∂f/∂W = 2(X − Y)ᵀ(X − Y)W.
#[differentiate(wrt(w))]
fn tuple_let(x: &DMatrix<f64>, y: &DMatrix<f64>, w: &DMatrix<f64>) -> f64 {
    let (a, b) = (x * w, y * w);
    (a - b).norm_squared()
}

/// A swap through a tuple, and a constant tuple parameter destructured: f = 3p + q·s with
/// (p, q) = (b, a) after the swap, a = s², b = s; (k, m) a constant pair.
#[differentiate(wrt(s))]
fn tuple_swap(s: f64, pair: (f64, f64)) -> f64 {
    let (a, b) = (s * s, s);
    let (a, b) = (b, a);
    let (k, m): (f64, f64) = pair;
    k * a + m * b
}

#[test]
fn tuple_patterns_bind_each_part() {
    let (x, y, w) = (mat(4, 3, 13), mat(4, 3, 14), mat(3, 2, 15));
    let (v, dw) = tuple_let_grad(&x, &y, &w);
    assert_eq!(v, tuple_let(&x, &y, &w));
    let d = &x - &y;
    assert_close(&dw, &(2.0 * d.transpose() * &d * &w), 1e-13);
    // f = k·s + m·s², f′ = k + 2ms.
    let (v, ds) = tuple_swap_grad(1.5, (2.0, 3.0));
    assert_eq!(v, tuple_swap(1.5, (2.0, 3.0)));
    assert_eq!(ds, 2.0 + 2.0 * 3.0 * 1.5);
}

// ---------------------------------------------------------------- every form in every position

/// `return` from two loops deep: the first entry (row-major) above `t` returns 3·aᵢⱼ²; if none
/// does, Σ aᵢⱼ. ∂f/∂aᵢⱼ = 6aᵢⱼ at that entry (0 elsewhere), or 1 everywhere.
#[differentiate(wrt(a))]
fn return_from_nested_loops(a: &DMatrix<f64>, t: f64) -> f64 {
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            if a[(i, j)] > t {
                return 3.0 * a[(i, j)] * a[(i, j)];
            }
        }
    }
    a.sum()
}

#[test]
fn return_from_two_loops_deep() {
    let a = mat(3, 4, 16);
    let (v, da) = return_from_nested_loops_grad(&a, 10.0);
    assert_eq!(v, a.sum());
    assert_close(&da, &DMatrix::from_element(3, 4, 1.0), 1e-15);
    let t = 0.5;
    let (v, da) = return_from_nested_loops_grad(&a, t);
    assert_eq!(v, return_from_nested_loops(&a, t));
    let (i, j) = (0..3).flat_map(|i| (0..4).map(move |j| (i, j))).find(|&(i, j)| a[(i, j)] > t).unwrap();
    let mut expected = DMatrix::zeros(3, 4);
    expected[(i, j)] = 6.0 * a[(i, j)];
    assert_close(&da, &expected, 1e-15);
}

/// Closures with a bounded `for` and `break`, and with `while`: the partial sums of the
/// series v − v³/3 + v⁵/5 − … (atan) until a term is below 1e-3, and v halved while above ½.
/// Checked by differences, entry by entry through the function.
#[differentiate]
fn closures_with_loops(x: &DMatrix<f64>) -> f64 {
    let a = x.map(|v| {
        let mut sum = 0.0;
        let mut term = v;
        for k in 0..20 {
            sum += term / (2 * k + 1) as f64;
            term = -term * v * v;
            if term.abs() < 1e-3 {
                break;
            }
        }
        sum
    });
    let b = x.map(|v| {
        let mut w = v;
        while w.abs() > 0.5 {
            w *= 0.5;
        }
        w * w
    });
    a.sum() + b.sum()
}

#[test]
fn break_and_while_in_map_closures() {
    let x = mat(2, 3, 17) * 0.9;
    let (v, dx) = closures_with_loops_grad(&x);
    assert_eq!(v, closures_with_loops(&x));
    assert_fd(closures_with_loops, &x, &dx, 1e-7);
}

/// Column walks in a branch arm and inside an outer loop, `continue` in a nested block, and a
/// tuple `let` in an arm and in a loop body. f32 and fixed sizes.
#[differentiate(wrt(x))]
fn walks_everywhere(x: &SMatrix<f32, 2, 3>, mode: bool, reps: usize) -> f32 {
    let mut s = 0.0f32;
    if mode {
        for c in x.column_iter() {
            let (p, q) = (c[0] * c[0], c[1]);
            s += p + q;
        }
    } else {
        for _ in 0..reps {
            for (j, c) in x.column_iter().enumerate() {
                {
                    if j == 0 {
                        continue;
                    }
                }
                s += c.norm_squared();
            }
        }
    }
    s
}

#[test]
fn walks_in_arms_and_nested_loops() {
    let x = Matrix2x3::new(0.3f32, -0.6, 0.9, 0.2, 0.5, -0.4);
    // mode: Σⱼ x₀ⱼ² + x₁ⱼ → 2x₀ⱼ in row 0, 1 in row 1.
    let (v, dx) = walks_everywhere_grad(&x, true, 0);
    assert_eq!(v, walks_everywhere(&x, true, 0));
    let expected = Matrix2x3::new(0.6f32, -1.2, 1.8, 1.0, 1.0, 1.0);
    assert!((dx - expected).norm() < 1e-6, "{dx}");
    // reps × Σ_{j ≥ 1} ‖cⱼ‖² → 2·reps·x in columns 1 and 2.
    for reps in [0, 1, 3] {
        let (v, dx) = walks_everywhere_grad(&x, false, reps);
        assert_eq!(v, walks_everywhere(&x, false, reps));
        let mut expected = x * (2.0 * reps as f32);
        expected.column_mut(0).fill(0.0);
        assert!((dx - expected).norm() < 1e-5, "{dx}");
    }
}

/// The guard clause in f32 on fixed sizes, and with a vector-valued function: Y = 2X when
/// ‖X‖ > 1 (returned early), X ⊙ X otherwise. The vector-Jacobian product with U is 2U or
/// 2X ⊙ U.
#[differentiate]
fn guard_matrix(x: &Vector3<f32>) -> Vector3<f32> {
    if x.norm() > 1.0 {
        return x * 2.0;
    }
    x.component_mul(x)
}

#[test]
fn a_guard_clause_returning_a_matrix_in_f32() {
    let u = Vector3::new(1.0f32, -2.0, 0.5);
    let big = Vector3::new(1.0f32, 0.5, -0.5);
    let (y, dx) = guard_matrix_vjp(&big, u);
    assert_eq!(y, guard_matrix(&big));
    assert_eq!(dx, u * 2.0);
    let small = Vector3::new(0.2f32, -0.3, 0.4);
    let (y, dx) = guard_matrix_vjp(&small, u);
    assert_eq!(y, guard_matrix(&small));
    assert!((dx - small.component_mul(&u) * 2.0).norm() < 1e-6);
}

/// A `while` whose condition reads a value updated in its body, inside a `match` arm, with a
/// `return` from the loop in another arm; DVector and 1×1 shapes.
#[differentiate(wrt(x))]
fn match_with_loops(x: &DVector<f64>, mode: u8) -> f64 {
    let mut v = x.norm_squared();
    match mode {
        0 => {
            while v < 10.0 {
                v = v * 1.5 + 0.1;
            }
        }
        1 => {
            for k in 0..x.len() {
                if x[k] < 0.0 {
                    return x[k] * v;
                }
            }
        }
        _ => {}
    }
    v
}

#[test]
fn loops_and_exits_inside_match_arms() {
    for x in [DVector::from_vec(vec![0.5, -0.4, 0.8]), DVector::from_vec(vec![0.7]), DVector::from_vec(vec![-0.3])] {
        for mode in [0, 1, 2] {
            let (v, dx) = match_with_loops_grad(&x, mode);
            assert_eq!(v, match_with_loops(&x, mode), "mode {mode}");
            assert_fd(|x: &DVector<f64>| match_with_loops(x, mode), &x, &dx, 1e-7);
        }
    }
}

/// A loop inside a branch arm that keeps views of a matrix computed in the arm (the arm's own
/// tape moves that matrix: the views are copied). From the pipeline (seed 14, p240), with the
/// hand-written spelling beside the column walk. f = s·Σ_{j≠1} ‖(A/2)ⱼ‖² until it exceeds
/// 0.3; ∂f/∂A = s/2 · A in the columns summed.
#[differentiate(wrt(a))]
fn views_in_an_arm(a: &SMatrix<f64, 2, 3>, s: f64, walk: bool) -> f64 {
    if s > 3.0 {
        return s;
    }
    let x2 = a * 0.5;
    let mut x3 = 0.0;
    if walk {
        for (j, col) in x2.column_iter().enumerate() {
            if j == 1 {
                continue;
            }
            x3 += col.norm_squared() * s;
            if x3 > 0.3 {
                break;
            }
        }
    } else {
        for j in 0..x2.ncols() {
            let col = x2.column(j);
            if j != 1 {
                x3 += col.norm_squared() * s;
            }
        }
    }
    x3
}

#[test]
fn views_kept_by_a_loop_inside_an_arm() {
    let a = SMatrix::<f64, 2, 3>::new(0.3, -0.2, 0.4, 0.1, 0.5, -0.3);
    for walk in [true, false] {
        let (v, da) = views_in_an_arm_grad(&a, 1.5, walk);
        assert_eq!(v, views_in_an_arm(&a, 1.5, walk));
        let mut expected = a * (1.5 * 0.5);
        expected.column_mut(1).fill(0.0);
        assert!((da - expected).norm() < 1e-14, "{da}");
    }
}

// ---------------------------------------------------------------- functions returning tuples

/// A helper returning two values: (XW, ‖W‖²).
#[differentiate]
fn project(x: &DMatrix<f64>, w: &DMatrix<f64>) -> (DMatrix<f64>, f64) {
    let p = x * w;
    (p, w.norm_squared())
}

/// Its caller destructures the tuple: f = ‖P − Y‖² + λ r with (P, r) = (XW, ‖W‖²);
/// ∂f/∂W = 2Xᵀ(XW − Y) + 2λW, ∂f/∂X = 2(XW − Y)Wᵀ.
#[differentiate(wrt(x, w))]
fn ridge(x: &DMatrix<f64>, w: &DMatrix<f64>, y: &DMatrix<f64>, lambda: f64) -> f64 {
    let (p, r) = project(x, w);
    (p - y).norm_squared() + lambda * r
}

/// The same call inside a loop and a branch arm, using one part only in the arm.
#[differentiate(wrt(w))]
fn ridge_steps(x: &DMatrix<f64>, w: &DMatrix<f64>, y: &DMatrix<f64>, steps: usize, only_penalty: bool) -> f64 {
    let mut total = 0.0;
    for k in 0..steps {
        let scale = (k + 1) as f64;
        if only_penalty {
            let (_, r) = project(x, w);
            total += scale * r;
        } else {
            let pr = project(x, w);
            total += scale * ((&pr.0 - y).norm_squared() + pr.1);
        }
    }
    total
}

#[test]
fn a_helper_returning_a_tuple_destructured_by_its_caller() {
    let (x, w, y) = (mat(5, 3, 18), mat(3, 2, 19), mat(5, 2, 20));
    let lambda = 0.3;
    let (v, dx, dw) = ridge_grad(&x, &w, &y, lambda);
    assert_eq!(v, ridge(&x, &w, &y, lambda));
    let e = &x * &w - &y;
    assert_close(&dw, &(2.0 * x.transpose() * &e + 2.0 * lambda * &w), 1e-13);
    assert_close(&dx, &(2.0 * &e * w.transpose()), 1e-13);
    // The tuple's own vector-Jacobian product: adjoint (U, s) gives XᵀU + 2sW for W.
    let u = mat(5, 2, 21);
    let ((p, r), _, dw) = project_vjp(&x, &w, (u.clone(), 0.5));
    assert_eq!((p, r), project(&x, &w));
    assert_close(&dw, &(x.transpose() * &u + 2.0 * 0.5 * &w), 1e-13);
    for only in [false, true] {
        for steps in [0, 1, 3] {
            let (v, dw) = ridge_steps_grad(&x, &w, &y, steps, only);
            assert_eq!(v, ridge_steps(&x, &w, &y, steps, only));
            assert_fd(|w: &DMatrix<f64>| ridge_steps(&x, w, &y, steps, only), &w, &dw, 1e-7);
        }
    }
}

/// A tuple returned from inside a loop: the first k with ‖Aᵏx‖ > 1 gives (Aᵏx, k·‖Aᵏx‖²).
#[differentiate(wrt(a))]
fn tuple_from_a_loop(a: &DMatrix<f64>, x: &DMatrix<f64>) -> (DMatrix<f64>, f64) {
    let mut y = x.clone();
    let mut k = 0.0;
    for _ in 0..5 {
        y = a * &y;
        k += 1.0;
        if y.norm() > 1.0 {
            return (y.clone(), k * y.norm_squared());
        }
    }
    (y, 0.0)
}

#[test]
fn a_tuple_returned_from_inside_a_loop() {
    let (a, x) = (mat(3, 3, 22) * 1.2, mat(3, 1, 23) * 0.3);
    let (u, s) = (mat(3, 1, 24), 0.7);
    let ((y, v), da) = tuple_from_a_loop_vjp(&a, &x, (u.clone(), s));
    assert_eq!((y, v), tuple_from_a_loop(&a, &x));
    assert_fd(
        |a: &DMatrix<f64>| {
            let (y, v) = tuple_from_a_loop(a, &x);
            y.dot(&u) + s * v
        },
        &a,
        &da,
        1e-7,
    );
}

/// Closures the macro keeps as constants (an iterator's `map` over constants) may use every
/// exit too: the first j with j² > 10 below each k, else k.
#[differentiate(wrt(x))]
fn constant_closure_with_exits(x: &DVector<f64>, ks: &[usize]) -> f64 {
    let total: usize = ks
        .iter()
        .map(|&k| {
            for j in 0..k {
                if j * j > 10 {
                    return j;
                }
            }
            k
        })
        .sum();
    x.sum() * total as f64
}

#[test]
fn constant_closures_keep_their_exits() {
    let x = DVector::from_vec(vec![0.5, 1.5]);
    // k = 2 → 2, k = 9 → 4 (16 > 10): total 6.
    let (v, dx) = constant_closure_with_exits_grad(&x, &[2, 9]);
    assert_eq!(v, constant_closure_with_exits(&x, &[2, 9]));
    assert_eq!(v, 12.0);
    assert_eq!(dx, DVector::from_element(2, 6.0));
}

// ---------------------------------------------------------------- a `loop` that only `return` leaves

/// s = a·aᵏ after k iterations; the first s past `cap` is returned from inside a `loop` whose
/// value is bound by a `let` that nothing reads (the `let` has type `!`, so the body needs no
/// tail). With a = 1.5, cap = 4: s = 1.5⁴ = 5.0625, f = a⁴, f′ = 4a³ = 13.5.
#[differentiate]
// Written as users write it (a `let` of a diverging loop, `s = s * a`).
#[allow(clippy::let_unit_value, clippy::assign_op_pattern)]
fn diverging_let(a: f64, cap: f64) -> f64 {
    let mut s = a;
    let _x = loop {
        s = s * a;
        if s > cap {
            return s;
        }
    };
}

/// The same loop bound to a typed `let` inside a nested block (f32).
#[differentiate(wrt(a))]
// Written as users write it (a `let` of a diverging loop, `s = s * a`).
#[allow(clippy::let_unit_value, clippy::assign_op_pattern)]
fn diverging_typed_let(a: f32, cap: f32) -> f32 {
    let mut s = a;
    {
        let _x: f32 = loop {
            s = s * a;
            if s > cap {
                return s;
            }
        };
    }
}

#[test]
fn a_loop_left_only_by_return_may_be_bound_by_a_let() {
    let (a, cap) = (1.5, 4.0);
    let (v, da, dcap) = diverging_let_grad(a, cap);
    assert_eq!(v, diverging_let(a, cap));
    assert_eq!(v, a.powi(4));
    assert!((da - 4.0 * a.powi(3)).abs() < 1e-12, "{da}");
    assert_eq!(dcap, 0.0);
    let h = 1e-6;
    let fd = (diverging_let(a + h, cap) - diverging_let(a - h, cap)) / (2.0 * h);
    assert!((da - fd).abs() < 1e-6, "{da} vs {fd}");

    // 2³ = 8 > 5 after two products: f = a³, f′ = 3a² = 12.
    let (v, da) = diverging_typed_let_grad(2.0f32, 5.0);
    assert_eq!(v, diverging_typed_let(2.0, 5.0));
    assert_eq!(v, 8.0);
    assert!((da - 12.0).abs() < 1e-5, "{da}");
}

/// In a branch arm and inside a `for` body: f = a³ (a > 0, from the arm's loop) or the
/// `for` body's loop returns 2s on the first pass: f = 2a² (a ≤ 0).
/// f′ = 3a² or 4a.
#[differentiate]
// Written as users write it (a `let` of a diverging loop, `s = s * a`).
#[allow(clippy::let_unit_value, clippy::assign_op_pattern, clippy::never_loop)]
fn diverging_in_arm_and_for(a: f64) -> f64 {
    let mut s = a;
    if a > 0.0 {
        let _x = loop {
            s = s * a;
            if s.abs() > a.abs() * a.abs() {
                return s;
            }
            if s.abs() > 1e9 {
                return 0.0;
            }
        };
    } else {
        for _ in 0..3 {
            let _y = loop {
                s = s * a;
                return 2.0 * s;
            };
        }
    }
    s
}

#[test]
fn a_loop_left_only_by_return_in_an_arm_and_a_loop_body() {
    for (a, want, slope) in [(1.5f64, 1.5f64.powi(3), 3.0 * 1.5f64.powi(2)), (-1.5, 2.0 * 2.25, -6.0)] {
        let (v, da) = diverging_in_arm_and_for_grad(a);
        assert_eq!(v, diverging_in_arm_and_for(a));
        assert!((v - want).abs() < 1e-12, "{v} vs {want}");
        assert!((da - slope).abs() < 1e-12, "{da} vs {slope}");
        let h = 1e-6;
        let fd = (diverging_in_arm_and_for(a + h) - diverging_in_arm_and_for(a - h)) / (2.0 * h);
        assert!((da - fd).abs() < 1e-6, "{da} vs {fd}");
    }
}
