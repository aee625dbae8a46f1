//! Adjoints of the broadcasting and loss helpers in [`crate::loss`].

use crate::value::Real;
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage, U1};

pub use crate::lanes::{logsumexp_rows, softmax_rows};
pub use crate::loss::{add_column_vector, add_row_vector, cross_entropy, quadform};

// Y = M + 1 b   (b a row)
// M̄ += Ḡ,  b̄ += row_sum(Ḡ)
/// `y = add_row_vector(m, &b)`: the contribution to `b̄`, `row_sum(Ḡ)`, from `Ḡ` alone.
pub fn row_sum_of<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(g: &Matrix<T, R, C, S>) -> OMatrix<T, U1, C>
where
    DefaultAllocator: Allocator<U1, C>,
{
    OMatrix::from_fn_generic(U1, g.shape_generic().1, |_, j| column_total(g, j))
}

/// The sum of column `j` of `g`, in eight partial sums: independent, so they pipeline and
/// vectorise, where one running sum waits on each addition (nalgebra's `row_sum`: 4 cycles an
/// entry). The partial sums also round less than one running sum.
#[inline]
fn column_total<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(g: &Matrix<T, R, C, S>, j: usize) -> T {
    const K: usize = 8;
    let col = g.column(j);
    let n = col.nrows();
    let full = n - n % K;
    let mut acc = [T::zero(); K];
    for i in (0..full).step_by(K) {
        for (k, a) in acc.iter_mut().enumerate() {
            *a += col[i + k];
        }
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    let mut total = ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7));
    for i in full..n {
        total += col[i];
    }
    total
}

// Y = M + c 1ᵀ   (c a column)
// M̄ += Ḡ,  c̄ += column_sum(Ḡ)
/// `y = add_column_vector(m, &c)`: the contribution to `c̄`, `column_sum(Ḡ)`, from `Ḡ` alone.
pub fn column_sum_of<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(g: &Matrix<T, R, C, S>) -> OMatrix<T, R, U1>
where
    DefaultAllocator: Allocator<R, U1>,
{
    g.column_sum()
}

// Y = softmax_rows(Z)
// Z̄ += Y ⊙ (Ḡ − rowsum(Ḡ ⊙ Y) 1ᵀ)      (rowsum(·)ᵢ = Σⱼ (·)ᵢⱼ)
/// `y = softmax_rows(&z)`: the contribution to `z̄`.
pub fn softmax_rows_adj<T: Real, R: Dim, C: Dim, S>(
    _z: &Matrix<T, R, C, S>,
    y: &OMatrix<T, R, C>,
    g: &OMatrix<T, R, C>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut out = g.component_mul(y);
    for (i, mut row) in out.row_iter_mut().enumerate() {
        let s = row.sum();
        for (j, v) in row.iter_mut().enumerate() {
            *v -= s * y[(i, j)];
        }
    }
    out
}

// l = logsumexp_rows(Z)   (m×1)
// Z̄ᵢ += l̄ᵢ softmax(Zᵢ) = l̄ᵢ exp(Zᵢ − lᵢ)
/// `l = logsumexp_rows(&z)`: the contribution to `z̄`.
pub fn logsumexp_rows_adj<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(
    z: &Matrix<T, R, C, S>,
    l: &OMatrix<T, R, U1>,
    g: &OMatrix<T, R, U1>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C> + Allocator<R, U1>,
{
    let (r, c) = z.shape_generic();
    OMatrix::from_fn_generic(r, c, |i, j| if l[i].is_finite() { g[i] * (z[(i, j)] - l[i]).exp() } else { T::zero() })
}

// s = (1/m) Σᵢ (lseᵢ Σⱼ Yᵢⱼ − ⟨Yᵢ, Zᵢ⟩)
// Z̄ += (s̄/m) (softmax(Z) ⊙ (rowsum(Y) 1ᵀ) − Y)
// Ȳ += −(s̄/m) ln softmax(Z) = (s̄/m) (lse 1ᵀ − Z)
/// `s = cross_entropy(&z, &y)`: the contribution to `z̄`.
pub fn cross_entropy_lhs<T: Real, R: Dim, C: Dim, SZ, SY>(
    z: &Matrix<T, R, C, SZ>,
    y: &Matrix<T, R, C, SY>,
    g: &T,
) -> OMatrix<T, R, C>
where
    SZ: Storage<T, R, C>,
    SY: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<R, U1>,
{
    let k = *g / nalgebra::convert::<f64, T>(z.nrows() as f64);
    let mut p = softmax_rows(z);
    for (i, mut row) in p.row_iter_mut().enumerate() {
        let t = y.row(i).sum();
        for (j, v) in row.iter_mut().enumerate() {
            *v = k * (*v * t - y[(i, j)]);
        }
    }
    p
}

/// `s = cross_entropy(&z, &y)`: the contribution to `ȳ`.
pub fn cross_entropy_rhs<T: Real, R: Dim, C: Dim, SZ, SY>(
    z: &Matrix<T, R, C, SZ>,
    _y: &Matrix<T, R, C, SY>,
    g: &T,
) -> OMatrix<T, R, C>
where
    SZ: Storage<T, R, C>,
    SY: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<R, U1>,
{
    let k = *g / nalgebra::convert::<f64, T>(z.nrows() as f64);
    let lse = logsumexp_rows(z);
    let (r, c) = z.shape_generic();
    OMatrix::from_fn_generic(r, c, |i, j| k * (lse[i] - z[(i, j)]))
}

// C = Bᵀ A B
// Ā += B C̄ Bᵀ
// B̄ += A B C̄ᵀ + Aᵀ B C̄
/// `c = quadform(&a, &b)`: the contribution to `ā`.
pub fn quadform_lhs<T: Real, N: Dim, K: Dim, SA, SB>(
    _a: &Matrix<T, N, N, SA>,
    b: &Matrix<T, N, K, SB>,
    g: &OMatrix<T, K, K>,
) -> OMatrix<T, N, N>
where
    SA: Storage<T, N, N>,
    SB: Storage<T, N, K>,
    DefaultAllocator: Allocator<N, N> + Allocator<K, K> + Allocator<N, K> + Allocator<K, N>,
{
    b * g * b.transpose()
}

/// `c = quadform(&a, &b)`: the contribution to `b̄`.
pub fn quadform_rhs<T: Real, N: Dim, K: Dim, SA, SB>(
    a: &Matrix<T, N, N, SA>,
    b: &Matrix<T, N, K, SB>,
    g: &OMatrix<T, K, K>,
) -> OMatrix<T, N, K>
where
    SA: Storage<T, N, N>,
    SB: Storage<T, N, K>,
    DefaultAllocator: Allocator<N, N> + Allocator<K, K> + Allocator<N, K> + Allocator<K, N>,
{
    let ab = a * b;
    let atb = a.tr_mul(b);
    ab * g.transpose() + atb * g
}
