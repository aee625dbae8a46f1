//! Linear algebra: inverse, solves, determinants, factorizations and spectra.
//!
//! Singular points: `det` has the cofactor matrix as its gradient at a singular matrix; an
//! inverse, a solve or a Cholesky factorization of a singular (or indefinite) matrix fails in
//! the forward pass, which panics in `unwrap`/`expect` exactly where the function does; repeated
//! eigenvalues and singular values are described at their rules.
//!
//! A factorization (`Cholesky`, `LU`) stands for the matrix it factors: its adjoint is that
//! matrix's adjoint (see [`Value`](crate::Value)), so a rule on a factorization contributes to
//! the factored matrix. Cholesky rules treat `S` as symmetric and return the symmetric gradient
//! `sym(·)`, `sym(M) = (M + Mᵀ)/2` (nalgebra reads only the lower triangle of `S`; the
//! symmetric gradient is the one that keeps a gradient step on a symmetric `S` symmetric).
//! Sources: M. Giles (2008) §2.2–2.3; I. Murray, "Differentiation of the Cholesky
//! decomposition" (2016); The Matrix Cookbook §2.

use crate::contrib::Neg;
use crate::rules::lazy::ScaledValue;
use crate::rules::matmul::{fast_kernel, transposed};
use crate::value::{Real, Value};
use nalgebra::allocator::Allocator;
use nalgebra::storage::IsContiguous;
use nalgebra::{
    Cholesky, DefaultAllocator, Dim, DimDiff, DimMin, DimMinimum, DimSub, Matrix, MatrixView, OMatrix, Storage, LU, U1,
};

/// `a (M + Mᵀ)/2`, in place.
fn symmetrize_scaled<T: Real, D: Dim>(m: &mut OMatrix<T, D, D>, a: T)
where
    DefaultAllocator: Allocator<D, D>,
{
    let half = a * nalgebra::convert::<f64, T>(0.5);
    let n = m.nrows();
    let s = m.as_mut_slice();
    for j in 0..n {
        for i in j..n {
            let v = (s[i + j * n] + s[j + i * n]) * half;
            s[i + j * n] = v;
            s[j + i * n] = v;
        }
    }
}

/// `(M + Mᵀ)/2`, in place.
fn symmetrize<T: Real, D: Dim>(m: &mut OMatrix<T, D, D>)
where
    DefaultAllocator: Allocator<D, D>,
{
    let half = nalgebra::convert::<f64, T>(0.5);
    let n = m.nrows();
    for j in 0..n {
        for i in j..n {
            let s = (m[(i, j)] + m[(j, i)]) * half;
            m[(i, j)] = s;
            m[(j, i)] = s;
        }
    }
}

// C = A⁻¹
// Ā -= Cᵀ Ḡ Cᵀ
// (A singular has no inverse: the forward pass's `unwrap`/`expect` panics, as the function does)
/// `c = a.try_inverse().unwrap()`, `a` a matrix or its `lu()`: the contribution to `ā`.
pub fn try_inverse_adj<T: Real, D: Dim, V: Value<Adj = OMatrix<T, D, D>>>(
    _a: &V,
    c: &OMatrix<T, D, D>,
    g: &OMatrix<T, D, D>,
) -> Neg<OMatrix<T, D, D>>
where
    DefaultAllocator: Allocator<D, D>,
{
    let ct = c.transpose();
    Neg(&ct * g * &ct)
}

/// The cofactor matrix `cof(A)`, `cof(A)ᵢⱼ = det(A with row i replaced by eⱼᵀ)`; equal to
/// `det(A) A⁻ᵀ` where `A` is invertible, and defined (and continuous) where it is not.
pub(crate) fn cofactors<T: Real, D: DimMin<D, Output = D>, S: Storage<T, D, D>>(
    a: &Matrix<T, D, D, S>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    let mut out = a.clone_owned();
    let mut work = a.clone_owned();
    let n = a.nrows();
    for i in 0..n {
        for j in 0..n {
            work.copy_from(a);
            work.row_mut(i).fill(nalgebra::zero::<T>());
            work[(i, j)] = nalgebra::one::<T>();
            out[(i, j)] = work.determinant();
        }
    }
    out
}

/// The reverse rule of `determinant()`, on a matrix or a Cholesky factorization.
#[diagnostic::on_unimplemented(
    message = "matgrad has no `determinant` rule for `{Self}`",
    note = "`determinant()` is differentiated on square matrices and on `cholesky()` and `lu()` factorizations"
)]
pub trait DetRule: Value {
    /// `Ā += d̄ ∂det(A)/∂A` given `d = det A`.
    fn det_adj(&self, d: Self::Scalar, g: Self::Scalar) -> Self::Adj;
}

// d = det A
// Ā += d̄ d A⁻ᵀ        (the cofactor matrix d̄ cof(A) where A is singular)
impl<T: Real, D: DimMin<D, Output = D>, S: Storage<T, D, D>> DetRule for Matrix<T, D, D, S>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    fn det_adj(&self, d: T, g: T) -> OMatrix<T, D, D> {
        if d != nalgebra::zero::<T>() {
            if let Some(inv) = self.clone_owned().try_inverse() {
                return inv.transpose() * (g * d);
            }
        }
        cofactors(self) * g
    }
}

// d = det S = Πᵢ Lᵢᵢ²     (S = L Lᵀ symmetric positive definite)
// S̄ += d̄ d S⁻¹
impl<T: Real, D: Dim> DetRule for Cholesky<T, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    fn det_adj(&self, d: T, g: T) -> OMatrix<T, D, D> {
        self.inverse() * (g * d)
    }
}

// d = det A     (lu = A.lu())
// Ā += d̄ d A⁻ᵀ   (the cofactor matrix d̄ cof(A) where A is singular)
impl<T: Real, D: DimMin<D, Output = D>> DetRule for LU<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    fn det_adj(&self, d: T, g: T) -> OMatrix<T, D, D> {
        if d != nalgebra::zero::<T>() {
            if let Some(inv) = self.try_inverse() {
                return inv.transpose() * (g * d);
            }
        }
        let mut a = self.l() * self.u();
        self.p().inv_permute_rows(&mut a);
        cofactors(&a) * g
    }
}

/// `d = x.determinant()`: the contribution to `x̄`.
pub fn determinant_adj<V: DetRule>(x: &V, d: &V::Scalar, g: &V::Scalar) -> V::Adj {
    x.det_adj(*d, *g)
}

// s = ln det S    (chol = S.cholesky())
// S̄ += s̄ S⁻¹      (S⁻¹ the function's own `chol.inverse()`, or the one shared by every rule
//                  that reads it: see `factor_inverse`)
/// `s = chol.ln_determinant()`: the contribution to `S̄`, given `S⁻¹`.
pub fn ln_determinant_adj<'a, T: Real, D: Dim, S: Storage<T, D, D>>(
    _chol: &Cholesky<T, D>,
    inv: &'a Matrix<T, D, D, S>,
    g: &T,
) -> ScaledValue<'a, T, D, D, S>
where
    DefaultAllocator: Allocator<D, D>,
{
    ScaledValue { a: *g, v: inv }
}

/// The inverse of the matrix a factorization stands for, computed once in the reverse pass for
/// every rule whose adjoint reads it (`ln_determinant`, `solve` read by a trace) when the
/// function does not compute it itself.
pub trait FactorInverse<T: Real, D: Dim>: SolveRule<T, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    /// `A⁻¹`.
    fn factor_inverse(&self) -> OMatrix<T, D, D>;
}

// S⁻¹ = L⁻ᵀ L⁻¹   (S = L Lᵀ): W = L⁻¹ by forward substitution down each column of the identity
// from its diagonal (W is lower triangular), then Wᵀ W: on the product kernel where there is one,
// else its lower triangle mirrored (n³/3 multiply-adds in all, where a solve against the
// identity takes n³; LAPACK's potri does the same).
/// `W = L⁻¹` into `w` (zeros, n×n column-major; `l` lower triangular, column-major): forward
/// substitution down each column of the identity from its diagonal, two columns and two pivots
/// at a time, so that each pass over the rows below the pivots does four multiply-adds.
fn lower_inverse<T: Real>(l: &[T], w: &mut [T], n: usize) {
    let one = nalgebra::one::<T>();
    let col = |k: usize| &l[k * n..(k + 1) * n];
    let mut j = 0;
    while j + 1 < n {
        let (left, right) = w.split_at_mut((j + 1) * n);
        let (a, b) = (&mut left[j * n..], &mut right[..n]);
        // Pivot j: column j + 1 is zero there.
        let lj = col(j);
        let wa = one / lj[j];
        a[j] = wa;
        for (x, &p) in a[j + 1..].iter_mut().zip(&lj[j + 1..]) {
            *x -= p * wa;
        }
        b[j + 1] = one;
        let mut k = j + 1;
        while k + 1 < n {
            let (l0, l1) = (col(k), col(k + 1));
            let (a0, b0) = (a[k] / l0[k], b[k] / l0[k]);
            let (a1, b1) = ((a[k + 1] - l0[k + 1] * a0) / l1[k + 1], (b[k + 1] - l0[k + 1] * b0) / l1[k + 1]);
            (a[k], a[k + 1], b[k], b[k + 1]) = (a0, a1, b0, b1);
            let rows = a[k + 2..].iter_mut().zip(b[k + 2..].iter_mut()).zip(l0[k + 2..].iter().zip(&l1[k + 2..]));
            for ((x, y), (&p, &q)) in rows {
                *x -= p * a0 + q * a1;
                *y -= p * b0 + q * b1;
            }
            k += 2;
        }
        if k < n {
            let d = l[k * n + k];
            a[k] /= d;
            b[k] /= d;
        }
        j += 2;
    }
    if j < n {
        // The last column (n odd): its only entry is the last diagonal one.
        w[j * n + j] = one / l[j * n + j];
    }
}

impl<T: Real, D: Dim> FactorInverse<T, D> for Cholesky<T, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    fn factor_inverse(&self) -> OMatrix<T, D, D> {
        let l = self.l_dirty();
        let (rows, cols) = l.shape_generic();
        let n = l.nrows();
        let ls = l.as_slice();
        let mut w = OMatrix::<T, D, D>::zeros_generic(rows, cols);
        lower_inverse(ls, w.as_mut_slice(), n);
        let mut out = OMatrix::<T, D, D>::zeros_generic(rows, cols);
        if fast_kernel::<T, D, D, D>([n, n, n]) {
            out.gemm(nalgebra::one::<T>(), &transposed(&w), &w, nalgebra::zero::<T>());
            return out;
        }
        let ws = w.as_slice();
        let os = out.as_mut_slice();
        for j in 0..n {
            let wj = &ws[j * n..(j + 1) * n];
            for i in j..n {
                let wi = &ws[i * n + i..(i + 1) * n];
                let mut s = nalgebra::zero::<T>();
                for (&a, &b) in wi.iter().zip(&wj[i..]) {
                    s += a * b;
                }
                os[i + j * n] = s;
                os[j + i * n] = s;
            }
        }
        out
    }
}

impl<T: Real, D: DimMin<D, Output = D>> FactorInverse<T, D> for LU<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    fn factor_inverse(&self) -> OMatrix<T, D, D> {
        // The forward solve succeeded, so A is invertible.
        self.try_inverse().unwrap_or_else(|| {
            let (r, c) = self.l().shape_generic();
            OMatrix::zeros_generic(r, c)
        })
    }
}

/// `A⁻¹` for the factorization `f` of `A`, shared by the adjoint rules that read it.
pub fn factor_inverse<T: Real, D: Dim, F: FactorInverse<T, D>>(f: &F) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    f.factor_inverse()
}

// C = S⁻¹         (chol = S.cholesky(), S symmetric)
// S̄ -= sym(C Ḡ C) = C sym(Ḡ) C
/// `c = chol.inverse()`: the contribution to `S̄`.
pub fn chol_inverse_adj<T: Real, D: Dim>(
    _chol: &Cholesky<T, D>,
    c: &OMatrix<T, D, D>,
    g: &OMatrix<T, D, D>,
) -> Neg<OMatrix<T, D, D>>
where
    DefaultAllocator: Allocator<D, D>,
{
    let mut m = c * g * c;
    symmetrize(&mut m);
    Neg(m)
}

/// `P` (R×K, the product `C B` a trace reads) as the square matrix it is: nalgebra's `trace`
/// has already refused a non-square one in the forward pass.
fn square<T: Real, D: Dim, K: Dim, S: Storage<T, D, K> + IsContiguous>(
    p: &Matrix<T, D, K, S>,
) -> MatrixView<'_, T, D, D> {
    assert_eq!(p.nrows(), p.ncols(), "the trace of a non-square product");
    let d = p.shape_generic().0;
    MatrixView::from_slice_generic(p.as_slice(), d, d)
}

// C = S⁻¹ (chol = S.cholesky()), read as the left factor of tr(C B) alone: C̄ = s̄ Bᵀ, never formed
// S̄ -= sym(C C̄ C) = s̄ sym(C Bᵀ C) = s̄ sym(C Pᵀ) = s̄ sym(P C)   (P = C B, the forward product; C symmetric)
/// `c = chol.inverse()` when `p = c * b` is read by `trace()` alone: the contribution to `S̄`,
/// one product where `chol_inverse_adj` would make two.
pub fn chol_inverse_adj_of_trace<T: Real, D: Dim, K: Dim, S: Storage<T, D, K> + IsContiguous>(
    _chol: &Cholesky<T, D>,
    c: &OMatrix<T, D, D>,
    p: &Matrix<T, D, K, S>,
    g: &T,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let mut m = square(p) * c;
    symmetrize_scaled(&mut m, -*g);
    m
}

// C = A⁻¹, read as the left factor of tr(C B) alone: C̄ = s̄ Bᵀ, never formed
// Ā -= Cᵀ C̄ Cᵀ = s̄ (C B C)ᵀ = s̄ (P C)ᵀ   (P = C B, the forward product)
/// `c = a.try_inverse().unwrap()` when `p = c * b` is read by `trace()` alone: the contribution
/// to `ā`, one product where `try_inverse_adj` would make two.
pub fn try_inverse_adj_of_trace<T: Real, D: Dim, K: Dim, V: Value<Adj = OMatrix<T, D, D>>, S>(
    _a: &V,
    c: &OMatrix<T, D, D>,
    p: &Matrix<T, D, K, S>,
    g: &T,
) -> OMatrix<T, D, D>
where
    S: Storage<T, D, K> + IsContiguous,
    DefaultAllocator: Allocator<D, D>,
{
    let mut m = square(p) * c;
    m.transpose_mut();
    m *= -*g;
    m
}

// L = chol(S)     (S = L Lᵀ, L lower triangular)
// S̄ += ½ L⁻ᵀ copyltu(Lᵀ tril(L̄)) L⁻¹,   copyltu(M) = tril(M) + tril(M, −1)ᵀ
// (only the lower triangle of L̄ counts: the entries above the diagonal of L are constant 0)
/// `l = chol.l()`: the contribution to `S̄`.
pub fn chol_l_adj<T: Real, D: Dim>(
    _chol: &Cholesky<T, D>,
    l: &OMatrix<T, D, D>,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let mut m = l.tr_mul(&g.lower_triangle());
    m.fill_upper_triangle_with_lower_triangle();
    let zeros = || {
        let (r, c) = l.shape_generic();
        OMatrix::zeros_generic(r, c)
    };
    let y = l.tr_solve_lower_triangular(&m).unwrap_or_else(zeros);
    let z = l.tr_solve_lower_triangular(&y.transpose()).unwrap_or_else(zeros);
    z.transpose() * nalgebra::convert::<f64, T>(0.5)
}

/// The reverse rule of `solve(&b)` on a factorization of `A`.
#[diagnostic::on_unimplemented(
    message = "matgrad has no `solve` rule for `{Self}`",
    note = "`solve(&b)` is differentiated on `cholesky()` and `lu()` factorizations"
)]
pub trait SolveRule<T: Real, D: Dim>: Value<Scalar = T, Adj = OMatrix<T, D, D>>
where
    DefaultAllocator: Allocator<D, D>,
{
    /// Whether `A` is taken as symmetric (its contributions are symmetrized).
    const SYMMETRIC: bool;
    /// `A⁻ᵀ B`.
    fn solve_tr<C: Dim>(&self, b: &OMatrix<T, D, C>) -> OMatrix<T, D, C>
    where
        DefaultAllocator: Allocator<D, C>;
}

impl<T: Real, D: Dim> SolveRule<T, D> for Cholesky<T, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    const SYMMETRIC: bool = true;
    fn solve_tr<C: Dim>(&self, b: &OMatrix<T, D, C>) -> OMatrix<T, D, C>
    where
        DefaultAllocator: Allocator<D, C>,
    {
        self.solve(b)
    }
}

impl<T: Real, D: DimMin<D, Output = D>> SolveRule<T, D> for LU<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    const SYMMETRIC: bool = false;
    fn solve_tr<C: Dim>(&self, b: &OMatrix<T, D, C>) -> OMatrix<T, D, C>
    where
        DefaultAllocator: Allocator<D, C>,
    {
        // The forward solve succeeded, so A is invertible.
        match self.try_inverse() {
            Some(inv) => inv.tr_mul(b),
            None => b.map(|_| nalgebra::zero::<T>()),
        }
    }
}

// X = A⁻¹ B       (f = A.lu() or A.cholesky())
// B̄ += A⁻ᵀ Ḡ
// Ā -= B̄ₙ Xᵀ      (B̄ₙ = A⁻ᵀ Ḡ; sym(B̄ₙ Xᵀ) for Cholesky)
/// `x = f.solve(&b)`: the contribution to `Ā`.
pub fn solve_lhs<T: Real, D: Dim, C: Dim, F, SB>(
    f: &F,
    _b: &Matrix<T, D, C, SB>,
    x: &OMatrix<T, D, C>,
    g: &OMatrix<T, D, C>,
) -> Neg<OMatrix<T, D, D>>
where
    F: SolveRule<T, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D, C> + Allocator<C, D>,
{
    let mut m = f.solve_tr(g) * x.transpose();
    if F::SYMMETRIC {
        symmetrize(&mut m);
    }
    Neg(m)
}

/// `x = f.solve(&b)`: the contribution to `b̄`.
pub fn solve_rhs<T: Real, D: Dim, C: Dim, F, SB>(
    f: &F,
    _b: &Matrix<T, D, C, SB>,
    _x: &OMatrix<T, D, C>,
    g: &OMatrix<T, D, C>,
) -> OMatrix<T, D, C>
where
    F: SolveRule<T, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D, C> + Allocator<C, D>,
{
    f.solve_tr(g)
}

/// `a A⁻ᵀ I` (D×C, `I` the C-column identity) from `A⁻¹`: column `j` is `a` times row `j` of
/// `A⁻¹` (zero past the last row).
fn scaled_inverse_tr<T: Real, D: Dim, C: Dim, S: Storage<T, D, D>>(
    inv: &Matrix<T, D, D, S>,
    a: T,
    like: &OMatrix<T, D, C>,
) -> OMatrix<T, D, C>
where
    DefaultAllocator: Allocator<D, C>,
{
    let (r, c) = like.shape_generic();
    let mut m = OMatrix::<T, D, C>::zeros_generic(r, c);
    for j in 0..m.ncols().min(m.nrows()) {
        for i in 0..m.nrows() {
            m[(i, j)] = inv[(j, i)] * a;
        }
    }
    m
}

// X = A⁻¹ B read by a trace alone: Ḡ = s̄ I, never formed
// B̄ += s̄ A⁻ᵀ I
// Ā -= s̄ A⁻ᵀ I Xᵀ = s̄ (X A⁻¹)ᵀ for a square X   (sym(·) for Cholesky, where sym(Mᵀ) = sym(M))
/// `x = f.solve(&b)` read by `trace()` alone: the contribution to `Ā`, given `A⁻¹` and `s̄`.
pub fn solve_lhs_of_identity<T: Real, D: Dim, C: Dim, F, SB, SI>(
    _f: &F,
    _b: &Matrix<T, D, C, SB>,
    x: &OMatrix<T, D, C>,
    inv: &Matrix<T, D, D, SI>,
    g: &T,
) -> OMatrix<T, D, D>
where
    F: SolveRule<T, D>,
    SI: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D, C> + Allocator<C, D>,
{
    let a = -*g;
    if x.nrows() != x.ncols() {
        let mut m = scaled_inverse_tr(inv, a, x) * x.transpose();
        if F::SYMMETRIC {
            symmetrize(&mut m);
        }
        return m;
    }
    let d = x.shape_generic().0;
    let mut m = MatrixView::<T, D, D>::from_slice_generic(x.as_slice(), d, d) * inv;
    if F::SYMMETRIC {
        symmetrize_scaled(&mut m, a);
    } else {
        m.transpose_mut();
        m *= a;
    }
    m
}

/// `x = f.solve(&b)` read by `trace()` alone: the contribution to `b̄`, given `A⁻¹` and `s̄`.
pub fn solve_rhs_of_identity<T: Real, D: Dim, C: Dim, F, SB, SI>(
    _f: &F,
    _b: &Matrix<T, D, C, SB>,
    x: &OMatrix<T, D, C>,
    inv: &Matrix<T, D, D, SI>,
    g: &T,
) -> OMatrix<T, D, C>
where
    F: SolveRule<T, D>,
    SI: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D, C>,
{
    scaled_inverse_tr(inv, *g, x)
}

// X = L⁻¹ B       (only the lower triangle of L is read)
// B̄ += L⁻ᵀ Ḡ
// L̄ -= tril(B̄ₙ Xᵀ)
/// `x = l.solve_lower_triangular(&b).unwrap()`: the contribution to `L̄`.
pub fn solve_lower_triangular_lhs<T: Real, D: Dim, C: Dim, SL, SB>(
    l: &Matrix<T, D, D, SL>,
    b: &Matrix<T, D, C, SB>,
    x: &OMatrix<T, D, C>,
    g: &OMatrix<T, D, C>,
) -> Neg<OMatrix<T, D, D>>
where
    SL: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D, C> + Allocator<C, D>,
{
    Neg((solve_lower_triangular_rhs(l, b, x, g) * x.transpose()).lower_triangle())
}

/// `x = l.solve_lower_triangular(&b).unwrap()`: the contribution to `b̄`.
pub fn solve_lower_triangular_rhs<T: Real, D: Dim, C: Dim, SL, SB>(
    l: &Matrix<T, D, D, SL>,
    _b: &Matrix<T, D, C, SB>,
    _x: &OMatrix<T, D, C>,
    g: &OMatrix<T, D, C>,
) -> OMatrix<T, D, C>
where
    SL: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, C>,
{
    // The forward solve succeeded, so the diagonal has no zero.
    l.tr_solve_lower_triangular(g).unwrap_or_else(|| g.map(|_| nalgebra::zero::<T>()))
}

// X = U⁻¹ B       (only the upper triangle of U is read)
// B̄ += U⁻ᵀ Ḡ
// Ū -= triu(B̄ₙ Xᵀ)
/// `x = u.solve_upper_triangular(&b).unwrap()`: the contribution to `Ū`.
pub fn solve_upper_triangular_lhs<T: Real, D: Dim, C: Dim, SU, SB>(
    u: &Matrix<T, D, D, SU>,
    b: &Matrix<T, D, C, SB>,
    x: &OMatrix<T, D, C>,
    g: &OMatrix<T, D, C>,
) -> Neg<OMatrix<T, D, D>>
where
    SU: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D, C> + Allocator<C, D>,
{
    Neg((solve_upper_triangular_rhs(u, b, x, g) * x.transpose()).upper_triangle())
}

/// `x = u.solve_upper_triangular(&b).unwrap()`: the contribution to `b̄`.
pub fn solve_upper_triangular_rhs<T: Real, D: Dim, C: Dim, SU, SB>(
    u: &Matrix<T, D, D, SU>,
    _b: &Matrix<T, D, C, SB>,
    _x: &OMatrix<T, D, C>,
    g: &OMatrix<T, D, C>,
) -> OMatrix<T, D, C>
where
    SU: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, C>,
{
    u.tr_solve_upper_triangular(g).unwrap_or_else(|| g.map(|_| nalgebra::zero::<T>()))
}

// λ = eigenvalues of A (A symmetric, A = U diag(λ) Uᵀ; only the lower triangle is read)
// Ā += U diag(λ̄) Uᵀ
// At a repeated eigenvalue U is not unique; the rule uses nalgebra's U. The result is the
// gradient wherever f treats equal eigenvalues alike (a sum, a trace, a norm of λ); otherwise f
// is not differentiable there and the result is one of its one-sided derivatives.
/// `λ = a.symmetric_eigenvalues()` (or `a.symmetric_eigen().eigenvalues`): the contribution to `ā`.
pub fn symmetric_eigenvalues_adj<T: Real, D, S>(a: &Matrix<T, D, D, S>, g: &OMatrix<T, D, U1>) -> OMatrix<T, D, D>
where
    D: DimSub<U1>,
    S: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<DimDiff<D, U1>> + Allocator<D>,
{
    let e = a.clone_owned().symmetric_eigen();
    let u = &e.eigenvectors;
    let mut ug = u.clone_owned();
    for (j, mut col) in ug.column_iter_mut().enumerate() {
        col *= g[j];
    }
    ug * u.transpose()
}

// S = U Λ Uᵀ (S symmetric, U = s.symmetric_eigen().eigenvectors, orthonormal columns)
// S̄ += sym(U (F ⊙ (Uᵀ Ū)) Uᵀ),  Fᵢⱼ = 1/(λⱼ − λᵢ) for i ≠ j, 0 on the diagonal (Giles 2008 §3.1)
// Each column's sign is nalgebra's choice, locally constant where the eigenvalues are distinct.
// At a repeated eigenvalue (λᵢ = λⱼ exactly) the vectors are not unique and their derivative is
// infinite: Fᵢⱼ = 1/0, so the gradient has infinite or NaN entries there (as PyTorch's `eigh`).
// No finite choice is right: Fᵢⱼ = 0 would be the gradient of a spectral projector but not of a
// matrix function U h(Λ) Uᵀ, whose gradient needs h′ there.
/// `u = a.symmetric_eigen().eigenvectors`: the contribution to `ā`.
pub fn symmetric_eigenvectors_adj<T: Real, D, S>(a: &Matrix<T, D, D, S>, g: &OMatrix<T, D, D>) -> OMatrix<T, D, D>
where
    D: DimSub<U1>,
    S: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<DimDiff<D, U1>> + Allocator<D>,
{
    let e = a.clone_owned().symmetric_eigen();
    let (u, l) = (&e.eigenvectors, &e.eigenvalues);
    let mut x = u.tr_mul(g);
    let n = l.len();
    for j in 0..n {
        for i in 0..n {
            x[(i, j)] = if i == j { nalgebra::zero::<T>() } else { x[(i, j)] / (l[j] - l[i]) };
        }
    }
    let s = u * x * u.transpose();
    (&s + s.transpose()) * T::from_subset(&0.5)
}

// σ = singular values of A (A = U diag(σ) Vᵀ, σ sorted descending)
// Ā += U diag(σ̄) Vᵀ
// At a repeated singular value (or σ = 0) U and V are not unique; as for eigenvalues, the
// result is the gradient wherever f treats equal singular values alike (the nuclear norm ∑σ at
// a full-rank A, ‖σ‖² = ‖A‖²_F everywhere).
/// `σ = a.singular_values()`: the contribution to `ā`.
pub fn singular_values_adj<T: Real, R, C, S>(
    a: &Matrix<T, R, C, S>,
    g: &OMatrix<T, DimMinimum<R, C>, U1>,
) -> OMatrix<T, R, C>
where
    R: DimMin<C>,
    C: Dim,
    S: Storage<T, R, C>,
    DimMinimum<R, C>: DimSub<U1>,
    DefaultAllocator: Allocator<R, C>
        + Allocator<C>
        + Allocator<R>
        + Allocator<DimDiff<DimMinimum<R, C>, U1>>
        + Allocator<DimMinimum<R, C>, C>
        + Allocator<R, DimMinimum<R, C>>
        + Allocator<DimMinimum<R, C>>,
{
    let svd = nalgebra::SVD::new(a.clone_owned(), true, true);
    match (svd.u, svd.v_t) {
        (Some(mut u), Some(v_t)) => {
            for (j, mut col) in u.column_iter_mut().enumerate() {
                col *= g[j];
            }
            u * v_t
        }
        _ => a.map(|_| nalgebra::zero::<T>()),
    }
}

/// `σ = a.svd(u, v).singular_values`: the contribution to `ā` (as [`singular_values_adj`]; the
/// flags only say which vectors the forward pass computed).
pub fn svd_singular_values_adj<T: Real, R, C, S>(
    a: &Matrix<T, R, C, S>,
    _u: &bool,
    _v: &bool,
    g: &OMatrix<T, DimMinimum<R, C>, U1>,
) -> OMatrix<T, R, C>
where
    R: DimMin<C>,
    C: Dim,
    S: Storage<T, R, C>,
    DimMinimum<R, C>: DimSub<U1>,
    DefaultAllocator: Allocator<R, C>
        + Allocator<C>
        + Allocator<R>
        + Allocator<DimDiff<DimMinimum<R, C>, U1>>
        + Allocator<DimMinimum<R, C>, C>
        + Allocator<R, DimMinimum<R, C>>
        + Allocator<DimMinimum<R, C>>,
{
    singular_values_adj(a, g)
}
