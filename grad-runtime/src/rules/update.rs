//! In-place updates (`m[(i, j)] = e`, `m.set_column(j, &v)`, `m.fill(s)`, …) and constructors
//! from differentiated entries, each as a new value computed from the old one.
//!
//! Generated code writes `m[(i, j)] = e;` as `m = set_entry(m, e, (i, j));`: the old matrix is
//! moved in (its buffer reused) and the reverse pass gives its overwritten part a zero adjoint.
//! A constructor reading differentiated entries (`Matrix2::new(c, -s, s, c)`) is the constructor
//! of the values followed by one `set_entry` per differentiated entry. The adjoints are computed
//! from `Ḡ` and the indices alone, so the reverse pass keeps no forward value for them.

use crate::contrib::Contrib;
use crate::value::{MatArg, Real, ScalarIn};
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage, U1};

/// Where `set_entry` writes: `(row, column)`, a column-major linear index (`v[i]`,
/// `from_column_slice`, `from_vec`) or a row-major one ([`RowMajor`], for `new` and
/// `from_row_slice`).
pub trait Place: Copy {
    /// The column-major linear index in a `nrows × ncols` matrix; panics out of bounds, as
    /// nalgebra's indexing does.
    fn at(self, nrows: usize, ncols: usize) -> usize;
}

impl Place for usize {
    #[inline]
    fn at(self, nrows: usize, ncols: usize) -> usize {
        assert!(self < nrows * ncols, "Matrix index out of bounds.");
        self
    }
}

impl Place for (usize, usize) {
    #[inline]
    fn at(self, nrows: usize, ncols: usize) -> usize {
        assert!(self.0 < nrows && self.1 < ncols, "Matrix index out of bounds.");
        self.0 + self.1 * nrows
    }
}

impl<P: Place> Place for &P {
    #[inline]
    fn at(self, nrows: usize, ncols: usize) -> usize {
        (*self).at(nrows, ncols)
    }
}

/// The `k`-th entry in row-major order (the order of `Matrix2x3::new(a, b, c, d, e, f)`).
#[derive(Clone, Copy, Debug)]
pub struct RowMajor(pub usize);

impl Place for RowMajor {
    #[inline]
    fn at(self, nrows: usize, ncols: usize) -> usize {
        assert!(self.0 < nrows * ncols, "Matrix index out of bounds.");
        let (i, j) = (self.0 / ncols, self.0 % ncols);
        i + j * nrows
    }
}

/// `vec![a, b, …]` of a constructor's entries (`DMatrix::from_vec(r, c, vec![…])`).
#[cfg(feature = "alloc")]
#[inline]
pub fn into_vec<T, const N: usize>(a: [T; N]) -> alloc::vec::Vec<T> {
    a.into()
}

/// A scalar as a value, by value or by reference (`Matrix2::new(*s, …)` for a `&f64` `s`).
#[inline(always)]
pub fn scalar_in<T: Real>(s: impl ScalarIn<T>) -> T {
    s.get()
}

// Y = M with Yₖ = e          (k an entry)
// M̄ += Ȳ with entry k zeroed
// ē += Ȳₖ
/// `m[k] = e` as a new value.
#[inline]
pub fn set_entry<A: MatArg>(m: A, e: impl ScalarIn<A::T>, k: impl Place) -> OMatrix<A::T, A::R, A::C>
where
    DefaultAllocator: Allocator<A::R, A::C>,
{
    let mut m = m.into_mat();
    let at = k.at(m.nrows(), m.ncols());
    m[at] = e.get();
    m
}

/// `y = set_entry(m, e, k)`: the contribution to `m̄`, `Ḡ` with entry k zeroed.
#[inline]
pub fn set_entry_base<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(
    k: &impl Place,
    g: &Matrix<T, R, C, S>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut d = g.clone_owned();
    d[k.at(g.nrows(), g.ncols())] = nalgebra::zero();
    d
}

/// `y = set_entry(m, e, k)`: the contribution to `ē`, `Ḡₖ`.
#[inline]
pub fn entry_of<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(k: &impl Place, g: &Matrix<T, R, C, S>) -> T {
    g[k.at(g.nrows(), g.ncols())]
}

// Y = M with column j replaced by v
// M̄ += Ȳ with column j zeroed
// v̄ += Ȳ[:, j]
/// `m.set_column(j, &v)` as a new value.
#[inline]
pub fn set_column<A: MatArg, R2: Dim, S2>(m: A, v: &Matrix<A::T, R2, U1, S2>, j: usize) -> OMatrix<A::T, A::R, A::C>
where
    S2: Storage<A::T, R2, U1>,
    DefaultAllocator: Allocator<A::R, A::C>,
{
    let mut m = m.into_mat();
    assert_eq!(m.nrows(), v.nrows(), "set_column: the column must have as many rows as the matrix");
    for i in 0..v.nrows() {
        m[(i, j)] = v[i];
    }
    m
}

/// `y = set_column(m, &v, j)`: the contribution to `m̄`.
#[inline]
pub fn set_column_base<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(
    j: &usize,
    g: &Matrix<T, R, C, S>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut d = g.clone_owned();
    d.column_mut(*j).fill(nalgebra::zero());
    d
}

/// `y = set_column(m, &v, j)`: the contribution to `v̄`, column j of `Ḡ`.
#[inline]
pub fn column_of<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(j: &usize, g: &Matrix<T, R, C, S>) -> OMatrix<T, R, U1>
where
    DefaultAllocator: Allocator<R, U1>,
{
    g.column(*j).into_owned()
}

// Y = M with row i replaced by v
// M̄ += Ȳ with row i zeroed
// v̄ += Ȳ[i, :]
/// `m.set_row(i, &v)` as a new value.
#[inline]
pub fn set_row<A: MatArg, C2: Dim, S2>(m: A, v: &Matrix<A::T, U1, C2, S2>, i: usize) -> OMatrix<A::T, A::R, A::C>
where
    S2: Storage<A::T, U1, C2>,
    DefaultAllocator: Allocator<A::R, A::C>,
{
    let mut m = m.into_mat();
    assert_eq!(m.ncols(), v.ncols(), "set_row: the row must have as many columns as the matrix");
    for j in 0..v.ncols() {
        m[(i, j)] = v[j];
    }
    m
}

/// `y = set_row(m, &v, i)`: the contribution to `m̄`.
#[inline]
pub fn set_row_base<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(i: &usize, g: &Matrix<T, R, C, S>) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut d = g.clone_owned();
    d.row_mut(*i).fill(nalgebra::zero());
    d
}

/// `y = set_row(m, &v, i)`: the contribution to `v̄`, row i of `Ḡ`.
#[inline]
pub fn row_of<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(i: &usize, g: &Matrix<T, R, C, S>) -> OMatrix<T, U1, C>
where
    DefaultAllocator: Allocator<U1, C>,
{
    g.row(*i).into_owned()
}

// Y = M with every entry s      (m.fill(s), Matrix::from_element(r, c, s))
// M̄ += 0
// s̄ += Σ Ȳ
/// `m.fill(s)` as a new value.
#[inline]
pub fn fill<A: MatArg>(m: A, s: impl ScalarIn<A::T>) -> OMatrix<A::T, A::R, A::C>
where
    DefaultAllocator: Allocator<A::R, A::C>,
{
    let mut m = m.into_mat();
    m.fill(s.get());
    m
}

/// Nothing: the contribution of an operand whose value the op overwrites entirely.
pub struct Zero<'a, T, R: Dim, C: Dim, S>(&'a Matrix<T, R, C, S>);

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> Contrib for Zero<'_, T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    fn init(self) -> OMatrix<T, R, C> {
        let (r, c) = self.0.shape_generic();
        OMatrix::zeros_generic(r, c)
    }
    fn add_to(self, _acc: &mut OMatrix<T, R, C>) {}
}

/// `y = fill(m, s)`: the contribution to `m̄`, zero.
#[inline]
pub fn overwritten<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(g: &Matrix<T, R, C, S>) -> Zero<'_, T, R, C, S> {
    Zero(g)
}

/// `y = fill(m, s)`: the contribution to `s̄`, `Σ Ḡ`.
#[inline]
pub fn sum_of<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(g: &Matrix<T, R, C, S>) -> T {
    g.sum()
}

// Y = M with Yᵢᵢ = s (i < min(rows, cols))
// M̄ += Ȳ with the diagonal zeroed
// s̄ += Σᵢ Ȳᵢᵢ
/// `m.fill_diagonal(s)` as a new value.
#[inline]
pub fn fill_diagonal<A: MatArg>(m: A, s: impl ScalarIn<A::T>) -> OMatrix<A::T, A::R, A::C>
where
    DefaultAllocator: Allocator<A::R, A::C>,
{
    let mut m = m.into_mat();
    m.fill_diagonal(s.get());
    m
}

/// `y = fill_diagonal(m, s)`: the contribution to `m̄`.
#[inline]
pub fn fill_diagonal_base<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(g: &Matrix<T, R, C, S>) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut d = g.clone_owned();
    d.fill_diagonal(nalgebra::zero());
    d
}

/// `y = fill_diagonal(m, s)`: the contribution to `s̄`, `Σᵢ Ḡᵢᵢ`.
#[inline]
pub fn diagonal_sum_of<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(g: &Matrix<T, R, C, S>) -> T {
    (0..g.nrows().min(g.ncols())).fold(nalgebra::zero(), |acc, i| acc + g[(i, i)])
}

// Y = M with rows i and j exchanged (a permutation P, P = Pᵀ = P⁻¹)
// M̄ += P Ȳ (Ȳ with rows i and j exchanged)
/// `m.swap_rows(i, j)` as a new value.
#[inline]
pub fn swap_rows<A: MatArg>(m: A, i: usize, j: usize) -> OMatrix<A::T, A::R, A::C>
where
    DefaultAllocator: Allocator<A::R, A::C>,
{
    let mut m = m.into_mat();
    m.swap_rows(i, j);
    m
}

/// `y = swap_rows(m, i, j)`: the contribution to `m̄`.
#[inline]
pub fn swap_rows_adj<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(
    i: &usize,
    j: &usize,
    g: &Matrix<T, R, C, S>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut d = g.clone_owned();
    d.swap_rows(*i, *j);
    d
}

// Y = M with columns i and j exchanged (M P)
// M̄ += Ȳ P
/// `m.swap_columns(i, j)` as a new value.
#[inline]
pub fn swap_columns<A: MatArg>(m: A, i: usize, j: usize) -> OMatrix<A::T, A::R, A::C>
where
    DefaultAllocator: Allocator<A::R, A::C>,
{
    let mut m = m.into_mat();
    m.swap_columns(i, j);
    m
}

/// `y = swap_columns(m, i, j)`: the contribution to `m̄`.
#[inline]
pub fn swap_columns_adj<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(
    i: &usize,
    j: &usize,
    g: &Matrix<T, R, C, S>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut d = g.clone_owned();
    d.swap_columns(*i, *j);
    d
}
