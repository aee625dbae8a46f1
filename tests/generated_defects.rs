//! Defects found by random programs (issue 18): valid bodies that failed to compile inside
//! generated code, or computed a wrong value and gradient.

// The bodies are the minimal forms the generator found, written as it wrote them.
#![allow(clippy::assign_op_pattern, clippy::op_ref, clippy::clone_on_copy)]

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, Dyn, SMatrix};

#[differentiate(wrt(t))]
fn d1_clone_owned(c: &DMatrix<f64>, t: f64) -> f64 {
    let x = c.view((0, 0), (2, 3)).clone_owned().reshape_generic(Dyn(2), Dyn(3));
    x.mean() * t
}

#[differentiate(wrt(t))]
fn d1_into_owned(c: &DMatrix<f64>, t: f64) -> f64 {
    let x = c.rows(0, 2).into_owned().reshape_generic(Dyn(3), Dyn(2));
    x[(2, 0)] * t
}

#[differentiate(wrt(a))]
fn d1_active(a: &DMatrix<f64>) -> f64 {
    let x = a.view((0, 0), (2, 3)).clone_owned().reshape_generic(Dyn(3), Dyn(2));
    x[(2, 0)] * x[(0, 1)]
}

#[differentiate(wrt(a))]
fn d2_typed(a: &DMatrix<f64>) -> f64 {
    let x: DMatrix<f64> = a.rows(0, 2).clone_owned();
    x.norm_squared()
}

#[differentiate(wrt(a))]
fn d2_arm(a: &DMatrix<f64>, s: f64) -> f64 {
    let y = if s > 0.0 { a * 2.0 } else { a.rows(0, 2).into_owned() };
    y.sum()
}

#[differentiate(wrt(a))]
fn d2_loop(a: &DMatrix<f64>) -> f64 {
    let mut h = a * 1.0;
    for _ in 0..2 {
        h = h.rows(0, 2).clone_owned() * 3.0;
    }
    h.sum()
}

#[differentiate(wrt(x))]
fn d2_ref_clone(x: &DMatrix<f64>) -> f64 {
    let y = x.clone();
    if (&y * 2.0).sum() > 0.0 {
        y.norm_squared()
    } else {
        y.sum()
    }
}

#[differentiate(wrt(h0))]
fn d3_arm(h0: SMatrix<f64, 2, 2>, s: f64) -> f64 {
    let mut h = h0;
    if s > 0.0 {
        h = &SMatrix::<f64, 2, 2>::identity() * &h;
    }
    for _ in 0..2 {
        h = &SMatrix::<f64, 2, 2>::identity() * &h;
    }
    h.norm_squared()
}

#[differentiate(wrt(x))]
fn d3_view(x: &DMatrix<f64>) -> f64 {
    let z = &DMatrix::<f64>::identity(2, 2).view((0, 0), (1, 1)) * 1.0;
    z[(0, 0)] * x.norm_squared()
}

#[differentiate(wrt(x))]
fn d3_clone_arm(x: &DMatrix<f64>, k: &DMatrix<f64>, s: f64) -> f64 {
    let y = if s > 0.0 { &k.clone() * x } else { x.clone() };
    y.sum()
}

#[differentiate]
fn d5(x: &DMatrix<f64>, c: &DVector<f64>) -> f64 {
    matgrad::add_column_vector(&x.columns(0, 2), c).norm_squared()
}

#[differentiate(wrt(x))]
fn d6(x: &DMatrix<f64>, s: f64) -> f64 {
    let mut acc = 0.0;
    for _ in 0..2 {
        let g = x * 2.0;
        let y = if s > 0.0 { &g.columns(0, 1) * s } else { g.columns(0, 1) * 1.0 };
        acc += y.sum();
    }
    acc
}

#[differentiate]
fn sq(v: f64) -> f64 {
    v * v
}

#[differentiate]
fn d7(x: &DMatrix<f64>, s: &f64) -> f64 {
    let t = *s;
    if t > 0.5 {
        x.sum() * t
    } else {
        sq(*s) * x.sum()
    }
}

#[differentiate]
fn d8(x: &DMatrix<f64>) -> f64 {
    let mut acc = 0.0;
    for w in [0.5_f64, 1.5].iter() {
        acc += x.map(|q| q * *w).sum();
    }
    acc
}

#[differentiate]
fn d9(x: &DMatrix<f64>, s: f64) -> f64 {
    let mut h = x * 1.0;
    for _ in 0..h.nrows() {
        h *= s;
    }
    h.sum()
}

#[differentiate(wrt(x))]
fn d10(x: SMatrix<f64, 2, 3>, s: f64) -> f64 {
    let mut h = x;
    let mut g = x * 3.0;
    if s > 0.0 {
    } else {
        for _ in 0..2 {
            h = h + g;
            g = g * 2.0;
        }
    }
    h.sum()
}

#[differentiate(wrt(a))]
fn d11_moved(a: &DMatrix<f64>, b: DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let y = &b;
    let z = c.component_mul(&(y * 2.0));
    a.component_mul(&z).sum() + b.sum()
}

#[differentiate(wrt(a))]
fn d11_local(a: &DMatrix<f64>, c: &DMatrix<f64>) -> f64 {
    let x = c * 2.0;
    let y = &x;
    let w = y.component_mul(y);
    a.component_mul(&w).sum()
}

/// Copies, references and derefs in a `map` closure, a nested block and nested loops.
#[differentiate]
fn positions(a: &DMatrix<f64>, s: &f64) -> f64 {
    let m = a.map(|v| {
        let w = &v;
        *w * v.clone() * *s
    });
    let b = {
        let y = &m;
        y.rows(0, 1).clone_owned()
    };
    let mut acc = 0.0;
    for i in 0..2 {
        for j in 0..a.ncols() {
            let r = &a.column(j).into_owned();
            acc += r[i] * *s;
        }
    }
    b.sum() + acc
}

/// Static sizes in f32: a copy of a fixed view, a reference to it, a copy of an owned matrix.
#[differentiate]
fn copies_static(a: &SMatrix<f32, 3, 2>) -> f32 {
    let x = a.fixed_rows::<2>(0).clone_owned();
    let y = &x;
    (y * 2.0).norm_squared() + x.into_owned().sum()
}

// ---------------------------------------------------------------- tests

/// `c[(i, j)] = 10 i + j`, 3×3.
fn tens() -> DMatrix<f64> {
    DMatrix::from_fn(3, 3, |i, j| (10 * i + j) as f64)
}

/// Defect 1: x = c's top-left 2×3 block, copied, then reshaped 2×3: its mean is (0+1+2+10+11+12)/6 = 6,
/// so f = 6t and ∂f/∂t = 6 (the strided view reshaped in place read 10.5).
#[test]
fn d1_clone_owned_of_a_constant_view_is_a_copy() {
    let (c, t) = (tens(), 0.7);
    let (v, dt) = d1_clone_owned_grad(&c, t);
    assert_eq!(d1_clone_owned(&c, t), 6.0 * t);
    assert!((v - 6.0 * t).abs() < 1e-12 && (dt - 6.0).abs() < 1e-12, "{v} {dt}");
    assert_fd(|t: &f64| d1_clone_owned(&c, *t), &t, &dt, 1e-7);
}

/// Defect 1: c's rows 0..2 in column-major order are 0, 10, 1, 11, 2, 12; reshaped 3×2, entry (2, 0) is
/// the third, 1: f = t, ∂f/∂t = 1 (20 before).
#[test]
fn d1_into_owned_of_a_constant_view_is_a_copy() {
    let (c, t) = (tens(), -1.3);
    let (v, dt) = d1_into_owned_grad(&c, t);
    assert!((v - t).abs() < 1e-12 && (dt - 1.0).abs() < 1e-12, "{v} {dt}");
    assert_fd(|t: &f64| d1_into_owned(&c, *t), &t, &dt, 1e-7);
}

/// 1, differentiated: the 2×3 block of A in column-major order is a₀₀, a₁₀, a₀₁, a₁₁, a₀₂, a₁₂;
/// reshaped 3×2, x₂₀ = a₀₁ and x₀₁ = a₁₁, so f = a₀₁ a₁₁: ∂f/∂a₀₁ = a₁₁, ∂f/∂a₁₁ = a₀₁.
#[test]
fn d1_clone_owned_of_a_differentiated_view() {
    let a = mat(3, 4, 1);
    let (v, da) = d1_active_grad(&a);
    assert!((v - a[(0, 1)] * a[(1, 1)]).abs() < 1e-12);
    let mut want = DMatrix::zeros(3, 4);
    want[(0, 1)] = a[(1, 1)];
    want[(1, 1)] = a[(0, 1)];
    assert_close(&da, &want, 1e-12);
    assert_fd(d1_active, &a, &da, 1e-7);
}

/// Defect 2: f = ‖A₀..₂,:‖²: ∂f/∂A = 2A on rows 0 and 1, 0 below.
#[test]
fn d2_typed_copy_of_a_view() {
    let a = mat(4, 3, 2);
    let (_, da) = d2_typed_grad(&a);
    let want = DMatrix::from_fn(4, 3, |i, j| if i < 2 { 2.0 * a[(i, j)] } else { 0.0 });
    assert_close(&da, &want, 1e-12);
    assert_fd(d2_typed, &a, &da, 1e-7);
}

/// Defect 2: f = Σ 2A (s > 0): ∂f/∂A = 2; f = Σ A₀..₂,: (s ≤ 0): 1 on rows 0 and 1.
#[test]
fn d2_copy_of_a_view_as_an_arm_value() {
    let a = mat(3, 2, 3);
    let (_, da) = d2_arm_grad(&a, 1.0);
    assert_close(&da, &DMatrix::from_element(3, 2, 2.0), 1e-12);
    let (_, da) = d2_arm_grad(&a, -1.0);
    let want = DMatrix::from_fn(3, 2, |i, _| if i < 2 { 1.0 } else { 0.0 });
    assert_close(&da, &want, 1e-12);
    assert_fd(|a: &DMatrix<f64>| d2_arm(a, -1.0), &a, &da, 1e-7);
}

/// Defect 2: h = 3 A₀..₂,: after the first step, 9 A₀..₂,: after the second: ∂Σh/∂A = 9 on rows 0, 1.
#[test]
fn d2_loop_carried_copy_of_a_view() {
    let a = mat(4, 3, 4);
    let (v, da) = d2_loop_grad(&a);
    assert!((v - 9.0 * a.rows(0, 2).sum()).abs() < 1e-12);
    let want = DMatrix::from_fn(4, 3, |i, _| if i < 2 { 9.0 } else { 0.0 });
    assert_close(&da, &want, 1e-12);
    assert_fd(d2_loop, &a, &da, 1e-7);
}

/// Defect 2: y = x.clone() of a `&DMatrix`, read by a condition: ∂‖x‖²/∂x = 2x when Σ2x > 0, else
/// ∂Σx/∂x = 1.
#[test]
fn d2_clone_of_a_reference_read_by_a_condition() {
    let x = mat(2, 3, 5).add_scalar(2.0);
    let (_, dx) = d2_ref_clone_grad(&x);
    assert_close(&dx, &(2.0 * &x), 1e-12);
    let x = -x;
    let (_, dx) = d2_ref_clone_grad(&x);
    assert_close(&dx, &DMatrix::from_element(2, 3, 1.0), 1e-12);
    assert_fd(d2_ref_clone, &x, &dx, 1e-7);
}

/// Defect 3: h = I h, in an arm and twice in a loop: f = ‖h₀‖², ∂f/∂h₀ = 2h₀ either way.
#[test]
fn d3_borrowed_temporaries_in_arms_and_loops() {
    let h0 = SMatrix::<f64, 2, 2>::new(0.3, -1.2, 0.8, 2.0);
    for s in [1.0, -1.0] {
        let (v, dh) = d3_arm_grad(h0, s);
        assert!((v - h0.norm_squared()).abs() < 1e-12);
        assert!((dh - 2.0 * h0).norm() < 1e-12, "{dh}");
    }
}

/// Defect 3: z = I₀₀ = 1 (a 1×1 view of a temporary, scaled): f = ‖x‖², ∂f/∂x = 2x.
#[test]
fn d3_view_of_a_temporary() {
    let x = mat(1, 4, 6);
    let (_, dx) = d3_view_grad(&x);
    assert_close(&dx, &(2.0 * &x), 1e-12);
    assert_fd(d3_view, &x, &dx, 1e-7);
}

/// Defect 3: f = Σ K X (s > 0): ∂f/∂X = Kᵀ 11ᵀ; f = Σ X (s ≤ 0): 1.
#[test]
fn d3_borrowed_clone_in_an_arm() {
    let (x, k) = (mat(3, 2, 7), mat(3, 3, 8));
    let (_, dx) = d3_clone_arm_grad(&x, &k, 1.0);
    assert_close(&dx, &(k.transpose() * DMatrix::from_element(3, 2, 1.0)), 1e-12);
    assert_fd(|x: &DMatrix<f64>| d3_clone_arm(x, &k, 1.0), &x, &dx, 1e-7);
    let (_, dx) = d3_clone_arm_grad(&x, &k, -1.0);
    assert_close(&dx, &DMatrix::from_element(3, 2, 1.0), 1e-12);
}

/// Defect 5: Y = X₀..₂ + c1ᵀ, f = ‖Y‖²: ∂f/∂X = 2Y on columns 0 and 1 (0 elsewhere), ∂f/∂c = 2 Y 1.
#[test]
fn d5_view_as_the_first_argument_of_a_broadcast() {
    let (x, c) = (mat(3, 4, 9), DVector::from_vec(vec![0.5, -1.0, 2.0]));
    let (_, dx, dc) = d5_grad(&x, &c);
    let y = DMatrix::from_fn(3, 2, |i, j| x[(i, j)] + c[i]);
    let want = DMatrix::from_fn(3, 4, |i, j| if j < 2 { 2.0 * y[(i, j)] } else { 0.0 });
    assert_close(&dx, &want, 1e-12);
    let dc_want = 2.0 * y.column_sum();
    assert!((&dc - &dc_want).norm() < 1e-12);
    assert_fd(|x: &DMatrix<f64>| d5(x, &c), &x, &dx, 1e-7);
}

/// Defect 6: Each of 2 iterations adds Σ 2s X₀ (s > 0) or Σ 2X₀: ∂f/∂X = 4s, or 4, on column 0.
#[test]
fn d6_arm_view_of_a_loop_local() {
    let x = mat(3, 2, 10);
    for (s, w) in [(0.5, 2.0), (-0.5, 4.0)] {
        let (_, dx) = d6_grad(&x, s);
        let want = DMatrix::from_fn(3, 2, |_, j| if j == 0 { w } else { 0.0 });
        assert_close(&dx, &want, 1e-12);
        assert_fd(|x: &DMatrix<f64>| d6(x, s), &x, &dx, 1e-7);
    }
}

/// Defect 7: f = s Σx (s > 0.5): ∂f/∂x = s, ∂f/∂s = Σx; f = s² Σx: ∂f/∂x = s², ∂f/∂s = 2s Σx.
#[test]
fn d7_deref_of_a_scalar_reference() {
    let x = mat(2, 2, 11);
    let (_, dx, ds) = d7_grad(&x, &0.75);
    assert_close(&dx, &DMatrix::from_element(2, 2, 0.75), 1e-12);
    assert!((ds - x.sum()).abs() < 1e-12);
    let (_, dx, ds) = d7_grad(&x, &0.25);
    assert_close(&dx, &DMatrix::from_element(2, 2, 0.0625), 1e-12);
    assert!((ds - 0.5 * x.sum()).abs() < 1e-12);
    assert_fd(|s: &f64| d7(&x, s), &0.25, &ds, 1e-7);
}

/// Defect 8: f = Σ (0.5 + 1.5) X: ∂f/∂X = 2.
#[test]
fn d8_deref_of_a_loop_item_in_a_closure() {
    let x = mat(2, 3, 12);
    let (v, dx) = d8_grad(&x);
    assert!((v - 2.0 * x.sum()).abs() < 1e-12);
    assert_close(&dx, &DMatrix::from_element(2, 3, 2.0), 1e-12);
}

/// Defect 9: h = sⁿ X after n = 3 (rows) steps: ∂f/∂X = s³, ∂f/∂s = 3s² ΣX.
#[test]
fn d9_range_reads_a_carried_value() {
    let (x, s) = (mat(3, 2, 13), 1.3);
    let (v, dx, ds) = d9_grad(&x, s);
    assert!((v - s.powi(3) * x.sum()).abs() < 1e-12);
    assert_close(&dx, &DMatrix::from_element(3, 2, s.powi(3)), 1e-12);
    assert!((ds - 3.0 * s * s * x.sum()).abs() < 1e-12);
    assert_fd(|s: &f64| d9(&x, *s), &s, &ds, 1e-7);
}

/// Defect 10: s ≤ 0: h = x + 3x + 6x = 10x, ∂Σh/∂x = 10; s > 0: h = x, 1.
#[test]
fn d10_loop_in_one_arm() {
    let x = SMatrix::<f64, 2, 3>::from_fn(|i, j| (i + 2 * j) as f64 * 0.1);
    let (v, dx) = d10_grad(x, -1.0);
    assert!((v - 10.0 * x.sum()).abs() < 1e-12);
    assert!((dx - SMatrix::<f64, 2, 3>::repeat(10.0)).norm() < 1e-12, "{dx}");
    let (_, dx) = d10_grad(x, 1.0);
    assert!((dx - SMatrix::<f64, 2, 3>::repeat(1.0)).norm() < 1e-12, "{dx}");
}

/// Defect 11: f = Σ A ⊙ C ⊙ 2B + ΣB: ∂f/∂A = 2 C ⊙ B.
#[test]
fn d11_reference_alias_of_a_constant_parameter() {
    let (a, b, c) = (mat(2, 3, 14), mat(2, 3, 15), mat(2, 3, 16));
    let (_, da) = d11_moved_grad(&a, b.clone(), &c);
    assert_close(&da, &(2.0 * c.component_mul(&b)), 1e-12);
    assert_fd(|a: &DMatrix<f64>| d11_moved(a, b.clone(), &c), &a, &da, 1e-7);
}

/// Defect 11: w = (2C) ⊙ (2C): ∂Σ A ⊙ w/∂A = 4 C ⊙ C.
#[test]
fn d11_reference_alias_of_a_constant_local() {
    let (a, c) = (mat(3, 2, 17), mat(3, 2, 18));
    let (_, da) = d11_local_grad(&a, &c);
    assert_close(&da, &(4.0 * c.component_mul(&c)), 1e-12);
    assert_fd(|a: &DMatrix<f64>| d11_local(a, &c), &a, &da, 1e-7);
}

/// f = Σⱼ a₀ⱼ² s + s Σⱼ (a₀ⱼ + a₁ⱼ): ∂f/∂a₀ⱼ = 2a₀ⱼ s + s, ∂f/∂a₁ⱼ = s, 0 on row 2;
/// ∂f/∂s = Σⱼ a₀ⱼ² + Σⱼ (a₀ⱼ + a₁ⱼ).
#[test]
fn copies_references_and_derefs_in_every_position() {
    let (a, s) = (mat(3, 4, 19), 0.6);
    let (v, da, ds) = positions_grad(&a, &s);
    let row = |i: usize| a.row(i).sum();
    let sq = a.row(0).norm_squared();
    assert!((v - (sq * s + s * (row(0) + row(1)))).abs() < 1e-12);
    let want = DMatrix::from_fn(3, 4, |i, j| match i {
        0 => 2.0 * a[(0, j)] * s + s,
        1 => s,
        _ => 0.0,
    });
    assert_close(&da, &want, 1e-12);
    assert!((ds - (sq + row(0) + row(1))).abs() < 1e-12);
    assert_fd(|a: &DMatrix<f64>| positions(a, &s), &a, &da, 1e-7);
    assert_fd(|s: &f64| positions(&a, s), &s, &ds, 1e-7);
}

/// f = 4‖A₀..₂,:‖² + Σ A₀..₂,:: ∂f/∂A = 8A + 1 on rows 0 and 1, 0 on row 2.
#[test]
fn copies_of_fixed_views_in_f32() {
    let a = SMatrix::<f32, 3, 2>::new(0.5, -1.0, 0.25, 2.0, 1.5, -0.75);
    let (_, da) = copies_static_grad(&a);
    let want = SMatrix::<f32, 3, 2>::from_fn(|i, j| if i < 2 { 8.0 * a[(i, j)] + 1.0 } else { 0.0 });
    assert!((da - want).norm() < 1e-5, "{da}");
}

/// A reference alias read in the same statement as what it points to (`&x + y` with `y = &x`):
/// `x` is not moved there. f = Σ (x + x) with x = 2a, so ∂f/∂a = 4.
#[differentiate]
fn alias_beside_its_target(a: &DMatrix<f64>) -> f64 {
    let x = a * 2.0;
    let y = &x;
    let z = &x + y;
    z.sum()
}

#[test]
fn reference_alias_beside_its_target() {
    let a = DMatrix::from_fn(2, 3, |i, j| (i + 2 * j) as f64 - 1.5);
    let (value, da) = alias_beside_its_target_grad(&a);
    assert_eq!(value, alias_beside_its_target(&a));
    assert_eq!(da, DMatrix::from_element(2, 3, 4.0));
}
