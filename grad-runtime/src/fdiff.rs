//! Central finite differences, to check any gradient (generated or hand-written).

use crate::value::{Real, Value};
use nalgebra::allocator::Allocator;
use nalgebra::{ComplexField, DefaultAllocator, Dim, OMatrix};

/// A value whose entries can be perturbed one at a time: an f32/f64 scalar or an owned matrix.
pub trait Perturb: Value + Clone {
    /// Number of entries.
    fn entries(&self) -> usize;
    /// Entry `k` (column-major).
    fn entry(&self, k: usize) -> Self::Scalar;
    /// Sets entry `k`.
    fn set_entry(&mut self, k: usize, v: Self::Scalar);
    /// Entry `k` of an adjoint of this value.
    fn adj_entry(adj: &Self::Adj, k: usize) -> Self::Scalar;
    /// Sets entry `k` of an adjoint.
    fn set_adj_entry(adj: &mut Self::Adj, k: usize, v: Self::Scalar);
}

impl<T: Real> Perturb for T {
    fn entries(&self) -> usize {
        1
    }
    fn entry(&self, _: usize) -> T {
        *self
    }
    fn set_entry(&mut self, _: usize, v: T) {
        *self = v;
    }
    fn adj_entry(adj: &T, _: usize) -> T {
        *adj
    }
    fn set_adj_entry(adj: &mut T, _: usize, v: T) {
        *adj = v;
    }
}

impl<T: Real, R: Dim, C: Dim> Perturb for OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn entries(&self) -> usize {
        self.len()
    }
    fn entry(&self, k: usize) -> T {
        self[k]
    }
    fn set_entry(&mut self, k: usize, v: T) {
        self[k] = v;
    }
    fn adj_entry(adj: &Self, k: usize) -> T {
        adj[k]
    }
    fn set_adj_entry(adj: &mut Self, k: usize, v: T) {
        adj[k] = v;
    }
}

/// The gradient of `f` at `x` by central differences, entry by entry (the chain rule's
/// component form): `∂f/∂xₖ ≈ (f(x + h eₖ) − f(x − h eₖ)) / 2h`, with the step `h` scaled by
/// `max(1, |xₖ|)`.
pub fn numeric_gradient<V, F>(mut f: F, x: &V, h: V::Scalar) -> V::Adj
where
    V: Perturb,
    F: FnMut(&V) -> V::Scalar,
{
    let mut grad = x.zeros_adj();
    let mut xp = x.clone();
    for k in 0..x.entries() {
        let xk = x.entry(k);
        let step = h * nalgebra::RealField::max(xk.abs(), nalgebra::one::<V::Scalar>());
        xp.set_entry(k, xk + step);
        let fp = f(&xp);
        xp.set_entry(k, xk - step);
        let fm = f(&xp);
        xp.set_entry(k, xk);
        V::set_adj_entry(&mut grad, k, (fp - fm) / (step + step));
    }
    grad
}

/// The result of [`check_gradient`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradientCheck<T> {
    /// Largest `|analytic − numeric|` over the entries.
    pub max_abs_error: T,
    /// The entry (column-major) where `|analytic − numeric| / max(1, |numeric|)` is largest.
    pub worst_entry: usize,
    /// That relative error.
    pub max_rel_error: T,
    /// Whether every entry is within `tol`, relative to `max(1, |numeric|)`.
    pub ok: bool,
}

/// Compares a gradient `grad` of `f` at `x` with central differences (step `h`): every entry
/// must agree within `tol · max(1, |numeric|)`.
///
/// ```
/// # extern crate matgrad_runtime as matgrad;
/// use nalgebra::DMatrix;
/// let x = DMatrix::from_row_slice(2, 3, &[1.0, -2.0, 0.5, 3.0, 0.0, 1.5]);
/// // f(X) = ‖X‖²,  ∂f/∂X = 2X
/// let f = |x: &DMatrix<f64>| x.norm_squared();
/// let check = matgrad::check_gradient(f, &x, &(&x * 2.0), 1e-6, 1e-8);
/// assert!(check.ok, "{check:?}");
/// ```
pub fn check_gradient<V, F>(f: F, x: &V, grad: &V::Adj, h: V::Scalar, tol: V::Scalar) -> GradientCheck<V::Scalar>
where
    V: Perturb,
    F: FnMut(&V) -> V::Scalar,
{
    let numeric = numeric_gradient(f, x, h);
    let zero = nalgebra::zero::<V::Scalar>();
    let mut out = GradientCheck { max_abs_error: zero, worst_entry: 0, max_rel_error: zero, ok: true };
    for k in 0..x.entries() {
        let (a, n) = (V::adj_entry(grad, k), V::adj_entry(&numeric, k));
        let err = (a - n).abs();
        let rel = err / nalgebra::RealField::max(n.abs(), nalgebra::one::<V::Scalar>());
        // NaN compares false everywhere: it counts as the worst error and fails the check.
        let finite = rel.partial_cmp(&tol).is_some();
        if err > out.max_abs_error || !finite {
            out.max_abs_error = err;
        }
        if rel > out.max_rel_error || !finite {
            out.max_rel_error = rel;
            out.worst_entry = k;
        }
        if !finite || rel > tol {
            out.ok = false;
        }
    }
    out
}
