//! Matrix-to-scalar ops: inner product, norms, sum, trace, and indexing.

use super::dims::{as_adj, IntoAdjOf};
use super::lazy::{Filled, Scaled};
use crate::contrib::Contrib;
use crate::value::{MatArg, Real, ScalarIn};
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage};

// s = ⟨X, Y⟩ = Σᵢⱼ Xᵢⱼ Yᵢⱼ
// X̄ += s̄ Y
// Ȳ += s̄ X
/// `s = x.dot(&y)`: the contribution to `x̄`. Every argument may be borrowed or owned (moved at
/// its last use); an owned `y` is scaled in place. `x` and `y` may have different dimension
/// types of one shape (`m.dot(&v)`, `m` an n×1 `DMatrix`, `v` a `DVector`).
#[inline]
pub fn dot_lhs<X: MatArg, Y: MatArg<T = X::T>, G: ScalarIn<Y::T>>(_x: X, y: Y, g: G) -> IntoAdjOf<Scaled<Y>, X>
where
    DefaultAllocator: Allocator<X::R, X::C> + Allocator<Y::R, Y::C>,
{
    as_adj(Scaled { a: g.get(), x: y })
}

/// `s = x.dot(&y)`: the contribution to `ȳ`.
#[inline]
pub fn dot_rhs<X: MatArg, Y: MatArg<T = X::T>, G: ScalarIn<X::T>>(x: X, _y: Y, g: G) -> IntoAdjOf<Scaled<X>, Y>
where
    DefaultAllocator: Allocator<X::R, X::C> + Allocator<Y::R, Y::C>,
{
    as_adj(Scaled { a: g.get(), x })
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

// s = tr X, X̄ = s̄ I kept as s̄ when the op computing X has adjoints of a scaled identity
/// `s = x.trace()` where `x` is read by the trace alone and the op computing it has adjoints for
/// `X̄ = s̄ I` (`solve_lhs_of_identity`): `x̄` is kept as the scalar `s̄`.
#[inline]
pub fn trace_identity<T: Real>(g: &T) -> T {
    *g
}

/// An index into a matrix: `(row, column)`, or a column-major linear index as `v[i]` takes.
pub trait EntryIndex: Copy {
    /// The column-major linear index for a matrix with `nrows` rows.
    fn linear(self, nrows: usize) -> usize;
}

impl EntryIndex for usize {
    #[inline]
    fn linear(self, _: usize) -> usize {
        self
    }
}

impl EntryIndex for (usize, usize) {
    #[inline]
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

// s = tr(A B), the trace of a product that nothing else reads (`s·tr(B)` when a factor is a
// scalar; see the macro's `simplify`)
// Ā += s̄ Bᵀ
// B̄ += s̄ Aᵀ
/// The trace of a matrix whose type is square (as the `trace()` that the user's code calls).
fn diagonal_sum<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(m: &Matrix<T, R, C, S>) -> T {
    assert!(m.is_square(), "Cannot compute the trace of non-square matrix.");
    (0..m.nrows()).fold(T::zero(), |s, i| s + m[(i, i)])
}

/// The adjoints of `tr(a b)` for each kind of operand.
pub trait TraceMulAdj<B: crate::value::Value<Scalar = Self::Scalar>>: crate::value::Value {
    /// `ā = s̄ bᵀ` (`s̄ tr(b)` for a scalar `a`, `s̄ b I` for a scalar `b`).
    fn lhs(&self, b: &B, g: Self::Scalar) -> Self::Adj;
    /// `b̄ = s̄ aᵀ` (…).
    fn rhs(&self, b: &B, g: Self::Scalar) -> B::Adj;
}

impl<T: Real, R1: Dim, C1: Dim, S1, R2: Dim, C2: Dim, S2> TraceMulAdj<Matrix<T, R2, C2, S2>> for Matrix<T, R1, C1, S1>
where
    S1: Storage<T, R1, C1>,
    S2: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R1, C1> + Allocator<R2, C2>,
{
    fn lhs(&self, b: &Matrix<T, R2, C2, S2>, g: T) -> OMatrix<T, R1, C1> {
        let (r, c) = self.shape_generic();
        OMatrix::from_fn_generic(r, c, |i, j| b[(j, i)] * g)
    }
    fn rhs(&self, b: &Matrix<T, R2, C2, S2>, g: T) -> OMatrix<T, R2, C2> {
        let (r, c) = b.shape_generic();
        OMatrix::from_fn_generic(r, c, |i, j| self[(j, i)] * g)
    }
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> TraceMulAdj<Matrix<T, R, C, S>> for T
where
    DefaultAllocator: Allocator<R, C>,
{
    fn lhs(&self, b: &Matrix<T, R, C, S>, g: T) -> T {
        g * diagonal_sum(b)
    }
    fn rhs(&self, b: &Matrix<T, R, C, S>, g: T) -> OMatrix<T, R, C> {
        let (r, c) = b.shape_generic();
        OMatrix::from_fn_generic(r, c, |i, j| if i == j { g * *self } else { T::zero() })
    }
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> TraceMulAdj<T> for Matrix<T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn lhs(&self, b: &T, g: T) -> OMatrix<T, R, C> {
        let (r, c) = self.shape_generic();
        OMatrix::from_fn_generic(r, c, |i, j| if i == j { g * *b } else { T::zero() })
    }
    fn rhs(&self, _b: &T, g: T) -> T {
        g * diagonal_sum(self)
    }
}

/// `s = (a * b).trace()`: the contribution to `ā`.
#[inline]
pub fn trace_mul_lhs<A: TraceMulAdj<B> + ?Sized, B: crate::value::Value<Scalar = A::Scalar>>(
    a: &A,
    b: &B,
    g: &A::Scalar,
) -> A::Adj {
    a.lhs(b, *g)
}

/// `s = (a * b).trace()`: the contribution to `b̄`.
#[inline]
pub fn trace_mul_rhs<A: TraceMulAdj<B> + ?Sized, B: crate::value::Value<Scalar = A::Scalar>>(
    a: &A,
    b: &B,
    g: &A::Scalar,
) -> B::Adj {
    a.rhs(b, *g)
}
