//! Matrix products and transposes.

use super::dims::{as_adj, AsAdj};
use crate::contrib::Contrib;
use crate::value::Real;
use nalgebra::allocator::Allocator;
use nalgebra::storage::IsContiguous;
use nalgebra::{DefaultAllocator, Dim, Dyn, Matrix, MatrixView, MatrixViewMut, OMatrix, Storage, StorageMut};

/// The product `A Bᵀ` as a contribution (`A` is R×K, `B` is C×K).
pub struct MatMulNT<'a, T, R: Dim, K: Dim, SA, C: Dim, SB> {
    /// Left factor.
    pub a: &'a Matrix<T, R, K, SA>,
    /// Right factor, transposed.
    pub b: &'a Matrix<T, C, K, SB>,
}

impl<T: Real, R: Dim, K: Dim, SA, C: Dim, SB> Contrib for MatMulNT<'_, T, R, K, SA, C, SB>
where
    SA: Storage<T, R, K>,
    SB: Storage<T, C, K>,
    DefaultAllocator: Allocator<R, C> + Allocator<K, C>,
{
    type Adj = OMatrix<T, R, C>;
    #[inline]
    fn init(self) -> OMatrix<T, R, C> {
        self.a * self.b.transpose()
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        acc.gemm(nalgebra::one::<T>(), self.a, &self.b.transpose(), nalgebra::one::<T>());
    }
}

/// The product `Aᵀ B` as a contribution (`A` is K×R, `B` is K×C).
pub struct MatMulTN<'a, T, K: Dim, R: Dim, SA, C: Dim, SB> {
    /// Left factor, transposed.
    pub a: &'a Matrix<T, K, R, SA>,
    /// Right factor.
    pub b: &'a Matrix<T, K, C, SB>,
}

impl<T: Real, K: Dim, R: Dim, SA, C: Dim, SB> Contrib for MatMulTN<'_, T, K, R, SA, C, SB>
where
    SA: Storage<T, K, R>,
    SB: Storage<T, K, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<R, K>,
{
    type Adj = OMatrix<T, R, C>;
    #[inline]
    fn init(self) -> OMatrix<T, R, C> {
        self.a.transpose() * self.b
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        acc.gemm(nalgebra::one::<T>(), &self.a.transpose(), self.b, nalgebra::one::<T>());
    }
}

/// The product `A B` as a contribution (`A` is R×K, `B` is K×C).
pub struct MatMulNN<'a, T, R: Dim, K: Dim, SA, C: Dim, SB> {
    /// Left factor.
    pub a: &'a Matrix<T, R, K, SA>,
    /// Right factor.
    pub b: &'a Matrix<T, K, C, SB>,
}

impl<T: Real, R: Dim, K: Dim, SA, C: Dim, SB> Contrib for MatMulNN<'_, T, R, K, SA, C, SB>
where
    SA: Storage<T, R, K>,
    SB: Storage<T, K, C>,
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    #[inline]
    fn init(self) -> OMatrix<T, R, C> {
        self.a * self.b
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        acc.gemm(nalgebra::one::<T>(), self.a, self.b, nalgebra::one::<T>());
    }
}

// Y = Xᵀ
// X̄ += Ḡᵀ
/// `y = x.transpose()`: the contribution to `x̄`.
#[inline]
pub fn transpose_adj<T: Real, R: Dim, C: Dim, S>(_x: &Matrix<T, R, C, S>, g: &OMatrix<T, C, R>) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C> + Allocator<C, R>,
{
    g.transpose()
}

// C = Aᵀ B      (A is K×R, B is K×C; K may be a fixed dimension on one side and a dynamic
//               one on the other, each contribution then in its operand's type)
// Ā += B Ḡᵀ
// B̄ += A Ḡ
/// `c = a.tr_mul(&b)`: the contribution to `ā`.
#[inline]
#[allow(clippy::type_complexity)]
pub fn tr_mul_lhs<'a, T: Real, K: Dim, R: Dim, SA, K2: Dim, C: Dim, SB>(
    _a: &'a Matrix<T, K, R, SA>,
    b: &'a Matrix<T, K2, C, SB>,
    g: &'a OMatrix<T, R, C>,
) -> AsAdj<MatMulNT<'a, T, K2, C, SB, R, nalgebra::Owned<T, R, C>>, OMatrix<T, K, R>>
where
    SB: Storage<T, K2, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<K2, R> + Allocator<C, R> + Allocator<K, R>,
{
    as_adj(MatMulNT { a: b, b: g })
}

/// `c = a.tr_mul(&b)`: the contribution to `b̄`.
#[inline]
#[allow(clippy::type_complexity)]
pub fn tr_mul_rhs<'a, T: Real, K: Dim, R: Dim, SA, K2: Dim, C: Dim, SB>(
    a: &'a Matrix<T, K, R, SA>,
    _b: &'a Matrix<T, K2, C, SB>,
    g: &'a OMatrix<T, R, C>,
) -> AsAdj<MatMulNN<'a, T, K, R, SA, C, nalgebra::Owned<T, R, C>>, OMatrix<T, K2, C>>
where
    SA: Storage<T, K, R>,
    DefaultAllocator: Allocator<R, C> + Allocator<K, C> + Allocator<K2, C>,
{
    as_adj(MatMulNN { a, b: g })
}

/// Whether a product whose operands have the dimensions `R`, `K`, `C` (values `dims`) goes
/// through nalgebra's `matrixmultiply` kernel: with `std`, for f32/f64, when one dimension is
/// dynamic and all exceed 5. Only then may generated code hand `gemm` a strided (transposed)
/// view: below that size `gemm` falls back to `axpy`, which reads and writes out of bounds on
/// strided views in nalgebra 0.35 (dimforge/nalgebra#1616). Static sizes never take the kernel
/// (it would allocate packing buffers): they use the transposed copy, on the stack.
#[inline]
pub(crate) fn fast_kernel<T: Real, R: Dim, K: Dim, C: Dim>(dims: [usize; 3]) -> bool {
    use core::any::TypeId;
    let float = TypeId::of::<T>() == TypeId::of::<f64>() || TypeId::of::<T>() == TypeId::of::<f32>();
    let dynamic = R::try_to_usize().is_none() || K::try_to_usize().is_none() || C::try_to_usize().is_none();
    cfg!(feature = "std") && float && dynamic && dims.iter().all(|&d| d > 5)
}

/// `Gᵀ` for an owned `G` (R×C) as a C×R view with strides (R, 1): no copy.
#[inline]
pub(crate) fn transposed<T: Real, R: Dim, C: Dim, S>(g: &Matrix<T, R, C, S>) -> MatrixView<'_, T, C, R, Dyn, Dyn>
where
    S: Storage<T, R, C> + IsContiguous,
{
    let (r, c) = g.shape_generic();
    MatrixView::from_slice_with_strides_generic(g.as_slice(), c, r, Dyn(r.value()), Dyn(1))
}

/// `Mᵀ` for an owned `M` (R×C) as a mutable C×R view with strides (R, 1).
#[inline]
fn transposed_mut<T: Real, R: Dim, C: Dim, S>(m: &mut Matrix<T, R, C, S>) -> MatrixViewMut<'_, T, C, R, Dyn, Dyn>
where
    S: StorageMut<T, R, C> + IsContiguous,
{
    let (r, c) = m.shape_generic();
    MatrixViewMut::from_slice_with_strides_generic(m.as_mut_slice(), c, r, Dyn(r.value()), Dyn(1))
}

/// `Ḡ Bᵀ` (Ḡ is R×C and owned, B is K×C): the contribution of `A B` to `Ā`.
///
/// On the fast kernel it is computed as `(Ā)ᵀ = B Ḡᵀ`, writing through a transposed view of the
/// result with `Ḡᵀ` a view of `Ḡ`: no copy of `B`, and `gemm` with β = 1 accumulates in place.
/// Otherwise (small or static sizes, or a first contribution where 4C ≤ R, whose copy `Bᵀ` is
/// smaller than the result, which is then not set to zeros first) it multiplies by the copy
/// `Bᵀ`.
pub struct GradMulT<'a, T, R: Dim, C: Dim, SG, K: Dim, SB> {
    /// The adjoint of the product.
    pub g: &'a Matrix<T, R, C, SG>,
    /// The right factor of the product.
    pub b: &'a Matrix<T, K, C, SB>,
}

impl<T: Real, R: Dim, C: Dim, SG: Storage<T, R, C> + IsContiguous, K: Dim, SB: Storage<T, K, C>>
    GradMulT<'_, T, R, C, SG, K, SB>
where
    DefaultAllocator: Allocator<R, C> + Allocator<R, K> + Allocator<C, K>,
{
    #[inline]
    fn gemm_into(self, acc: &mut OMatrix<T, R, K>, beta: T) {
        let (r, k, c) = (self.g.nrows(), self.b.nrows(), self.g.ncols());
        if fast_kernel::<T, R, K, C>([r, k, c]) {
            transposed_mut(acc).gemm(nalgebra::one::<T>(), self.b, &transposed(self.g), beta);
        } else {
            acc.gemm(nalgebra::one::<T>(), self.g, &self.b.transpose(), beta);
        }
    }
}

impl<T: Real, R: Dim, C: Dim, SG: Storage<T, R, C> + IsContiguous, K: Dim, SB: Storage<T, K, C>> Contrib
    for GradMulT<'_, T, R, C, SG, K, SB>
where
    DefaultAllocator: Allocator<R, C> + Allocator<R, K> + Allocator<C, K>,
{
    type Adj = OMatrix<T, R, K>;
    #[inline]
    fn init(self) -> OMatrix<T, R, K> {
        let (r, k, c) = (self.g.shape_generic().0, self.b.shape_generic().0, self.g.ncols());
        // A fresh result through the view is first set to R×K zeros (a fill, a few entries a
        // cycle); through the copy `Bᵀ` (K×C entries gathered, about one a cycle) nalgebra's
        // product allocates it without zeros. The copy is the cheaper where 4C ≤ R: a product
        // with few columns, as a network's last layer.
        if fast_kernel::<T, R, K, C>([r.value(), k.value(), c]) && 4 * c > r.value() {
            let mut out = OMatrix::zeros_generic(r, k);
            self.gemm_into(&mut out, nalgebra::zero::<T>());
            out
        } else {
            self.g * self.b.transpose()
        }
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, K>) {
        self.gemm_into(acc, nalgebra::one::<T>());
    }
}

/// `Aᵀ Ḡ` (A is R×K, Ḡ is R×C and owned): the contribution of `A B` to `B̄`.
///
/// On the fast kernel it is computed as `(B̄)ᵀ = Ḡᵀ A`, writing through a transposed view of the
/// result with `Ḡᵀ` a view of `Ḡ`: no copy of `A`; a first contribution where 4R ≤ C multiplies
/// the copy `Aᵀ` instead (smaller than the result, which is then not set to zeros first).
/// Otherwise (small or static sizes) it is `tr_mul`/`gemm_tr`, dot products of columns, which
/// need no copy either.
pub struct TMulGrad<'a, T, R: Dim, K: Dim, SA, C: Dim, SG> {
    /// The left factor of the product.
    pub a: &'a Matrix<T, R, K, SA>,
    /// The adjoint of the product.
    pub g: &'a Matrix<T, R, C, SG>,
}

impl<T: Real, R: Dim, K: Dim, SA: Storage<T, R, K>, C: Dim, SG: Storage<T, R, C> + IsContiguous>
    TMulGrad<'_, T, R, K, SA, C, SG>
where
    DefaultAllocator: Allocator<R, C> + Allocator<K, C> + Allocator<K, R>,
{
    #[inline]
    fn gemm_into(self, acc: &mut OMatrix<T, K, C>, beta: T) {
        let (r, k, c) = (self.a.nrows(), self.a.ncols(), self.g.ncols());
        if fast_kernel::<T, R, K, C>([r, k, c]) {
            transposed_mut(acc).gemm(nalgebra::one::<T>(), &transposed(self.g), self.a, beta);
        } else {
            acc.gemm_tr(nalgebra::one::<T>(), self.a, self.g, beta);
        }
    }
}

impl<T: Real, R: Dim, K: Dim, SA: Storage<T, R, K>, C: Dim, SG: Storage<T, R, C> + IsContiguous> Contrib
    for TMulGrad<'_, T, R, K, SA, C, SG>
where
    DefaultAllocator: Allocator<R, C> + Allocator<K, C> + Allocator<K, R>,
{
    type Adj = OMatrix<T, K, C>;
    #[inline]
    fn init(self) -> OMatrix<T, K, C> {
        let (r, k, c) = (self.a.nrows(), self.a.shape_generic().1, self.g.shape_generic().1);
        // Through the copy `Aᵀ` where 4R ≤ C, as in `GradMulT::init`.
        match fast_kernel::<T, R, K, C>([r, k.value(), c.value()]) {
            true if 4 * r > c.value() => {
                let mut out = OMatrix::zeros_generic(k, c);
                self.gemm_into(&mut out, nalgebra::zero::<T>());
                out
            }
            true => self.a.transpose() * self.g,
            false => self.a.tr_mul(self.g),
        }
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, K, C>) {
        self.gemm_into(acc, nalgebra::one::<T>());
    }
}
