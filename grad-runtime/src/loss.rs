//! Broadcasting and the usual loss pieces, as plain functions.
//!
//! They work anywhere, and `#[differentiate]` knows their adjoints when they are called by a
//! path that starts with `matgrad` (`matgrad::softmax_rows(&z)`). Rows are samples: a
//! softmax or log-sum-exp is taken over each row.

use nalgebra::allocator::Allocator;
use nalgebra::RealField;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage, U1};

/// `M + 1 b`: the row vector `b` (1×n) added to every row of `M` (m×n), a bias added to
/// every sample.
///
/// Adjoint: `M̄ += Ḡ`, `b̄ += row_sum(Ḡ)` (seed 001, "row broadcasted addition").
///
/// `m` may be borrowed (`&M`) or owned; an owned `m` is added to in its own buffer.
///
/// # Panics
/// If `b` has not one entry per column of `m`.
pub fn add_row_vector<M, SB>(m: M, b: &Matrix<M::T, U1, M::C, SB>) -> OMatrix<M::T, M::R, M::C>
where
    M: OwnedOrBorrowed,
    SB: Storage<M::T, U1, M::C>,
    DefaultAllocator: Allocator<M::R, M::C>,
{
    let mut out = m.into_mat();
    assert_eq!(out.ncols(), b.ncols(), "add_row_vector: the row has {} entries for {} columns", b.ncols(), out.ncols());
    // Column by column over the contiguous buffer (a column view's `add_scalar_mut` indexes
    // entry by entry); the same additions.
    let rows = out.nrows().max(1);
    for (col, &bj) in out.as_mut_slice().chunks_exact_mut(rows).zip(b.iter()) {
        col.iter_mut().for_each(|v| *v += bj);
    }
    out
}

/// A matrix passed by reference (copied) or by value (its buffer reused).
pub trait OwnedOrBorrowed {
    /// The scalar type.
    type T: RealField + Copy;
    /// The number of rows.
    type R: Dim;
    /// The number of columns.
    type C: Dim;
    /// The matrix, owned.
    fn into_mat(self) -> OMatrix<Self::T, Self::R, Self::C>
    where
        DefaultAllocator: Allocator<Self::R, Self::C>;
}

impl<T: RealField + Copy, R: Dim, C: Dim> OwnedOrBorrowed for OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    type T = T;
    type R = R;
    type C = C;
    fn into_mat(self) -> OMatrix<T, R, C> {
        self
    }
}

impl<T: RealField + Copy, R: Dim, C: Dim, S: Storage<T, R, C>> OwnedOrBorrowed for &Matrix<T, R, C, S> {
    type T = T;
    type R = R;
    type C = C;
    fn into_mat(self) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        self.clone_owned()
    }
}

/// `M + c 1ᵀ`: the column vector `c` (m×1) added to every column of `M` (m×n).
///
/// Adjoint: `M̄ += Ḡ`, `c̄ += column_sum(Ḡ)` (seed 001, "column broadcasted addition").
///
/// `m` may be borrowed (`&M`) or owned; an owned `m` is added to in its own buffer.
///
/// # Panics
/// If `c` has not one entry per row of `m`.
pub fn add_column_vector<M, SC>(m: M, c: &Matrix<M::T, M::R, U1, SC>) -> OMatrix<M::T, M::R, M::C>
where
    M: OwnedOrBorrowed,
    SC: Storage<M::T, M::R, U1>,
    DefaultAllocator: Allocator<M::R, M::C>,
{
    let mut out = m.into_mat();
    assert_eq!(
        out.nrows(),
        c.nrows(),
        "add_column_vector: the column has {} entries for {} rows",
        c.nrows(),
        out.nrows()
    );
    // Column by column over the contiguous buffer; the same additions.
    let rows = out.nrows().max(1);
    for col in out.as_mut_slice().chunks_exact_mut(rows) {
        col.iter_mut().zip(c.iter()).for_each(|(v, &ci)| *v += ci);
    }
    out
}

/// Row-wise softmax: `Yᵢⱼ = exp(Zᵢⱼ − lseᵢ)`, each row a probability vector (computed with
/// the row maximum subtracted, so it never overflows).
pub fn softmax_rows<T: RealField + Copy, R: Dim, C: Dim, S: Storage<T, R, C>>(
    z: &Matrix<T, R, C, S>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C> + Allocator<R, U1>,
{
    let lse = logsumexp_rows(z);
    let mut y = z.clone_owned();
    for (i, mut row) in y.row_iter_mut().enumerate() {
        row.apply(|v| *v = (*v - lse[i]).exp());
    }
    y
}

/// Row-wise log-sum-exp: `lseᵢ = ln Σⱼ exp(Zᵢⱼ)` (m×1), numerically stable
/// (`max + ln Σ exp(Z − max)`). A row of `−∞` gives `−∞`.
pub fn logsumexp_rows<T: RealField + Copy, R: Dim, C: Dim, S: Storage<T, R, C>>(
    z: &Matrix<T, R, C, S>,
) -> OMatrix<T, R, U1>
where
    DefaultAllocator: Allocator<R, U1>,
{
    let (r, _) = z.shape_generic();
    OMatrix::from_fn_generic(r, U1, |i, _| {
        let row = z.row(i);
        let m = row.iter().copied().fold(T::min_value().unwrap_or(-T::one() / T::zero()), |a, b| a.max(b));
        if !m.is_finite() {
            return m;
        }
        m + row.iter().fold(T::zero(), |s, &v| s + (v - m).exp()).ln()
    })
}

/// Mean cross-entropy of logits `Z` (m×n) against targets `Y` (m×n, each row a probability
/// vector, usually one-hot): `−(1/m) Σᵢⱼ Yᵢⱼ ln softmax(Z)ᵢⱼ = (1/m) Σᵢ (lseᵢ Σⱼ Yᵢⱼ − ⟨Yᵢ, Zᵢ⟩)`.
pub fn cross_entropy<T: RealField + Copy, R: Dim, C: Dim, SZ, SY>(z: &Matrix<T, R, C, SZ>, y: &Matrix<T, R, C, SY>) -> T
where
    SZ: Storage<T, R, C>,
    SY: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, U1>,
{
    let lse = logsumexp_rows(z);
    let mut s = T::zero();
    for i in 0..z.nrows() {
        for j in 0..z.ncols() {
            s += y[(i, j)] * (lse[i] - z[(i, j)]);
        }
    }
    s / nalgebra::convert::<f64, T>(z.nrows() as f64)
}

/// The quadratic form `Bᵀ A B` (A n×n, B n×k). nalgebra's own `quadform` updates a matrix in
/// place; this is the value, for `#[differentiate]` bodies.
///
/// Adjoint: `Ā += B C̄ Bᵀ`, `B̄ += A B C̄ᵀ + Aᵀ B C̄`.
pub fn quadform<T: RealField + Copy, N: Dim, K: Dim, SA, SB>(
    a: &Matrix<T, N, N, SA>,
    b: &Matrix<T, N, K, SB>,
) -> OMatrix<T, K, K>
where
    SA: Storage<T, N, N>,
    SB: Storage<T, N, K>,
    DefaultAllocator: Allocator<K, K> + Allocator<N, K> + Allocator<K, N>,
{
    b.transpose() * (a * b)
}
