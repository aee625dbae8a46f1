//! `+ - * /` and unary `-` on scalars and matrices.
//!
//! `+`, `-` and unary `-` pass the adjoint through unchanged (generated code moves or shares
//! it); `*` and `/` need the operand types, so they go through [`MulRule`] and [`DivRule`].

use super::dims::{as_adj, AsAdj};
use super::lazy::Axpy;
use super::matmul::{GradMulT, TMulGrad};
use crate::contrib::Contrib;
use crate::value::{Real, Value};
use nalgebra::allocator::Allocator;
use nalgebra::constraint::{AreMultipliable, ShapeConstraint};
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage};

/// The reverse rule of `a * b`, chosen by the operand types.
#[diagnostic::on_unimplemented(
    message = "matgrad has no rule for `{Self} * {B}`",
    note = "products of f32/f64 scalars and nalgebra matrices with matching scalar types are supported"
)]
pub trait MulRule<B: Value>: Value {
    /// The adjoint type of the product.
    type G;
    /// The contribution to `ā`.
    type Lhs<'a>: Contrib<Adj = Self::Adj>
    where
        Self: 'a,
        B: 'a;
    /// The contribution to `b̄`.
    type Rhs<'a>: Contrib<Adj = B::Adj>
    where
        Self: 'a,
        B: 'a;
    /// `ā += ∂⟨Ḡ, a b⟩/∂a`
    fn lhs<'a>(a: &'a Self, b: &'a B, g: &'a Self::G) -> Self::Lhs<'a>;
    /// `b̄ += ∂⟨Ḡ, a b⟩/∂b`
    fn rhs<'a>(a: &'a Self, b: &'a B, g: &'a Self::G) -> Self::Rhs<'a>;
}

// c = a b (scalars)
// ā += ḡ b
// b̄ += a ḡ
// One impl per scalar type, not one for every `T: Real`: a blanket impl's header would also
// match a product of two matrices of one type, and a wrong shape (`a * b` with `a`, `b` both
// 2×3) would then be reported a second time, as "`Matrix` is not f32 or f64".
macro_rules! scalar_mul_rule {
    ($($t:ty),*) => {$(
        impl MulRule<$t> for $t {
            type G = $t;
            type Lhs<'a> = $t;
            type Rhs<'a> = $t;
            #[inline(always)]
            fn lhs(_: &$t, b: &$t, g: &$t) -> $t {
                *g * *b
            }
            #[inline(always)]
            fn rhs(a: &$t, _: &$t, g: &$t) -> $t {
                *a * *g
            }
        }
    )*};
}

scalar_mul_rule!(f32, f64);

// Y = s X
// s̄ += ⟨Ḡ, X⟩
// X̄ += s Ḡ
impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> MulRule<Matrix<T, R, C, S>> for T
where
    DefaultAllocator: Allocator<R, C>,
{
    type G = OMatrix<T, R, C>;
    type Lhs<'a>
        = T
    where
        S: 'a;
    type Rhs<'a>
        = Axpy<'a, OMatrix<T, R, C>>
    where
        S: 'a;
    #[inline]
    fn lhs(_: &T, x: &Matrix<T, R, C, S>, g: &OMatrix<T, R, C>) -> T {
        x.inner(g)
    }
    #[inline]
    fn rhs<'a>(s: &'a T, _: &'a Matrix<T, R, C, S>, g: &'a OMatrix<T, R, C>) -> Self::Rhs<'a> {
        Axpy { a: *s, x: g }
    }
}

// Y = X s
// X̄ += s Ḡ
// s̄ += ⟨Ḡ, X⟩
impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> MulRule<T> for Matrix<T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type G = OMatrix<T, R, C>;
    type Lhs<'a>
        = Axpy<'a, OMatrix<T, R, C>>
    where
        S: 'a;
    type Rhs<'a>
        = T
    where
        S: 'a;
    #[inline]
    fn lhs<'a>(_: &'a Self, s: &'a T, g: &'a OMatrix<T, R, C>) -> Self::Lhs<'a> {
        Axpy { a: *s, x: g }
    }
    #[inline]
    fn rhs(x: &Self, _: &T, g: &OMatrix<T, R, C>) -> T {
        x.inner(g)
    }
}

// C = A B
// Ā += Ḡ Bᵀ
// B̄ += Aᵀ Ḡ
// One impl for every pair of shapes nalgebra multiplies, bounded by nalgebra's own
// `AreMultipliable`: where the inner dimensions differ, the product in the user's code fails on
// that bound and this impl fails on the same one, at the same span, which rustc reports once.
// The inner dimension may be fixed on one side and dynamic on the other (`Matrix3 * DMatrix`):
// each contribution is then computed in the product's types and converted into its operand's
// (`AsAdj`, a move when the types are the same).
impl<T, R1, C1, S1, R2, C2, S2> MulRule<Matrix<T, R2, C2, S2>> for Matrix<T, R1, C1, S1>
where
    T: Real,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    S1: Storage<T, R1, C1>,
    S2: Storage<T, R2, C2>,
    ShapeConstraint: AreMultipliable<R1, C1, R2, C2>,
    DefaultAllocator: Allocator<R1, C1> + Allocator<R2, C2> + Allocator<R1, C2> + Allocator<R1, R2>,
    DefaultAllocator: Allocator<C2, R2> + Allocator<C1, C2> + Allocator<C1, R1> + Allocator<C2, R1>,
{
    type G = OMatrix<T, R1, C2>;
    type Lhs<'a>
        = AsAdj<GradMulT<'a, T, R1, C2, nalgebra::Owned<T, R1, C2>, R2, S2>, OMatrix<T, R1, C1>>
    where
        Self: 'a,
        S2: 'a;
    type Rhs<'a>
        = AsAdj<TMulGrad<'a, T, R1, C1, S1, C2, nalgebra::Owned<T, R1, C2>>, OMatrix<T, R2, C2>>
    where
        Self: 'a,
        S2: 'a;
    #[inline]
    fn lhs<'a>(_: &'a Self, b: &'a Matrix<T, R2, C2, S2>, g: &'a Self::G) -> Self::Lhs<'a> {
        as_adj(GradMulT { g, b })
    }
    #[inline]
    fn rhs<'a>(a: &'a Self, _: &'a Matrix<T, R2, C2, S2>, g: &'a Self::G) -> Self::Rhs<'a> {
        as_adj(TMulGrad { a, g })
    }
}

/// [`MulRule`] for an adjoint of type `G`: the bound of [`mul_lhs`] and [`mul_rhs`] names the
/// adjoint's type, so that where the product itself does not type-check (a shape mismatch that
/// rustc reports on the user's `*`), this bound is not reported again.
pub trait MulRuleFor<B: Value, G>: MulRule<B, G = G> {}

impl<A: MulRule<B>, B: Value> MulRuleFor<B, A::G> for A {}

/// `c = a * b`: the contribution to `ā`.
#[inline(always)]
pub fn mul_lhs<'a, A: MulRuleFor<B, G>, B: Value, G>(a: &'a A, b: &'a B, g: &'a G) -> A::Lhs<'a> {
    A::lhs(a, b, g)
}

/// `c = a * b`: the contribution to `b̄`.
#[inline(always)]
pub fn mul_rhs<'a, A: MulRuleFor<B, G>, B: Value, G>(a: &'a A, b: &'a B, g: &'a G) -> A::Rhs<'a> {
    A::rhs(a, b, g)
}

// Y = X / s   (X a scalar or a matrix, s a scalar)
// X̄ += Ḡ / s
// s̄ -= ⟨Ḡ, X⟩ / s² = ⟨Ḡ, Y⟩ / s, and for X = 1 (a reciprocal) ḡ y², with no division
/// `y = x / s`: the contribution to `x̄`.
#[inline]
pub fn div_lhs<'a, A: Value, Y>(_x: &A, s: &A::Scalar, _y: &Y, g: &'a A::Adj) -> Axpy<'a, A::Adj> {
    Axpy { a: nalgebra::one::<A::Scalar>() / *s, x: g }
}

/// `y = x / s`: the contribution to `s̄` (from the forward value `y`).
#[inline]
pub fn div_rhs<A: Value, Y: Value<Scalar = A::Scalar, Adj = A::Adj>>(
    x: &A,
    s: &A::Scalar,
    y: &Y,
    g: &A::Adj,
) -> A::Scalar {
    let yg = y.inner(g);
    match (x.as_scalar(), y.as_scalar()) {
        (Some(x), Some(y)) if x == nalgebra::one::<A::Scalar>() => -(yg * y),
        _ => -yg / *s,
    }
}
