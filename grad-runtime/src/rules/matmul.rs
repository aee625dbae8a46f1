//! Matrix products and transposes.

use crate::contrib::Contrib;
use crate::value::Real;
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage};

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

// C = Aᵀ B      (A is K×R, B is K×C)
// Ā += B Ḡᵀ
// B̄ += A Ḡ
/// `c = a.tr_mul(&b)`: the contribution to `ā`.
#[inline]
pub fn tr_mul_lhs<'a, T: Real, K: Dim, R: Dim, SA, C: Dim, SB>(
    _a: &'a Matrix<T, K, R, SA>,
    b: &'a Matrix<T, K, C, SB>,
    g: &'a OMatrix<T, R, C>,
) -> MatMulNT<'a, T, K, C, SB, R, nalgebra::Owned<T, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    MatMulNT { a: b, b: g }
}

/// `c = a.tr_mul(&b)`: the contribution to `b̄`.
#[inline]
pub fn tr_mul_rhs<'a, T: Real, K: Dim, R: Dim, SA, C: Dim, SB>(
    a: &'a Matrix<T, K, R, SA>,
    _b: &'a Matrix<T, K, C, SB>,
    g: &'a OMatrix<T, R, C>,
) -> MatMulNN<'a, T, K, R, SA, C, nalgebra::Owned<T, R, C>>
where
    DefaultAllocator: Allocator<R, C>,
{
    MatMulNN { a, b: g }
}
