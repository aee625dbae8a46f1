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
    let n = m.nrows();
    sym_in_place(m.as_mut_slice(), n, a * nalgebra::convert::<f64, T>(0.5));
}

/// `(M + Mᵀ)/2`, in place.
fn symmetrize<T: Real, D: Dim>(m: &mut OMatrix<T, D, D>)
where
    DefaultAllocator: Allocator<D, D>,
{
    let n = m.nrows();
    sym_in_place(m.as_mut_slice(), n, nalgebra::convert::<f64, T>(0.5));
}

/// `h (M + Mᵀ)` in place, `M` n×n column-major in `s`: two columns at a time, each 2×2 block
/// below the diagonal pair of columns with its mirror in the next two columns (four entries
/// and their four mirrors per step, no index arithmetic past the block).
fn sym_in_place<T: Real>(s: &mut [T], n: usize, h: T) {
    let mut j = 0;
    while j + 1 < n {
        let (left, right) = s.split_at_mut((j + 2) * n);
        let (c0, c1) = left[j * n..].split_at_mut(n);
        let (a, b) = ((c0[j + 1] + c1[j]) * h, c1[j + 1] + c1[j + 1]);
        (c0[j], c0[j + 1], c1[j], c1[j + 1]) = ((c0[j] + c0[j]) * h, a, a, b * h);
        let below = c0[j + 2..].chunks_exact_mut(2).zip(c1[j + 2..].chunks_exact_mut(2));
        for ((p, q), mirror) in below.zip(right.chunks_exact_mut(2 * n)) {
            let (m0, m1) = mirror.split_at_mut(n);
            let (e, f, g, k) = (m0[j], m0[j + 1], m1[j], m1[j + 1]);
            let (v0, v1, v2, v3) = ((p[0] + e) * h, (p[1] + g) * h, (q[0] + f) * h, (q[1] + k) * h);
            (p[0], p[1], q[0], q[1]) = (v0, v1, v2, v3);
            (m0[j], m1[j], m0[j + 1], m1[j + 1]) = (v0, v1, v2, v3);
        }
        if (n - j) % 2 == 1 {
            // The last row (n - j odd): its mirrors are in the last column.
            let last = &mut right[(n - j - 3) * n..];
            let i = n - 1;
            let (v0, v1) = ((c0[i] + last[j]) * h, (c1[i] + last[j + 1]) * h);
            (c0[i], c1[i], last[j], last[j + 1]) = (v0, v1, v0, v1);
        }
        j += 2;
    }
    if j < n {
        // The last column (n odd): only its diagonal entry is left.
        let d = j * n + j;
        s[d] = (s[d] + s[d]) * h;
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

// S⁻¹ = L⁻ᵀ L⁻¹ = U Uᵀ   (S = L Lᵀ, U = L⁻ᵀ upper triangular): U column by column, then U Uᵀ
// on the product kernel where there is one (both operands packed from contiguous columns), else
// its lower triangle mirrored (n³/3 multiply-adds in all, where a solve against the identity
// takes n³; LAPACK's potri does the same).
/// `U = L⁻ᵀ` into `u` (zeros, n×n column-major; `l` lower triangular, column-major). Column i of
/// `U` is row i of `L⁻¹`: uᵢ = (eᵢ − Σₖ₍ₖ<ᵢ₎ Lᵢₖ uₖ) / Lᵢᵢ, uₖ zero below row k. Two columns
/// at a time, accumulated from the columns before them read four at a time (eight multiply-adds
/// per row read, from two adjacent entries of each of four columns of `L`), then scaled.
fn upper_inverse_tr<T: Real>(l: &[T], u: &mut [T], n: usize) {
    let one = nalgebra::one::<T>();
    let row = |r: usize, k: usize| l[r + k * n];
    let mut i = 0;
    while i + 1 < n {
        let (done, rest) = u.split_at_mut(i * n);
        let (x, y) = rest.split_at_mut(n);
        accumulate(x, y, done, l, i, n);
        // uᵢ = −x / Lᵢᵢ above row i, then uᵢ₊₁ = −(y + Lᵢ₊₁,ᵢ uᵢ) / Lᵢ₊₁,ᵢ₊₁ (it reads uᵢ).
        let (rx, q, ry) = (one / row(i, i), row(i + 1, i), one / row(i + 1, i + 1));
        for (x, y) in x[..i].iter_mut().zip(y[..i].iter_mut()) {
            let v = -(*x * rx);
            *x = v;
            *y = -((*y + q * v) * ry);
        }
        x[i] = rx;
        y[i] = -(q * rx * ry);
        y[i + 1] = ry;
        i += 2;
    }
    if i < n {
        // The last column (n odd): no partner.
        let (done, x) = u.split_at_mut(i * n);
        for (k, pair) in done.chunks_exact(2 * n).enumerate() {
            let (u0, u1) = pair.split_at(n);
            let (c0, c1) = (row(i, 2 * k), row(i, 2 * k + 1));
            for ((x, &a), &b) in x[..2 * k + 2].iter_mut().zip(&u0[..2 * k + 2]).zip(&u1[..2 * k + 2]) {
                *x += c0 * a + c1 * b;
            }
        }
        let rx = one / row(i, i);
        for x in &mut x[..i] {
            *x = -(*x * rx);
        }
        x[i] = rx;
    }
}

/// `x += Σₖ Lᵢₖ uₖ`, `y += Σₖ Lᵢ₊₁,ₖ uₖ` over the columns `done` of `U` before column i (i even),
/// four at a time, then the two left over (i ≡ 2 mod 4). A function of its own, called once per
/// pair of columns: its slices are arguments, known not to overlap, so its loops have no
/// run-time overlap checks (inlined, the inverse at n = 16 took 821 instructions more).
#[inline(never)]
fn accumulate<T: Real>(x: &mut [T], y: &mut [T], done: &[T], l: &[T], i: usize, n: usize) {
    let quads = done.chunks_exact(4 * n);
    let pair = quads.remainder();
    for (k, (quad, lq)) in quads.zip(l.chunks_exact(4 * n)).enumerate() {
        let m = 4 * k + 4;
        accumulate_four(&mut x[..m], &mut y[..m], quad, &lq[i..], n);
    }
    if !pair.is_empty() {
        let (k, m) = (i - 2, i);
        let (u0, u1) = pair.split_at(n);
        let (c0, c1) = (&l[k * n + i..k * n + i + 2], &l[(k + 1) * n + i..(k + 1) * n + i + 2]);
        for ((x, y), (&a, &b)) in x[..m].iter_mut().zip(&mut y[..m]).zip(u0[..m].iter().zip(&u1[..m])) {
            *x += c0[0] * a + c1[0] * b;
            *y += c0[1] * a + c1[1] * b;
        }
    }
}

/// `x += Σ_d L[i, k+d] u[k+d]`, `y += Σ_d L[i+1, k+d] u[k+d]` (d = 0…3, rows 0…m−1, m = x.len()):
/// four columns `u` of `U` (n×4) into two, `lq` the same four columns of `L` from row i.
#[inline(always)]
fn accumulate_four<T: Real>(x: &mut [T], y: &mut [T], u: &[T], lq: &[T], n: usize) {
    let m = x.len();
    let (c0, c1, c2, c3) = (&lq[..2], &lq[n..n + 2], &lq[2 * n..2 * n + 2], &lq[3 * n..3 * n + 2]);
    let (u0, u1, u2, u3) = (&u[..m], &u[n..n + m], &u[2 * n..2 * n + m], &u[3 * n..3 * n + m]);
    let rows = x.iter_mut().zip(&mut y[..m]).zip(u0.iter().zip(u1)).zip(u2.iter().zip(u3));
    for (((x, y), (&a, &b)), (&e, &f)) in rows {
        *x += c0[0] * a + c1[0] * b + c2[0] * e + c3[0] * f;
        *y += c0[1] * a + c1[1] * b + c2[1] * e + c3[1] * f;
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
        let mut u = OMatrix::<T, D, D>::zeros_generic(rows, cols);
        upper_inverse_tr(l.as_slice(), u.as_mut_slice(), n);
        let mut out = OMatrix::<T, D, D>::zeros_generic(rows, cols);
        if fast_kernel::<T, D, D, D>([n, n, n]) {
            out.gemm(nalgebra::one::<T>(), &u, &transposed(&u), nalgebra::zero::<T>());
            return out;
        }
        // Σₖ uₖ uₖᵀ into the lower triangle (uₖ has rows 0…k), then mirrored.
        let us = u.as_slice();
        let os = out.as_mut_slice();
        for k in 0..n {
            let uk = &us[k * n..k * n + k + 1];
            for (j, &c) in uk.iter().enumerate() {
                for (o, &a) in os[j * n + j..j * n + k + 1].iter_mut().zip(&uk[j..]) {
                    *o += a * c;
                }
            }
        }
        for j in 0..n {
            for i in j + 1..n {
                os[j + i * n] = os[i + j * n];
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
