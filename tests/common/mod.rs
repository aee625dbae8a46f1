//! Helpers shared by the integration tests.
#![allow(dead_code)]

use matgrad::{check_gradient, Differentiable, Perturb};
use nalgebra::{DMatrix, Dim, OMatrix};

/// A deterministic "random" matrix with entries in about [-1, 1], different for each `seed`.
pub fn mat(r: usize, c: usize, seed: u64) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |i, j| {
        let k = (i * 7919 + j * 104_729) as u64 + seed * 15_485_863;
        let x = (k.wrapping_mul(2_654_435_761) % 10_007) as f64 / 10_007.0;
        2.0 * x - 1.0
    })
}

/// Asserts that `grad` matches central differences of `f` at `x` (relative tolerance `tol`).
pub fn assert_fd<V, F>(f: F, x: &V, grad: &V::Adj, tol: f64)
where
    V: Perturb<Scalar = f64>,
    F: FnMut(&V) -> f64,
{
    let check = check_gradient(f, x, grad, 1e-6, tol);
    assert!(check.ok, "gradient differs from central differences: {check:?}");
}

/// Asserts `a ≈ b` entrywise: `|a − b| ≤ tol · max(1, |b|)`.
pub fn assert_close<R: Dim, C: Dim>(a: &OMatrix<f64, R, C>, b: &OMatrix<f64, R, C>, tol: f64)
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    for (k, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "entry {k}: {x} vs {y}\n{a}\n{b}");
    }
}

/// The shapes every matrix rule is tested on: square, tall, wide, 1×1, 1×n, n×1.
pub const SHAPES: &[(usize, usize)] = &[(3, 3), (5, 2), (2, 4), (1, 1), (1, 4), (4, 1)];

/// Whether a generated function's value `got` is the user's function's value `want`: the same
/// bits on the scalar path (without the `simd` feature); with it, a differentiated `map` whose
/// closure has a lane form is evaluated by the lane kernels (within `matgrad::lanes::ULPS` ulps
/// of the scalar functions) while the user's function calls the scalar ones, so the two agree
/// to 256 ε relative (≈ 6e-14 for f64, 3e-5 for f32) instead.
pub fn same_value<T: nalgebra::RealField + Copy>(got: T, want: T) -> bool {
    if cfg!(feature = "simd") {
        let tol = T::default_epsilon() * nalgebra::convert::<f64, T>(256.0);
        got == want || (got - want).abs() <= tol * want.abs().max(T::one())
    } else {
        got == want
    }
}

/// Asserts [`same_value`] entry by entry (a scalar is a 1×1 matrix here).
pub fn assert_same_value<'a, T: nalgebra::RealField + Copy>(
    got: impl IntoIterator<Item = &'a T>,
    want: impl IntoIterator<Item = &'a T>,
) {
    for (k, (g, w)) in got.into_iter().zip(want).enumerate() {
        assert!(same_value(*g, *w), "entry {k}: the generated value {g} is not the function's {w}");
    }
}

/// Central differences of `f` at `p` (a struct, a tuple, a collection) through
/// `to_flat`/`from_flat`, in the order of `to_flat`.
pub fn numeric_flat<P: Differentiable<Scalar = f64>>(f: impl Fn(&P) -> f64, p: &P) -> Vec<f64> {
    let x = p.to_flat();
    (0..x.len())
        .map(|k| {
            let h = 1e-6;
            let (mut a, mut b) = (x.clone(), x.clone());
            a[k] += h;
            b[k] -= h;
            (f(&p.from_flat(&a)) - f(&p.from_flat(&b))) / (2.0 * h)
        })
        .collect()
}

/// Asserts `a ≈ b` entrywise for flattened values: `|a − b| ≤ tol · max(1, |b|)`.
pub fn assert_close_flat(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "entry {k}: {x} vs {y}");
    }
}
