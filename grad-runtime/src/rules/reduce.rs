//! Matrix-to-scalar ops: inner product, norms, sum, trace, and indexing.

use super::lazy::{Filled, Scaled};
use crate::contrib::Contrib;
use crate::value::{MatArg, Real, ScalarIn};
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage};

// s = ⟨X, Y⟩ = Σᵢⱼ Xᵢⱼ Yᵢⱼ
// X̄ += s̄ Y
// Ȳ += s̄ X
/// `s = x.dot(&y)`: the contribution to `x̄`. Every argument may be borrowed or owned (moved at
/// its last use); an owned `y` is scaled in place.
#[inline]
pub fn dot_lhs<X, Y: MatArg, G: ScalarIn<Y::T>>(_x: X, y: Y, g: G) -> Scaled<Y> {
    Scaled { a: g.get(), x: y }
}

/// `s = x.dot(&y)`: the contribution to `ȳ`.
#[inline]
pub fn dot_rhs<X: MatArg, Y, G: ScalarIn<X::T>>(x: X, _y: Y, g: G) -> Scaled<X> {
    Scaled { a: g.get(), x }
}

// s = ‖X‖²_F
// X̄ += 2 s̄ X
/// `s = x.norm_squared()`: the contribution to `x̄` (computed in `x`'s buffer when `x` is
/// passed owned, at its last use).
#[inline]
pub fn norm_squared_adj<X: MatArg, G: ScalarIn<X::T>>(x: X, g: G) -> Scaled<X> {
    let g = g.get();
    Scaled { a: g + g, x }
}

// s = ‖X‖_F
// X̄ += s̄ X / ‖X‖        (0 at X = 0: the minimum-norm subgradient, as PyTorch)
/// `s = x.norm()`: the contribution to `x̄`; `n` is the forward value `‖x‖`.
#[inline]
pub fn norm_adj<X: MatArg, N: ScalarIn<X::T>, G: ScalarIn<X::T>>(x: X, n: N, g: G) -> Scaled<X> {
    let (n, g) = (n.get(), g.get());
    let a = if n == nalgebra::zero::<X::T>() { nalgebra::zero::<X::T>() } else { g / n };
    Scaled { a, x }
}

// s = Σᵢⱼ Xᵢⱼ
// X̄ += s̄ 11ᵀ
/// `s = x.sum()`: the contribution to `x̄`.
#[inline]
pub fn sum_adj<X: MatArg, G: ScalarIn<X::T>>(x: X, g: G) -> Filled<X> {
    Filled { s: g.get(), like: x }
}

/// `s̄ I` with the shape of a value: the contribution of `trace`.
pub struct ScaledIdentity<'a, T, R: Dim, C: Dim, S> {
    s: T,
    like: &'a Matrix<T, R, C, S>,
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> Contrib for ScaledIdentity<'_, T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    fn init(self) -> OMatrix<T, R, C> {
        let (r, c) = self.like.shape_generic();
        let mut m = OMatrix::zeros_generic(r, c);
        m.fill_diagonal(self.s);
        m
    }
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        let n = acc.nrows().min(acc.ncols());
        for i in 0..n {
            acc[(i, i)] += self.s;
        }
    }
}

// s = tr X = Σᵢ Xᵢᵢ
// X̄ += s̄ I
/// `s = x.trace()`: the contribution to `x̄`.
#[inline]
pub fn trace_adj<'a, T: Real, R: Dim, C: Dim, S>(x: &'a Matrix<T, R, C, S>, g: &T) -> ScaledIdentity<'a, T, R, C, S> {
    ScaledIdentity { s: *g, like: x }
}

/// An index into a matrix: `(row, column)`, or a column-major linear index as `v[i]` takes.
pub trait EntryIndex: Copy {
    /// The column-major linear index for a matrix with `nrows` rows.
    fn linear(self, nrows: usize) -> usize;
}

impl EntryIndex for usize {
    fn linear(self, _: usize) -> usize {
        self
    }
}

impl EntryIndex for (usize, usize) {
    fn linear(self, nrows: usize) -> usize {
        self.0 + self.1 * nrows
    }
}

/// `s̄` at one entry: the contribution of an index.
pub struct Entry<'a, T, R: Dim, C: Dim, S> {
    at: usize,
    s: T,
    like: &'a Matrix<T, R, C, S>,
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> Contrib for Entry<'_, T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    fn init(self) -> OMatrix<T, R, C> {
        let (r, c) = self.like.shape_generic();
        let mut m = OMatrix::zeros_generic(r, c);
        m[self.at] += self.s;
        m
    }
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        acc[self.at] += self.s;
    }
}

// s = X[(i, j)]
// X̄[(i, j)] += s̄
/// `s = x[idx]`: the contribution to `x̄`. The index was already checked by the forward pass.
#[inline]
pub fn index_adj<'a, T: Real, R: Dim, C: Dim, S, I: EntryIndex>(
    x: &'a Matrix<T, R, C, S>,
    idx: &I,
    g: &T,
) -> Entry<'a, T, R, C, S>
where
    S: Storage<T, R, C>,
{
    Entry { at: idx.linear(x.nrows()), s: *g, like: x }
}
