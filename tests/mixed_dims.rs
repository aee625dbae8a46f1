//! Operands of equal size whose dimension types differ, which nalgebra accepts (issue 18's
//! defect 4, issue 12's products mixing fixed and dynamic shapes): `DVector * DMatrix` with a
//! 1×n `DMatrix`, `DMatrix + RowDVector`, `DMatrix.component_mul(&RowDVector)`,
//! `DMatrix.dot(&DVector)`, `Matrix3 + DMatrix`, `DMatrix -= Matrix3`, `DMatrix.tr_mul(&Matrix3)`,
//! `set_column` of a `Vector3` into a `DMatrix`, `DVector.cross(&Vector3)`, compound updates. Each operand's gradient
//! has the operand's own type; each is checked against a closed form and central differences,
//! in a function body, a branch arm, a loop body, nested loops and a nested block.

mod common;

use common::{assert_close, assert_fd, mat};
use matgrad::differentiate;
use nalgebra::{DMatrix, DVector, Matrix3, RowDVector, SMatrix, Vector3};

fn dvec(n: usize, seed: u64) -> DVector<f64> {
    DVector::from_column_slice(mat(n, 1, seed).as_slice())
}

fn drow(n: usize, seed: u64) -> RowDVector<f64> {
    RowDVector::from_row_slice(mat(1, n, seed).as_slice())
}

/// The entries of `m` as an r×c `DMatrix` (column-major).
fn dyn_of(r: usize, c: usize, m: &[f64]) -> DMatrix<f64> {
    DMatrix::from_column_slice(r, c, m)
}

/// f(v, m) = ‖v m‖² with v n×1, m 1×k: Y = v m, ∂f/∂v = 2 Y mᵀ, ∂f/∂m = 2 vᵀ Y.
#[differentiate(wrt(v, m))]
fn outer(v: &DVector<f64>, m: &DMatrix<f64>) -> f64 {
    (v * m).norm_squared()
}

#[test]
fn outer_product_of_a_dvector_and_a_one_row_dmatrix() {
    let (v, m) = (dvec(3, 1), mat(1, 4, 2));
    let (_, dv, dm) = outer_grad(&v, &m);
    let y = &v * &m;
    assert_close(&dyn_of(3, 1, dv.as_slice()), &dyn_of(3, 1, (2.0 * &y * m.transpose()).as_slice()), 1e-12);
    assert_close(&dm, &dyn_of(1, 4, (2.0 * v.transpose() * &y).as_slice()), 1e-12);
    assert_fd(|v: &DVector<f64>| outer(v, &m), &v, &dv, 1e-6);
    assert_fd(|m: &DMatrix<f64>| outer(&v, m), &m, &dm, 1e-6);
}

/// f(m, r) = ‖m + r‖² (m a 1×n `DMatrix`, r a `RowDVector`; the sum is a `RowDVector`):
/// ∂f/∂m = ∂f/∂r = 2(m + r), each in its operand's type.
#[differentiate(wrt(m, r))]
fn add_row(m: &DMatrix<f64>, r: &RowDVector<f64>) -> f64 {
    (m + r).norm_squared()
}

#[test]
fn sum_of_a_dmatrix_and_a_row_dvector() {
    let (m, r) = (mat(1, 4, 3), drow(4, 4));
    let (_, dm, dr) = add_row_grad(&m, &r);
    let want: Vec<f64> = m.iter().zip(r.iter()).map(|(a, b)| 2.0 * (a + b)).collect();
    assert_close(&dm, &dyn_of(1, 4, &want), 1e-12);
    assert_close(&dyn_of(1, 4, dr.as_slice()), &dyn_of(1, 4, &want), 1e-12);
    assert_fd(|m: &DMatrix<f64>| add_row(m, &r), &m, &dm, 1e-6);
    assert_fd(|r: &RowDVector<f64>| add_row(&m, r), &r, &dr, 1e-6);
}

/// f(m, r) = ‖m ⊙ r‖² + Σ m ⊘ r: ∂f/∂m = 2 m ⊙ r² + 1 ⊘ r, ∂f/∂r = 2 r ⊙ m² − m ⊘ r².
#[differentiate(wrt(m, r))]
fn hadamard_row(m: &DMatrix<f64>, r: &RowDVector<f64>) -> f64 {
    m.component_mul(r).norm_squared() + m.component_div(r).sum()
}

#[test]
fn componentwise_products_of_a_dmatrix_and_a_row_dvector() {
    let m = mat(1, 5, 5);
    let r = drow(5, 6).map(|v| v + 2.0);
    let (_, dm, dr) = hadamard_row_grad(&m, &r);
    let pairs = || m.iter().zip(r.iter());
    let want_m: Vec<f64> = pairs().map(|(a, b)| 2.0 * a * b * b + 1.0 / b).collect();
    let want_r: Vec<f64> = pairs().map(|(a, b)| 2.0 * b * a * a - a / (b * b)).collect();
    assert_close(&dm, &dyn_of(1, 5, &want_m), 1e-12);
    assert_close(&dyn_of(1, 5, dr.as_slice()), &dyn_of(1, 5, &want_r), 1e-12);
    assert_fd(|m: &DMatrix<f64>| hadamard_row(m, &r), &m, &dm, 1e-6);
    assert_fd(|r: &RowDVector<f64>| hadamard_row(&m, r), &r, &dr, 1e-6);
}

/// f(m, v) = (m · v)² with m an n×1 `DMatrix`: s = m · v, ∂f/∂m = 2s v, ∂f/∂v = 2s m.
#[differentiate(wrt(m, v))]
fn dot_col(m: &DMatrix<f64>, v: &DVector<f64>) -> f64 {
    let s = m.dot(v);
    s * s
}

#[test]
fn dot_of_a_one_column_dmatrix_and_a_dvector() {
    let (m, v) = (mat(4, 1, 7), dvec(4, 8));
    let (_, dm, dv) = dot_col_grad(&m, &v);
    let s = m.dot(&v);
    assert_close(&dm, &dyn_of(4, 1, (2.0 * s * &v).as_slice()), 1e-12);
    assert_close(&dyn_of(4, 1, dv.as_slice()), &(2.0 * s * &m), 1e-12);
    assert_fd(|m: &DMatrix<f64>| dot_col(m, &v), &m, &dm, 1e-6);
    assert_fd(|v: &DVector<f64>| dot_col(&m, v), &v, &dv, 1e-6);
}

/// f(a, b) = ‖a + b‖² + Σ (b − a) ⊙ b with a a `Matrix3`, b a 3×3 `DMatrix`:
/// ∂f/∂a = 2(a + b) − b, ∂f/∂b = 2(a + b) + 2b − a.
#[differentiate(wrt(a, b))]
fn fixed_and_dynamic(a: &Matrix3<f64>, b: &DMatrix<f64>) -> f64 {
    (a + b).norm_squared() + (b - a).component_mul(b).sum()
}

fn fixed_and_dynamic_want(a: &Matrix3<f64>, b: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
    let a = dyn_of(3, 3, a.as_slice());
    (2.0 * (&a + b) - b, 2.0 * (&a + b) + 2.0 * b - &a)
}

#[test]
fn sum_of_a_matrix3_and_a_dmatrix() {
    let a = Matrix3::from_column_slice(mat(3, 3, 9).as_slice());
    let b = mat(3, 3, 10);
    let (_, da, db) = fixed_and_dynamic_grad(&a, &b);
    let (want_a, want_b) = fixed_and_dynamic_want(&a, &b);
    assert_close(&dyn_of(3, 3, da.as_slice()), &want_a, 1e-12);
    assert_close(&db, &want_b, 1e-12);
    assert_fd(|a: &Matrix3<f64>| fixed_and_dynamic(a, &b), &a, &da, 1e-6);
    assert_fd(|b: &DMatrix<f64>| fixed_and_dynamic(&a, b), &b, &db, 1e-6);
}

/// The same sums in other positions (a in-place update, an arm, a loop body, nested loops, a
/// block), each mixing a `Matrix3` and a 3×3 `DMatrix`: y = b − a; z = y + a (s > 0) or a − y;
/// z ← z + a twice, then twice more in nested loops; w = (a + z) − a = z; f = ‖w‖².
/// s > 0: z = b + 4a, ∂f/∂a = 8z, ∂f/∂b = 2z. s ≤ 0: z = 6a − b, ∂f/∂a = 12z, ∂f/∂b = −2z.
#[differentiate(wrt(a, b))]
#[allow(clippy::assign_op_pattern)]
fn positions(a: &Matrix3<f64>, b: &DMatrix<f64>, s: f64) -> f64 {
    let mut y = b.clone();
    y -= a;
    let mut z = if s > 0.0 { &y + a } else { a - &y };
    for _ in 0..2 {
        z = z + a;
    }
    for _ in 0..2 {
        for _ in 0..1 {
            z += a;
        }
    }
    let w = {
        let t = a + z;
        t - a
    };
    w.norm_squared()
}

#[test]
fn mixed_sums_in_arms_loops_and_blocks() {
    let a = Matrix3::from_column_slice(mat(3, 3, 11).as_slice());
    let b = mat(3, 3, 12);
    let ad = dyn_of(3, 3, a.as_slice());
    for s in [1.0, -1.0] {
        let (_, da, db) = positions_grad(&a, &b, s);
        // s > 0: z = (b − a) + a + 4a = b + 4a: ∂f/∂a = 8z, ∂f/∂b = 2z.
        // s ≤ 0: z = a − (b − a) + 4a = 6a − b: ∂f/∂a = 12z, ∂f/∂b = −2z.
        let (z, ka, kb) = if s > 0.0 { (&b + 4.0 * &ad, 8.0, 2.0) } else { (6.0 * &ad - &b, 12.0, -2.0) };
        assert_close(&dyn_of(3, 3, da.as_slice()), &(ka * &z), 1e-12);
        assert_close(&db, &(kb * &z), 1e-12);
        assert_fd(|a: &Matrix3<f64>| positions(a, &b, s), &a, &da, 1e-6);
        assert_fd(|b: &DMatrix<f64>| positions(&a, b, s), &b, &db, 1e-6);
    }
}

/// f32 and static sizes: f(a, b) = ‖a + b‖² with a an `SMatrix<f32, 1, 3>` and b a 1×3
/// `DMatrix<f32>` (the sum is static): ∂f/∂a = ∂f/∂b = 2(a + b).
#[differentiate(wrt(a, b))]
fn static_and_dynamic_f32(a: &SMatrix<f32, 1, 3>, b: &DMatrix<f32>) -> f32 {
    (a + b).norm_squared()
}

#[test]
fn mixed_sum_in_f32() {
    let a = SMatrix::<f32, 1, 3>::new(0.5, -1.0, 2.0);
    let b = DMatrix::<f32>::from_row_slice(1, 3, &[1.5, 0.25, -0.5]);
    let (v, da, db) = static_and_dynamic_f32_grad(&a, &b);
    assert_eq!(v, 4.0 + 0.5625 + 2.25);
    assert_eq!(da.as_slice(), &[4.0, -1.5, 3.0]);
    assert_eq!(db.as_slice(), &[4.0, -1.5, 3.0]);
    assert_eq!(db.shape(), (1, 3));
}

/// f(m, b) = ‖mᵀ b‖² with m a 3×k `DMatrix`, b a `Matrix3` (rows Dyn against 3): C = mᵀ b,
/// ∂f/∂m = 2 b Cᵀ, ∂f/∂b = 2 m C.
#[differentiate(wrt(m, b))]
fn tr_mul_mixed(m: &DMatrix<f64>, b: &Matrix3<f64>) -> f64 {
    m.tr_mul(b).norm_squared()
}

#[test]
fn tr_mul_of_a_dmatrix_and_a_matrix3() {
    let (m, b) = (mat(3, 2, 20), Matrix3::from_column_slice(mat(3, 3, 21).as_slice()));
    let (_, dm, db) = tr_mul_mixed_grad(&m, &b);
    let bd = dyn_of(3, 3, b.as_slice());
    let c = m.transpose() * &bd;
    assert_close(&dm, &(2.0 * &bd * c.transpose()), 1e-12);
    assert_close(&dyn_of(3, 3, db.as_slice()), &(2.0 * &m * &c), 1e-12);
    assert_fd(|m: &DMatrix<f64>| tr_mul_mixed(m, &b), &m, &dm, 1e-6);
    assert_fd(|b: &Matrix3<f64>| tr_mul_mixed(&m, b), &b, &db, 1e-6);
}

/// A `Vector3` set as column 0 of a 3×k `DMatrix`, and a cross product of a `DVector` and a
/// `Vector3`: f = ‖y‖² + ‖a × v‖² with y = m, column 0 replaced by v; c = a × v.
/// ∂f/∂m = 2m with column 0 zeroed, ∂f/∂v = 2v + 2 c × a, ∂f/∂a = 2 v × c.
#[differentiate(wrt(m, v, a))]
fn column_and_cross(m: &DMatrix<f64>, v: &Vector3<f64>, a: &DVector<f64>) -> f64 {
    let mut y = m.clone();
    y.set_column(0, v);
    y.norm_squared() + a.cross(v).norm_squared()
}

#[test]
fn set_column_and_cross_of_mixed_vectors() {
    let (m, a) = (mat(3, 4, 22), dvec(3, 23));
    let v = Vector3::new(0.3, -1.2, 0.8);
    let (_, dm, dv, da) = column_and_cross_grad(&m, &v, &a);
    let mut want_m = 2.0 * &m;
    want_m.column_mut(0).fill(0.0);
    let a3 = Vector3::from_column_slice(a.as_slice());
    let c = a3.cross(&v);
    assert_close(&dm, &want_m, 1e-12);
    assert_close(&dyn_of(3, 1, dv.as_slice()), &dyn_of(3, 1, (2.0 * v + 2.0 * c.cross(&a3)).as_slice()), 1e-12);
    assert_close(&dyn_of(3, 1, da.as_slice()), &dyn_of(3, 1, (2.0 * v.cross(&c)).as_slice()), 1e-12);
    assert_fd(|m: &DMatrix<f64>| column_and_cross(m, &v, &a), &m, &dm, 1e-6);
    assert_fd(|v: &Vector3<f64>| column_and_cross(&m, v, &a), &v, &dv, 1e-6);
    assert_fd(|a: &DVector<f64>| column_and_cross(&m, &v, a), &a, &da, 1e-6);
}

/// Compound updates of a 1×n `DMatrix` by a `RowDVector`: y = ((m − r) ⊙ r) + r, f = y · r
/// = Σ (m r² − r³ + r²): ∂f/∂m = r², ∂f/∂r = 2 m r − 3 r² + 2 r.
#[differentiate(wrt(m, r))]
fn compound_mixed(m: &DMatrix<f64>, r: &RowDVector<f64>) -> f64 {
    let mut y = m.clone();
    y -= r;
    y.component_mul_assign(r);
    y += r;
    y.dot(r)
}

#[test]
fn compound_updates_by_a_row_dvector() {
    let (m, r) = (mat(1, 4, 24), drow(4, 25));
    let (_, dm, dr) = compound_mixed_grad(&m, &r);
    let pairs = || m.iter().zip(r.iter());
    let want_m: Vec<f64> = r.iter().map(|b| b * b).collect();
    let want_r: Vec<f64> = pairs().map(|(a, b)| 2.0 * a * b - 3.0 * b * b + 2.0 * b).collect();
    assert_close(&dm, &dyn_of(1, 4, &want_m), 1e-12);
    assert_close(&dyn_of(1, 4, dr.as_slice()), &dyn_of(1, 4, &want_r), 1e-12);
    assert_fd(|m: &DMatrix<f64>| compound_mixed(m, &r), &m, &dm, 1e-6);
    assert_fd(|r: &RowDVector<f64>| compound_mixed(&m, r), &r, &dr, 1e-6);
}
