//! The `Differentiable` trait on scalars, matrices, containers and derived structs: every
//! operation against the same operation done by hand on the flat scalars.

use matgrad::Differentiable;
use nalgebra::{DMatrix, DVector, Matrix2x3, RealField, RowDVector, SMatrix, SVector, Vector2};

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Mlp {
    w1: DMatrix<f64>,
    b1: RowDVector<f64>,
    #[differentiable(skip)]
    activation_scale: f64,
    w2: DMatrix<f64>,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Generic<T: RealField + Copy> {
    w: SMatrix<T, 2, 3>,
    b: SVector<T, 2>,
    s: T,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct GenericMlp<T: RealField + Copy> {
    w1: DMatrix<T>,
    b1: RowDVector<T>,
    w2: DMatrix<T>,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Pair(Vector2<f32>, #[differentiable(skip)] usize, f32);

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Encoder {
    w: DMatrix<f64>,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Nested {
    enc: Encoder,
    layers: Vec<DVector<f64>>,
    heads: [Vector2<f64>; 2],
    both: (f64, Matrix2x3<f64>),
    #[differentiable(skip)]
    name: String,
}

fn mlp(seed: f64) -> Mlp {
    Mlp {
        w1: DMatrix::from_fn(2, 3, |i, j| seed + (i * 3 + j) as f64),
        b1: RowDVector::from_fn(3, |_, j| seed - j as f64),
        activation_scale: 0.5,
        w2: DMatrix::from_fn(3, 1, |i, _| seed * i as f64),
    }
}

/// The flat order is the fields' declaration order, matrices column-major, skipped fields left
/// out: w1 (2×3) = [s, s+3, s+1, s+4, s+2, s+5], b1 = [s, s−1, s−2], w2 = [0, s, 2s].
#[test]
fn derived_struct_flattens_in_declaration_order() {
    let p = mlp(1.0);
    assert_eq!(p.len(), 12);
    assert_eq!(p.to_flat(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0, 1.0, 0.0, -1.0, 0.0, 1.0, 2.0]);
    let back = p.from_flat(&(0..12).map(f64::from).collect::<Vec<_>>());
    assert_eq!(back.w1, DMatrix::from_column_slice(2, 3, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
    assert_eq!(back.b1, RowDVector::from_row_slice(&[6.0, 7.0, 8.0]));
    assert_eq!(back.w2, DMatrix::from_column_slice(3, 1, &[9.0, 10.0, 11.0]));
    assert_eq!(back.activation_scale, 0.5, "a skipped field is cloned from self");
    assert_eq!(p.from_flat(&p.to_flat()), p);
}

/// Each operation equals the operation on the flat vectors: zero_like → 0, add_scaled →
/// x + a y, scale → a x, dot → Σ xₖ yₖ.
#[test]
fn derived_operations_match_flat_operations() {
    let (p, q) = (mlp(1.0), mlp(-2.0));
    let (x, y) = (p.to_flat(), q.to_flat());
    let z = p.zero_like();
    assert_eq!(z.to_flat(), vec![0.0; 12]);
    assert_eq!(z.activation_scale, 0.5);
    let mut r = p.clone();
    r.add_scaled(0.25, &q);
    assert_eq!(r.to_flat(), x.iter().zip(&y).map(|(a, b)| a + 0.25 * b).collect::<Vec<_>>());
    let mut s = p.clone();
    Differentiable::scale(&mut s, -3.0);
    assert_eq!(s.to_flat(), x.iter().map(|a| -3.0 * a).collect::<Vec<_>>());
    assert_eq!(Differentiable::dot(&p, &q), x.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>());
    assert_eq!(s.activation_scale, 0.5);
}

#[test]
fn generic_struct_in_f32_and_f64() {
    let g64 = Generic::<f64> { w: SMatrix::from_fn(|i, j| (i + j) as f64), b: SVector::from_element(2.0), s: 3.0 };
    assert_eq!(g64.len(), 9);
    assert_eq!(g64.to_flat(), vec![0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 2.0, 2.0, 3.0]);
    assert_eq!(Differentiable::dot(&g64, &g64), 1.0 + 1.0 + 4.0 + 4.0 + 9.0 + 4.0 + 4.0 + 9.0);
    let g32 = Generic::<f32> { w: SMatrix::from_element(1.0), b: SVector::from_element(-1.0), s: 0.5 };
    let mut h = g32.zero_like();
    h.add_scaled(2.0, &g32);
    assert_eq!(h.to_flat(), vec![2.0, 2.0, 2.0, 2.0, 2.0, 2.0, -2.0, -2.0, 1.0]);
    let m = GenericMlp::<f32> {
        w1: DMatrix::from_element(2, 2, 1.0),
        b1: RowDVector::from_element(2, 2.0),
        w2: DMatrix::from_element(2, 1, 3.0),
    };
    assert_eq!(m.to_flat(), vec![1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    assert_eq!(m.from_flat(&m.to_flat()), m);
}

/// `DMatrix<f64>` and `OMatrix<f64, Dyn, Dyn>` are one type: the derive accepts both spellings.
#[test]
fn one_type_spelled_two_ways() {
    let s =
        Spellings { a: DMatrix::from_element(1, 1, 1.0), b: DMatrix::from_element(1, 2, 2.0), c: DMatrix::zeros(0, 3) };
    assert_eq!(s.to_flat(), vec![1.0, 2.0, 2.0]);
}

#[test]
fn tuple_struct_with_a_skipped_field() {
    let p = Pair(Vector2::new(1.0, 2.0), 7, 3.0);
    assert_eq!(p.len(), 3);
    assert_eq!(p.to_flat(), vec![1.0, 2.0, 3.0]);
    let q = p.from_flat(&[4.0, 5.0, 6.0]);
    assert_eq!(q, Pair(Vector2::new(4.0, 5.0), 7, 6.0));
    let mut z = p.zero_like();
    assert_eq!(z, Pair(Vector2::zeros(), 7, 0.0));
    z.add_scaled(-1.0, &q);
    assert_eq!(z, Pair(Vector2::new(-4.0, -5.0), 7, -6.0));
}

/// Nested struct, Vec, array and tuple fields: 2·2 (enc) + 3 + 1 (layers) + 2·2 (heads) + 1 +
/// 6 (both) = 19 scalars.
#[test]
fn nested_struct_with_containers() {
    let n = Nested {
        enc: Encoder { w: DMatrix::from_element(2, 2, 1.0) },
        layers: vec![DVector::from_element(3, 2.0), DVector::from_element(1, 3.0)],
        heads: [Vector2::new(4.0, 5.0), Vector2::new(6.0, 7.0)],
        both: (8.0, Matrix2x3::from_element(9.0)),
        name: "net".into(),
    };
    assert_eq!(n.len(), 19);
    let flat = n.to_flat();
    assert_eq!(&flat[..11], &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(&flat[11..], &[7.0, 8.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]);
    let doubled: Vec<f64> = flat.iter().map(|v| 2.0 * v).collect();
    let mut m = n.clone();
    Differentiable::scale(&mut m, 2.0);
    assert_eq!(n.from_flat(&doubled), m);
    assert_eq!(m.name, "net");
    assert_eq!(Differentiable::dot(&n, &n), flat.iter().map(|v| v * v).sum::<f64>());
}

#[test]
fn containers_and_scalars() {
    let v = vec![1.0_f64, 2.0];
    assert_eq!(v.from_flat(&[3.0, 4.0]), vec![3.0, 4.0]);
    let a = [DVector::from_element(2, 1.0_f32), DVector::from_element(1, 2.0)];
    assert_eq!(Differentiable::len(&a), 3);
    assert_eq!(a.to_flat(), vec![1.0, 1.0, 2.0]);
    let t = (1.0_f64, DMatrix::from_element(1, 2, 2.0), [3.0_f64; 2]);
    assert_eq!(t.to_flat(), vec![1.0, 2.0, 2.0, 3.0, 3.0]);
    assert_eq!(t.from_flat(&[5.0, 4.0, 3.0, 2.0, 1.0]).2, [2.0, 1.0]);
    assert_eq!(Differentiable::dot(&2.0_f32, &3.0), 6.0);
}

/// Two spellings of one type.
#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Spellings {
    a: DMatrix<f64>,
    b: nalgebra::OMatrix<f64, nalgebra::Dyn, nalgebra::Dyn>,
    c: DMatrix<f64>,
}
