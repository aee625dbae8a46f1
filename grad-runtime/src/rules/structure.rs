//! Reductions along rows and columns, extrema, views and other structural ops.
//!
//! Extrema send all of `s̄` to one entry: the first (in nalgebra's column-major order) that
//! attains the extremum, so ties are broken deterministically. `sup`/`inf` send `Ḡ` to the left
//! operand at a tie.

use crate::value::{MatArg, Real, Value};
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, DimAdd, DimMin, DimMul, DimProd, DimSum, Dyn, Matrix, OMatrix, Storage, U1};

fn zeros_like<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(x: &Matrix<T, R, C, S>) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let (r, c) = x.shape_generic();
    OMatrix::zeros_generic(r, c)
}

fn count<T: Real>(n: usize) -> T {
    nalgebra::convert::<f64, T>(n as f64)
}

// r = row_sum(X) = 1ᵀ X   (1×n: the sum over the rows)
// X̄ += 1 r̄              (r̄ added to every row)
/// `r = x.row_sum()`: the contribution to `x̄`.
pub fn row_sum_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, g: &OMatrix<T, U1, C>) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<U1, C>,
{
    let (r, c) = x.shape_generic();
    OMatrix::from_fn_generic(r, c, |_, j| g[j])
}

// c = column_sum(X) = X 1   (m×1: the sum over the columns)
// X̄ += c̄ 1ᵀ               (c̄ added to every column)
/// `c = x.column_sum()`: the contribution to `x̄`.
pub fn column_sum_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, g: &OMatrix<T, R, U1>) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<R, U1>,
{
    let (r, c) = x.shape_generic();
    OMatrix::from_fn_generic(r, c, |i, _| g[i])
}

// s = mean(X) = ΣX / (m n)
// X̄ += s̄ 11ᵀ / (m n)
/// `s = x.mean()`: the contribution to `x̄`.
pub fn mean_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, g: &T) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    let (r, c) = x.shape_generic();
    OMatrix::from_element_generic(r, c, *g / count::<T>(x.len()))
}

// r = row_mean(X) = 1ᵀ X / m
// X̄ += 1 r̄ / m
/// `r = x.row_mean()`: the contribution to `x̄`.
pub fn row_mean_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, g: &OMatrix<T, U1, C>) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<U1, C>,
{
    row_sum_adj(x, g) / count::<T>(x.nrows())
}

// c = column_mean(X) = X 1 / n
// X̄ += c̄ 1ᵀ / n
/// `c = x.column_mean()`: the contribution to `x̄`.
pub fn column_mean_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, g: &OMatrix<T, R, U1>) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<R, U1>,
{
    column_sum_adj(x, g) / count::<T>(x.ncols())
}

/// `v s̄` at the first entry `k` where `pick(xₖ)` holds, zeros elsewhere.
fn at_first<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, pick: impl Fn(T) -> Option<T>) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = zeros_like(x);
    if let Some((k, v)) = x.iter().enumerate().find_map(|(k, &e)| pick(e).map(|v| (k, v))) {
        out[k] = v;
    }
    out
}

// s = max(X)
// X̄ₖ += s̄ at the first k with Xₖ = s
/// `s = x.max()`: the contribution to `x̄`.
pub fn max_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, s: &T, g: &T) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    at_first(x, |e| (e == *s).then_some(*g))
}

// s = min(X)
// X̄ₖ += s̄ at the first k with Xₖ = s
/// `s = x.min()`: the contribution to `x̄`.
pub fn min_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, s: &T, g: &T) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    max_adj(x, s, g)
}

// s = amax(X) = maxₖ |Xₖ|
// X̄ₖ += s̄ sign(Xₖ) at the first k with |Xₖ| = s   (0 at X = 0, as abs)
/// `s = x.amax()`: the contribution to `x̄`.
pub fn amax_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, s: &T, g: &T) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    let zero = nalgebra::zero::<T>();
    at_first(x, |e| {
        (e.abs() == *s).then_some(if e > zero {
            *g
        } else if e < zero {
            -*g
        } else {
            zero
        })
    })
}

/// `Ḡ` where `keep(a, b)` holds, 0 elsewhere.
fn masked<T: Real, R: Dim, C: Dim, SA, SB>(
    a: &Matrix<T, R, C, SA>,
    b: &Matrix<T, R, C, SB>,
    g: &OMatrix<T, R, C>,
    keep: impl Fn(T, T) -> bool,
) -> OMatrix<T, R, C>
where
    SA: Storage<T, R, C>,
    SB: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = g.clone();
    for ((o, &x), &y) in out.iter_mut().zip(a.iter()).zip(b.iter()) {
        if !keep(x, y) {
            *o = nalgebra::zero::<T>();
        }
    }
    out
}

// Z = sup(A, B) = elementwise max
// Ā += Ḡ ⊙ 1[A ≥ B]
// B̄ += Ḡ ⊙ 1[A < B]
/// `z = a.sup(&b)`: the contribution to `ā`.
pub fn sup_lhs<T: Real, R: Dim, C: Dim, SA, SB>(
    a: &Matrix<T, R, C, SA>,
    b: &Matrix<T, R, C, SB>,
    g: &OMatrix<T, R, C>,
) -> OMatrix<T, R, C>
where
    SA: Storage<T, R, C>,
    SB: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    masked(a, b, g, |x, y| x >= y)
}

/// `z = a.sup(&b)`: the contribution to `b̄`.
pub fn sup_rhs<T: Real, R: Dim, C: Dim, SA, SB>(
    a: &Matrix<T, R, C, SA>,
    b: &Matrix<T, R, C, SB>,
    g: &OMatrix<T, R, C>,
) -> OMatrix<T, R, C>
where
    SA: Storage<T, R, C>,
    SB: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    masked(a, b, g, |x, y| x < y)
}

// Z = inf(A, B) = elementwise min
// Ā += Ḡ ⊙ 1[A ≤ B]
// B̄ += Ḡ ⊙ 1[A > B]
/// `z = a.inf(&b)`: the contribution to `ā`.
pub fn inf_lhs<T: Real, R: Dim, C: Dim, SA, SB>(
    a: &Matrix<T, R, C, SA>,
    b: &Matrix<T, R, C, SB>,
    g: &OMatrix<T, R, C>,
) -> OMatrix<T, R, C>
where
    SA: Storage<T, R, C>,
    SB: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    masked(a, b, g, |x, y| x <= y)
}

/// `z = a.inf(&b)`: the contribution to `b̄`.
pub fn inf_rhs<T: Real, R: Dim, C: Dim, SA, SB>(
    a: &Matrix<T, R, C, SA>,
    b: &Matrix<T, R, C, SB>,
    g: &OMatrix<T, R, C>,
) -> OMatrix<T, R, C>
where
    SA: Storage<T, R, C>,
    SB: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    masked(a, b, g, |x, y| x > y)
}

/// Zeros of `x`'s shape with `Ḡ` added at `(i, j)`: a view's contribution.
fn into_view<T: Real, R: Dim, C: Dim, S, R2: Dim, C2: Dim, SG>(
    x: &Matrix<T, R, C, S>,
    at: (usize, usize),
    g: &Matrix<T, R2, C2, SG>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    SG: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = zeros_like(x);
    for j in 0..g.ncols() {
        for i in 0..g.nrows() {
            out[(at.0 + i, at.1 + j)] += g[(i, j)];
        }
    }
    out
}

// V = view of X at (i, j)     (row, column, rows, columns, view)
// X̄[view] += V̄
/// `v = x.row(i)`: the contribution to `x̄`.
pub fn row_adj<T: Real, R: Dim, C: Dim, S>(x: &Matrix<T, R, C, S>, i: &usize, g: &OMatrix<T, U1, C>) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<U1, C>,
{
    into_view(x, (*i, 0), g)
}

/// `v = x.column(j)`: the contribution to `x̄`.
pub fn column_adj<T: Real, R: Dim, C: Dim, S>(
    x: &Matrix<T, R, C, S>,
    j: &usize,
    g: &OMatrix<T, R, U1>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<R, U1>,
{
    into_view(x, (0, *j), g)
}

/// `v = x.rows(i, n)`: the contribution to `x̄`.
pub fn rows_adj<T: Real, R: Dim, C: Dim, S>(
    x: &Matrix<T, R, C, S>,
    i: &usize,
    _n: &usize,
    g: &OMatrix<T, Dyn, C>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<Dyn, C>,
{
    into_view(x, (*i, 0), g)
}

/// `v = x.columns(j, n)`: the contribution to `x̄`.
pub fn columns_adj<T: Real, R: Dim, C: Dim, S>(
    x: &Matrix<T, R, C, S>,
    j: &usize,
    _n: &usize,
    g: &OMatrix<T, R, Dyn>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<R, Dyn>,
{
    into_view(x, (0, *j), g)
}

/// `v = x.view((i, j), (r, c))`: the contribution to `x̄` (`Ḡ` is r×c, dynamic).
pub fn view_adj<T: Real, R: Dim, C: Dim, S, R2: Dim, C2: Dim, SG>(
    x: &Matrix<T, R, C, S>,
    start: &(usize, usize),
    _shape: &(usize, usize),
    g: &Matrix<T, R2, C2, SG>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    SG: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R, C>,
{
    into_view(x, *start, g)
}

// d = diag(X)       (X square)
// X̄ᵢᵢ += d̄ᵢ
/// `d = x.diagonal()`: the contribution to `x̄`.
pub fn diagonal_adj<T: Real, D: DimMin<D, Output = D>, S>(
    x: &Matrix<T, D, D, S>,
    g: &OMatrix<T, D, U1>,
) -> OMatrix<T, D, D>
where
    S: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    let mut out = zeros_like(x);
    out.set_diagonal(g);
    out
}

/// `Matrix::from_diagonal(&d)`: the forward pass (the square matrix with diagonal `d`).
pub fn from_diagonal<T: Real, D: Dim, S>(d: &Matrix<T, D, U1, S>) -> OMatrix<T, D, D>
where
    S: Storage<T, D, U1>,
    DefaultAllocator: Allocator<D, D>,
{
    OMatrix::from_diagonal(d)
}

// Y = diag(d)
// d̄ᵢ += Ȳᵢᵢ
/// `y = Matrix::from_diagonal(&d)`: the contribution to `d̄`.
pub fn from_diagonal_adj<T: Real, D: Dim, S>(_d: &Matrix<T, D, U1, S>, g: &OMatrix<T, D, D>) -> OMatrix<T, D, U1>
where
    S: Storage<T, D, U1>,
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    g.diagonal()
}

// C = A ⊗ B      (A m×n, B p×q; block (i, j) of C is Aᵢⱼ B)
// Āᵢⱼ += ⟨Ḡ₍ᵢⱼ₎, B⟩
// B̄ += Σᵢⱼ Aᵢⱼ Ḡ₍ᵢⱼ₎
/// `c = a.kronecker(&b)`: the contribution to `ā`.
pub fn kronecker_lhs<T: Real, R1, C1, SA, R2: Dim, C2: Dim, SB>(
    a: &Matrix<T, R1, C1, SA>,
    b: &Matrix<T, R2, C2, SB>,
    g: &OMatrix<T, DimProd<R1, R2>, DimProd<C1, C2>>,
) -> OMatrix<T, R1, C1>
where
    R1: DimMul<R2>,
    C1: DimMul<C2>,
    SA: Storage<T, R1, C1>,
    SB: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R1, C1> + Allocator<DimProd<R1, R2>, DimProd<C1, C2>>,
{
    let (p, q) = b.shape();
    let mut out = zeros_like(a);
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let mut s = nalgebra::zero::<T>();
            for l in 0..q {
                for k in 0..p {
                    s += g[(i * p + k, j * q + l)] * b[(k, l)];
                }
            }
            out[(i, j)] = s;
        }
    }
    out
}

/// `c = a.kronecker(&b)`: the contribution to `b̄`.
pub fn kronecker_rhs<T: Real, R1, C1, SA, R2: Dim, C2: Dim, SB>(
    a: &Matrix<T, R1, C1, SA>,
    b: &Matrix<T, R2, C2, SB>,
    g: &OMatrix<T, DimProd<R1, R2>, DimProd<C1, C2>>,
) -> OMatrix<T, R2, C2>
where
    R1: DimMul<R2>,
    C1: DimMul<C2>,
    SA: Storage<T, R1, C1>,
    SB: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R2, C2> + Allocator<DimProd<R1, R2>, DimProd<C1, C2>>,
{
    let (p, q) = b.shape();
    let mut out = zeros_like(b);
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let aij = a[(i, j)];
            for l in 0..q {
                for k in 0..p {
                    out[(k, l)] += aij * g[(i * p + k, j * q + l)];
                }
            }
        }
    }
    out
}

// C = Aᵏ
// Ā += Σⱼ₌₀ᵏ⁻¹ (Aᵀ)ʲ Ḡ (Aᵀ)ᵏ⁻¹⁻ʲ       (0 for k = 0)
/// `c = a.pow(k)`: the contribution to `ā`.
pub fn pow_adj<T: Real, D, S>(a: &Matrix<T, D, D, S>, k: &u32, g: &OMatrix<T, D, D>) -> OMatrix<T, D, D>
where
    D: DimMin<D, Output = D>,
    S: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    let at = a.transpose();
    let k = *k as usize;
    // powers[j] = (Aᵀ)ʲ, j < k
    let mut out = zeros_like(a);
    let mut left = zeros_like(a);
    left.fill_with_identity();
    for j in 0..k {
        let mut right = zeros_like(a);
        right.fill_with_identity();
        for _ in 0..(k - 1 - j) {
            right = &right * &at;
        }
        out += &left * g * right;
        left = &left * &at;
    }
    out
}

/// `v = x.fixed_view::<R2, C2>(i, j)`: the contribution to `x̄` (the view's shape is `Ḡ`'s).
pub fn fixed_view_adj<T: Real, R: Dim, C: Dim, S, R2: Dim, C2: Dim, SG>(
    x: &Matrix<T, R, C, S>,
    i: &usize,
    j: &usize,
    g: &Matrix<T, R2, C2, SG>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    SG: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R, C>,
{
    into_view(x, (*i, *j), g)
}

/// `v = x.fixed_rows::<N>(i)`: the contribution to `x̄`.
pub fn fixed_rows_adj<T: Real, R: Dim, C: Dim, S, R2: Dim, SG>(
    x: &Matrix<T, R, C, S>,
    i: &usize,
    g: &Matrix<T, R2, C, SG>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    SG: Storage<T, R2, C>,
    DefaultAllocator: Allocator<R, C>,
{
    into_view(x, (*i, 0), g)
}

/// `v = x.fixed_columns::<N>(j)`: the contribution to `x̄`.
pub fn fixed_columns_adj<T: Real, R: Dim, C: Dim, S, C2: Dim, SG>(
    x: &Matrix<T, R, C, S>,
    j: &usize,
    g: &Matrix<T, R, C2, SG>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    SG: Storage<T, R, C2>,
    DefaultAllocator: Allocator<R, C>,
{
    into_view(x, (0, *j), g)
}

/// A list of indices, as `select_rows`/`select_columns` take it (`&[usize]`, `&Vec<usize>`,
/// `&[usize; N]`).
#[diagnostic::on_unimplemented(
    message = "matgrad differentiates `select_rows`/`select_columns` with a slice, array or `Vec` of `usize`, not `{Self}`",
    note = "pass the indices as `&idx` with `idx: Vec<usize>`, `[usize; N]` or `&[usize]`"
)]
pub trait Indices {
    /// The indices.
    fn indices(&self) -> &[usize];
}

impl Indices for [usize] {
    #[inline]
    fn indices(&self) -> &[usize] {
        self
    }
}

impl<const N: usize> Indices for [usize; N] {
    #[inline]
    fn indices(&self) -> &[usize] {
        self
    }
}

#[cfg(feature = "alloc")]
impl Indices for alloc::vec::Vec<usize> {
    #[inline]
    fn indices(&self) -> &[usize] {
        self
    }
}

impl<I: Indices + ?Sized> Indices for &I {
    fn indices(&self) -> &[usize] {
        (**self).indices()
    }
}

// Y = X[idx, :]   (row k of Y is row idxₖ of X)
// X̄[idxₖ, :] += Ȳ[k, :]      (repeated indices accumulate)
/// `y = x.select_rows(&idx)`: the contribution to `x̄`.
pub fn select_rows_adj<T: Real, R: Dim, C: Dim, S, I, R2: Dim, SG>(
    x: &Matrix<T, R, C, S>,
    idx: &I,
    g: &Matrix<T, R2, C, SG>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    SG: Storage<T, R2, C>,
    I: Indices + ?Sized,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = zeros_like(x);
    for (k, &i) in idx.indices().iter().enumerate() {
        for j in 0..x.ncols() {
            out[(i, j)] += g[(k, j)];
        }
    }
    out
}

// Y = X[:, idx]
// X̄[:, idxₖ] += Ȳ[:, k]      (repeated indices accumulate)
/// `y = x.select_columns(&idx)`: the contribution to `x̄`.
pub fn select_columns_adj<T: Real, R: Dim, C: Dim, S, I, C2: Dim, SG>(
    x: &Matrix<T, R, C, S>,
    idx: &I,
    g: &Matrix<T, R, C2, SG>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    SG: Storage<T, R, C2>,
    I: Indices + ?Sized,
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = zeros_like(x);
    for (k, &j) in idx.indices().iter().enumerate() {
        for i in 0..x.nrows() {
            out[(i, j)] += g[(i, k)];
        }
    }
    out
}

// Y = reshape(X)   (column-major: the entries in the same order)
// X̄ += reshape(Ȳ) back to X's shape
/// `y = x.reshape_generic(r, c)`: the contribution to `x̄`.
pub fn reshape_generic_adj<T: Real, R: Dim, C: Dim, S, A, B, R2: Dim, C2: Dim>(
    x: &Matrix<T, R, C, S>,
    _r: &A,
    _c: &B,
    g: &OMatrix<T, R2, C2>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<R2, C2>,
    nalgebra::Owned<T, R2, C2>:
        nalgebra::base::storage::ReshapableStorage<T, R2, C2, R, C, Output = nalgebra::Owned<T, R, C>>,
{
    let (r, c) = x.shape_generic();
    g.clone().reshape_generic(r, c)
}

/// `[A B]`: the columns of `b` after those of `a` (what `stack![a, b]` builds). Panics, as
/// `stack!` does, when the heights differ.
pub fn hstack<T: Real, R: Dim, C1, C2: Dim, SA, SB>(
    a: &Matrix<T, R, C1, SA>,
    b: &Matrix<T, R, C2, SB>,
) -> OMatrix<T, R, DimSum<C1, C2>>
where
    C1: DimAdd<C2>,
    SA: Storage<T, R, C1>,
    SB: Storage<T, R, C2>,
    DefaultAllocator: Allocator<R, DimSum<C1, C2>>,
{
    assert_eq!(a.nrows(), b.nrows(), "stack!: the blocks of a block row must have the same height");
    let ((r, c1), c2) = (a.shape_generic(), b.shape_generic().1);
    let n1 = c1.value();
    OMatrix::from_fn_generic(r, c1.add(c2), |i, j| if j < n1 { a[(i, j)] } else { b[(i, j - n1)] })
}

/// `[A; B]`: the rows of `b` below those of `a` (what `stack![a; b]` builds). Panics, as
/// `stack!` does, when the widths differ.
pub fn vstack<T: Real, R1, R2: Dim, C: Dim, SA, SB>(
    a: &Matrix<T, R1, C, SA>,
    b: &Matrix<T, R2, C, SB>,
) -> OMatrix<T, DimSum<R1, R2>, C>
where
    R1: DimAdd<R2>,
    SA: Storage<T, R1, C>,
    SB: Storage<T, R2, C>,
    DefaultAllocator: Allocator<DimSum<R1, R2>, C>,
{
    assert_eq!(a.ncols(), b.ncols(), "stack!: the blocks of a block column must have the same width");
    let ((r1, c), r2) = (a.shape_generic(), b.shape_generic().0);
    let n1 = r1.value();
    OMatrix::from_fn_generic(r1.add(r2), c, |i, j| if i < n1 { a[(i, j)] } else { b[(i - n1, j)] })
}

/// `Ḡ[at.0.., at.1..]` with the shape of `like`: a block's share of a concatenation's adjoint.
fn block_of<T: Real, R: Dim, C: Dim, S, R2: Dim, C2: Dim, SG>(
    like: &Matrix<T, R, C, S>,
    at: (usize, usize),
    g: &Matrix<T, R2, C2, SG>,
) -> OMatrix<T, R, C>
where
    S: Storage<T, R, C>,
    SG: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R, C>,
{
    let (r, c) = like.shape_generic();
    OMatrix::from_fn_generic(r, c, |i, j| g[(at.0 + i, at.1 + j)])
}

// Y = [A B]
// Ā += Ḡ[:, ..nₐ]
// B̄ += Ḡ[:, nₐ..]
/// `y = hstack(&a, &b)` (a block row of `stack!`): the contribution to `ā`.
pub fn hstack_lhs<T: Real, R: Dim, C1: Dim, C2: Dim, SA, SB, SG, CG: Dim>(
    a: &Matrix<T, R, C1, SA>,
    _b: &Matrix<T, R, C2, SB>,
    g: &Matrix<T, R, CG, SG>,
) -> OMatrix<T, R, C1>
where
    SA: Storage<T, R, C1>,
    SG: Storage<T, R, CG>,
    DefaultAllocator: Allocator<R, C1>,
{
    block_of(a, (0, 0), g)
}

/// `y = hstack(&a, &b)`: the contribution to `b̄`.
pub fn hstack_rhs<T: Real, R: Dim, C1: Dim, C2: Dim, SA, SB, SG, CG: Dim>(
    a: &Matrix<T, R, C1, SA>,
    b: &Matrix<T, R, C2, SB>,
    g: &Matrix<T, R, CG, SG>,
) -> OMatrix<T, R, C2>
where
    SA: Storage<T, R, C1>,
    SB: Storage<T, R, C2>,
    SG: Storage<T, R, CG>,
    DefaultAllocator: Allocator<R, C2>,
{
    block_of(b, (0, a.ncols()), g)
}

// Y = [A; B]
// Ā += Ḡ[..mₐ, :]
// B̄ += Ḡ[mₐ.., :]
/// `y = vstack(&a, &b)` (block rows of `stack!`): the contribution to `ā`.
pub fn vstack_lhs<T: Real, R1: Dim, R2: Dim, C: Dim, SA, SB, SG, RG: Dim>(
    a: &Matrix<T, R1, C, SA>,
    _b: &Matrix<T, R2, C, SB>,
    g: &Matrix<T, RG, C, SG>,
) -> OMatrix<T, R1, C>
where
    SA: Storage<T, R1, C>,
    SG: Storage<T, RG, C>,
    DefaultAllocator: Allocator<R1, C>,
{
    block_of(a, (0, 0), g)
}

/// `y = vstack(&a, &b)`: the contribution to `b̄`.
pub fn vstack_rhs<T: Real, R1: Dim, R2: Dim, C: Dim, SA, SB, SG, RG: Dim>(
    a: &Matrix<T, R1, C, SA>,
    b: &Matrix<T, R2, C, SB>,
    g: &Matrix<T, RG, C, SG>,
) -> OMatrix<T, R2, C>
where
    SA: Storage<T, R1, C>,
    SB: Storage<T, R2, C>,
    SG: Storage<T, RG, C>,
    DefaultAllocator: Allocator<R2, C>,
{
    block_of(b, (a.nrows(), 0), g)
}

// ----- tuples: the values of a function returning several, and their parts -----

/// The part `K` of a tuple, and its adjoint: a tuple's adjoint with zeros in the other parts.
pub trait TuplePart<const K: usize>: Value {
    /// The part's type.
    type Part: Value<Scalar = Self::Scalar>;
    /// A copy of the part.
    fn part(&self) -> Self::Part;
    /// Ḡ in part `K` of the tuple's adjoint, zeros elsewhere.
    fn part_adj(&self, g: &<Self::Part as Value>::Adj) -> Self::Adj;
}

macro_rules! tuple_parts {
    ($all:tt $($v:ident $k:tt),+) => {$( tuple_parts!(@one $all $v $k); )+};
    (@one [$($all:ident),+] $v:ident $k:tt) => {
        impl<S: Real, $($all: crate::Differentiable<Scalar = S> + Value<Scalar = S, Adj = $all>),+> TuplePart<$k>
            for ($($all,)+)
        {
            type Part = $v;
            fn part(&self) -> $v {
                self.$k.clone()
            }
            fn part_adj(&self, g: &$v::Adj) -> Self::Adj {
                let mut adj = self.zeros_adj();
                adj.$k = g.clone();
                adj
            }
        }
    };
}

tuple_parts!([A, B] A 0, B 1);
tuple_parts!([A, B, C] A 0, B 1, C 2);
tuple_parts!([A, B, C, D] A 0, B 1, C 2, D 3);

/// Part `K` of a tuple's adjoint.
pub trait AdjointPart<const K: usize> {
    /// The part's adjoint.
    type Part;
    /// A copy of it.
    fn adj_part(&self) -> Self::Part;
}

macro_rules! adjoint_parts {
    ($all:tt $($v:ident $k:tt),+) => {$( adjoint_parts!(@one $all $v $k); )+};
    (@one [$($all:ident),+] $v:ident $k:tt) => {
        impl<$($all: Clone),+> AdjointPart<$k> for ($($all,)+) {
            type Part = $v;
            fn adj_part(&self) -> $v {
                self.$k.clone()
            }
        }
    };
}

adjoint_parts!([A, B] A 0, B 1);
adjoint_parts!([A, B, C] A 0, B 1, C 2);
adjoint_parts!([A, B, C, D] A 0, B 1, C 2, D 3);

macro_rules! tuple_rules {
    ($($k:tt $part:ident $field:ident $field_adj:ident),+) => {$(
        /// Y = (A, B, …), the values a function returning several ends with:
        /// the adjoint of part K is Ḡ.K.
        #[inline]
        pub fn $part<G: AdjointPart<$k>>(g: &G) -> G::Part {
            g.adj_part()
        }

        /// y = t.K, a part of the tuple a called function returned (copied: the tuple is what
        /// its pullback reads).
        #[inline]
        pub fn $field<T: TuplePart<$k>>(t: &T) -> T::Part {
            t.part()
        }

        /// y = t.K
        /// t̄ += Ḡ in part K (zeros in the others)
        #[inline]
        pub fn $field_adj<T: TuplePart<$k>>(t: &T, g: &<T::Part as Value>::Adj) -> T::Adj {
            t.part_adj(g)
        }
    )+};
}

tuple_rules!(
    0 tuple_part0 tuple_field0 tuple_field0_adj,
    1 tuple_part1 tuple_field1 tuple_field1_adj,
    2 tuple_part2 tuple_field2 tuple_field2_adj,
    3 tuple_part3 tuple_field3 tuple_field3_adj
);

/// A zero block of `stack!` (`0`): the height of `a`, a block of its block row, and the width
/// of `b`, a block of its block column. A constant.
pub fn zero_block<A: MatArg, B: MatArg<T = A::T>>(a: A, b: B) -> OMatrix<A::T, A::R, B::C>
where
    DefaultAllocator: Allocator<A::R, B::C>,
{
    OMatrix::zeros_generic(a.mat().shape_generic().0, b.mat().shape_generic().1)
}
