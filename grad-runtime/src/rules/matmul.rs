//! Matrix products and transposes.

use super::dims::{as_adj, AsAdj};
use crate::contrib::Contrib;
use crate::value::{Real, Value};
use nalgebra::allocator::Allocator;
use nalgebra::storage::IsContiguous;
use nalgebra::{DefaultAllocator, Dim, Dyn, Matrix, MatrixView, MatrixViewMut, OMatrix, Storage, StorageMut};

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
) -> AsAdj<MulGradT<'a, T, K2, C, SB, R, nalgebra::Owned<T, R, C>>, OMatrix<T, K, R>>
where
    SB: Storage<T, K2, C>,
    DefaultAllocator: Allocator<R, C> + Allocator<K2, R> + Allocator<C, R> + Allocator<K, R>,
{
    as_adj(MulGradT { a: b, g })
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

/// `A Ḡᵀ` (A is R×K, Ḡ is C×K and owned): the contribution of `Xᵀ B` (and of `x.tr_mul(&b)`)
/// to `X̄` (A = B).
///
/// On the fast kernel `Ḡᵀ` is a strided view of `Ḡ` (no copy) and `gemm` with β = 1
/// accumulates in place; a first contribution where 4K ≤ R multiplies the copy `Ḡᵀ` instead
/// (smaller than the result, which is then not set to zeros first), as do small or static sizes.
pub struct MulGradT<'a, T, R: Dim, K: Dim, SA, C: Dim, SG> {
    /// The left factor.
    pub a: &'a Matrix<T, R, K, SA>,
    /// The adjoint, transposed.
    pub g: &'a Matrix<T, C, K, SG>,
}

impl<T: Real, R: Dim, K: Dim, SA: Storage<T, R, K>, C: Dim, SG: Storage<T, C, K> + IsContiguous> Contrib
    for MulGradT<'_, T, R, K, SA, C, SG>
where
    DefaultAllocator: Allocator<R, C> + Allocator<K, C>,
{
    type Adj = OMatrix<T, R, C>;
    #[inline]
    fn init(self) -> OMatrix<T, R, C> {
        let (r, k, c) = (self.a.shape_generic().0, self.a.ncols(), self.g.shape_generic().0);
        if fast_kernel::<T, R, K, C>([r.value(), k, c.value()]) && 4 * k > r.value() {
            let mut out = OMatrix::zeros_generic(r, c);
            out.gemm(nalgebra::one::<T>(), self.a, &transposed(self.g), nalgebra::zero::<T>());
            out
        } else {
            self.a * self.g.transpose()
        }
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        let (r, k, c) = (self.a.nrows(), self.a.ncols(), self.g.nrows());
        if fast_kernel::<T, R, K, C>([r, k, c]) {
            acc.gemm(nalgebra::one::<T>(), self.a, &transposed(self.g), nalgebra::one::<T>());
        } else {
            acc.gemm(nalgebra::one::<T>(), self.a, &self.g.transpose(), nalgebra::one::<T>());
        }
    }
}

/// `Ḡᵀ A` (Ḡ is K×R and owned, A is K×C): the contribution of `B Xᵀ` to `X̄` (A = B).
///
/// On the fast kernel `Ḡᵀ` is a strided view of `Ḡ`; otherwise `tr_mul`/`gemm_tr`, dot products
/// of columns, which need no copy either.
pub struct GradTMul<'a, T, K: Dim, R: Dim, SG, C: Dim, SA> {
    /// The adjoint, transposed.
    pub g: &'a Matrix<T, K, R, SG>,
    /// The right factor.
    pub a: &'a Matrix<T, K, C, SA>,
}

impl<T: Real, K: Dim, R: Dim, SG: Storage<T, K, R> + IsContiguous, C: Dim, SA: Storage<T, K, C>> Contrib
    for GradTMul<'_, T, K, R, SG, C, SA>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    #[inline]
    fn init(self) -> OMatrix<T, R, C> {
        let (k, r, c) = (self.g.nrows(), self.g.shape_generic().1, self.a.shape_generic().1);
        if fast_kernel::<T, K, R, C>([k, r.value(), c.value()]) {
            let mut out = OMatrix::zeros_generic(r, c);
            out.gemm(nalgebra::one::<T>(), &transposed(self.g), self.a, nalgebra::zero::<T>());
            out
        } else {
            self.g.tr_mul(self.a)
        }
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        let (k, r, c) = (self.g.nrows(), self.g.ncols(), self.a.ncols());
        if fast_kernel::<T, K, R, C>([k, r, c]) {
            acc.gemm(nalgebra::one::<T>(), &transposed(self.g), self.a, nalgebra::one::<T>());
        } else {
            acc.gemm_tr(nalgebra::one::<T>(), self.g, self.a, nalgebra::one::<T>());
        }
    }
}

/// The reverse rule of `x.transpose() * b` as written (`passes::simplify` fuses the transpose
/// into the product, whose adjoints then need no transposed copy of `X̄`'s contribution), chosen
/// by the type of `b`: a matrix or a scalar.
#[diagnostic::on_unimplemented(
    message = "matgrad has no rule for `{Self}ᵀ * {B}`",
    note = "products of f32/f64 scalars and nalgebra matrices with matching scalar types are supported"
)]
pub trait TransposeMulRule<B: Value>: Value {
    /// The adjoint type of the product.
    type G;
    /// The contribution to `x̄`.
    type Lhs<'a>: Contrib<Adj = Self::Adj>
    where
        Self: 'a,
        B: 'a;
    /// The contribution to `b̄`.
    type Rhs<'a>: Contrib<Adj = B::Adj>
    where
        Self: 'a,
        B: 'a;
    /// `x̄ += ∂⟨Ḡ, xᵀ b⟩/∂x`
    fn lhs<'a>(x: &'a Self, b: &'a B, g: &'a Self::G) -> Self::Lhs<'a>;
    /// `b̄ += ∂⟨Ḡ, xᵀ b⟩/∂b`
    fn rhs<'a>(x: &'a Self, b: &'a B, g: &'a Self::G) -> Self::Rhs<'a>;
}

/// The reverse rule of `a * x.transpose()` as written, chosen by the type of `a`.
#[diagnostic::on_unimplemented(
    message = "matgrad has no rule for `{Self} * {X}ᵀ`",
    note = "products of f32/f64 scalars and nalgebra matrices with matching scalar types are supported"
)]
pub trait MulTransposeRule<X: Value>: Value {
    /// The adjoint type of the product.
    type G;
    /// The contribution to `ā`.
    type Lhs<'a>: Contrib<Adj = Self::Adj>
    where
        Self: 'a,
        X: 'a;
    /// The contribution to `x̄`.
    type Rhs<'a>: Contrib<Adj = X::Adj>
    where
        Self: 'a,
        X: 'a;
    /// `ā += ∂⟨Ḡ, a xᵀ⟩/∂a`
    fn lhs<'a>(a: &'a Self, x: &'a X, g: &'a Self::G) -> Self::Lhs<'a>;
    /// `x̄ += ∂⟨Ḡ, a xᵀ⟩/∂x`
    fn rhs<'a>(a: &'a Self, x: &'a X, g: &'a Self::G) -> Self::Rhs<'a>;
}

// C = Xᵀ B      (X is R×C, B is R2×C2 with R2 = R; either may be fixed where the other is dynamic,
//               each contribution then in its operand's type)
// Neither impl repeats nalgebra's shape bound: the user's product checks the shapes, and a
// bound of the rule would fail a second time, reported at another span (unlike `MulRule`'s).
// X̄ += B Ḡᵀ
// B̄ += X Ḡ
impl<T, R, C, S, R2, C2, S2> TransposeMulRule<Matrix<T, R2, C2, S2>> for Matrix<T, R, C, S>
where
    T: Real,
    R: Dim,
    C: Dim,
    R2: Dim,
    C2: Dim,
    S: Storage<T, R, C>,
    S2: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R, C> + Allocator<R2, C2> + Allocator<C, C2> + Allocator<R2, C> + Allocator<R, C2>,
    DefaultAllocator: Allocator<C2, C>,
{
    type G = OMatrix<T, C, C2>;
    type Lhs<'a>
        = AsAdj<MulGradT<'a, T, R2, C2, S2, C, nalgebra::Owned<T, C, C2>>, OMatrix<T, R, C>>
    where
        Self: 'a,
        S2: 'a;
    type Rhs<'a>
        = AsAdj<MatMulNN<'a, T, R, C, S, C2, nalgebra::Owned<T, C, C2>>, OMatrix<T, R2, C2>>
    where
        Self: 'a,
        S2: 'a;
    #[inline]
    fn lhs<'a>(_: &'a Self, b: &'a Matrix<T, R2, C2, S2>, g: &'a Self::G) -> Self::Lhs<'a> {
        as_adj(MulGradT { a: b, g })
    }
    #[inline]
    fn rhs<'a>(x: &'a Self, _: &'a Matrix<T, R2, C2, S2>, g: &'a Self::G) -> Self::Rhs<'a> {
        as_adj(MatMulNN { a: x, b: g })
    }
}

// C = Xᵀ s
// X̄ += s Ḡᵀ
// s̄ += ⟨Xᵀ, Ḡ⟩
impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> TransposeMulRule<T> for Matrix<T, R, C, S>
where
    DefaultAllocator: Allocator<R, C> + Allocator<C, R>,
{
    type G = OMatrix<T, C, R>;
    type Lhs<'a>
        = OMatrix<T, R, C>
    where
        S: 'a;
    type Rhs<'a>
        = T
    where
        S: 'a;
    #[inline]
    fn lhs(_: &Self, s: &T, g: &OMatrix<T, C, R>) -> OMatrix<T, R, C> {
        g.transpose() * *s
    }
    #[inline]
    fn rhs(x: &Self, _: &T, g: &OMatrix<T, C, R>) -> T {
        x.tr_dot(g)
    }
}

// C = A Xᵀ      (A is R1×C1, X is R2×C2 with C2 = C1)
// Ā += Ḡ X
// X̄ += Ḡᵀ A
impl<T, R1, C1, S1, R2, C2, S2> MulTransposeRule<Matrix<T, R2, C2, S2>> for Matrix<T, R1, C1, S1>
where
    T: Real,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    S1: Storage<T, R1, C1>,
    S2: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R1, C1> + Allocator<R2, C2> + Allocator<R1, R2> + Allocator<R1, C2> + Allocator<R2, C1>,
{
    type G = OMatrix<T, R1, R2>;
    type Lhs<'a>
        = AsAdj<MatMulNN<'a, T, R1, R2, nalgebra::Owned<T, R1, R2>, C2, S2>, OMatrix<T, R1, C1>>
    where
        Self: 'a,
        S2: 'a;
    type Rhs<'a>
        = AsAdj<GradTMul<'a, T, R1, R2, nalgebra::Owned<T, R1, R2>, C1, S1>, OMatrix<T, R2, C2>>
    where
        Self: 'a,
        S2: 'a;
    #[inline]
    fn lhs<'a>(_: &'a Self, x: &'a Matrix<T, R2, C2, S2>, g: &'a Self::G) -> Self::Lhs<'a> {
        as_adj(MatMulNN { a: g, b: x })
    }
    #[inline]
    fn rhs<'a>(a: &'a Self, _: &'a Matrix<T, R2, C2, S2>, g: &'a Self::G) -> Self::Rhs<'a> {
        as_adj(GradTMul { g, a })
    }
}

// C = s Xᵀ
// s̄ += ⟨Xᵀ, Ḡ⟩
// X̄ += s Ḡᵀ
impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> MulTransposeRule<Matrix<T, R, C, S>> for T
where
    DefaultAllocator: Allocator<R, C> + Allocator<C, R>,
{
    type G = OMatrix<T, C, R>;
    type Lhs<'a>
        = T
    where
        S: 'a;
    type Rhs<'a>
        = OMatrix<T, R, C>
    where
        S: 'a;
    #[inline]
    fn lhs(_: &T, x: &Matrix<T, R, C, S>, g: &OMatrix<T, C, R>) -> T {
        x.tr_dot(g)
    }
    #[inline]
    fn rhs(s: &T, _: &Matrix<T, R, C, S>, g: &OMatrix<T, C, R>) -> OMatrix<T, R, C> {
        g.transpose() * *s
    }
}

/// [`TransposeMulRule`] for an adjoint of type `G` (see [`MulRuleFor`](super::MulRuleFor)).
pub trait TransposeMulRuleFor<B: Value, G>: TransposeMulRule<B, G = G> {}

impl<A: TransposeMulRule<B>, B: Value> TransposeMulRuleFor<B, A::G> for A {}

/// [`MulTransposeRule`] for an adjoint of type `G`.
pub trait MulTransposeRuleFor<X: Value, G>: MulTransposeRule<X, G = G> {}

impl<A: MulTransposeRule<X>, X: Value> MulTransposeRuleFor<X, A::G> for A {}

/// `c = x.transpose() * b`: the contribution to `x̄`.
#[inline(always)]
pub fn transpose_mul_lhs<'a, X: TransposeMulRuleFor<B, G>, B: Value, G>(x: &'a X, b: &'a B, g: &'a G) -> X::Lhs<'a> {
    X::lhs(x, b, g)
}

/// `c = x.transpose() * b`: the contribution to `b̄`.
#[inline(always)]
pub fn transpose_mul_rhs<'a, X: TransposeMulRuleFor<B, G>, B: Value, G>(x: &'a X, b: &'a B, g: &'a G) -> X::Rhs<'a> {
    X::rhs(x, b, g)
}

/// `c = a * x.transpose()`: the contribution to `ā`.
#[inline(always)]
pub fn mul_transpose_lhs<'a, A: MulTransposeRuleFor<X, G>, X: Value, G>(a: &'a A, x: &'a X, g: &'a G) -> A::Lhs<'a> {
    A::lhs(a, x, g)
}

/// `c = a * x.transpose()`: the contribution to `x̄`.
#[inline(always)]
pub fn mul_transpose_rhs<'a, A: MulTransposeRuleFor<X, G>, X: Value, G>(a: &'a A, x: &'a X, g: &'a G) -> A::Rhs<'a> {
    A::rhs(a, x, g)
}
