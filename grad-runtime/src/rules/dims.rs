//! Contributions to an operand whose dimension types differ from the op's value's.
//!
//! nalgebra accepts operands of equal size whose dimension types differ (`DMatrix + RowDVector`,
//! `Matrix3 + DMatrix`, `m.component_mul(&r)`, `m.dot(&v)` with `m` an n×1 `DMatrix`); the
//! value then has the more static of each pair of dimensions, and so has its adjoint `Ḡ`. An
//! operand's adjoint keeps the operand's own type: each contribution is converted into it,
//! the shapes being equal (nalgebra checked them in the forward pass).
//!
//! Which conversion happens is decided by rustc's types: where the types are the same (the
//! common case) the contribution is moved, or accumulated in place, unchanged; otherwise its
//! entries are copied into a matrix of the operand's type (same shape, same column-major order).

use crate::contrib::Contrib;
use crate::value::{Adjoint, MatArg, Real, Value};
use core::any::Any;
use core::marker::PhantomData;
use core::ops::Deref;
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, MatrixView, OMatrix, RawStorage};

/// `a` as a `B` when `A` and `B` are the same type (moved, no copy), `Err(a)` otherwise.
#[inline(always)]
fn cast<A: 'static, B: 'static>(a: A) -> Result<B, A> {
    let mut slot = Some(a);
    let same = (&mut slot as &mut dyn Any).downcast_mut::<Option<B>>().and_then(Option::take);
    match (same, slot) {
        (Some(b), _) => Ok(b),
        (None, Some(a)) => Err(a),
        (None, None) => unreachable!("the value was taken only when the types are the same"),
    }
}

/// An adjoint that can become an adjoint of type `A` of the same shape.
pub trait ConvertAdj<A>: Adjoint + 'static {
    /// `self` as an `A`: moved when `A` is `Self`, copied otherwise.
    fn convert(self) -> A;
    /// `self` read as an `A`: borrowed when `A` is `Self`, copied otherwise.
    fn convert_ref(&self) -> Aliased<'_, A>;
    /// `acc` as a `Self` when `A` is `Self`.
    fn as_same(acc: &mut A) -> Option<&mut Self>;
}

// A scalar's adjoint is a scalar of the same type.
impl<T: Real> ConvertAdj<T> for T {
    #[inline(always)]
    fn convert(self) -> T {
        self
    }
    #[inline(always)]
    fn convert_ref(&self) -> Aliased<'_, T> {
        Aliased::Same(self)
    }
    #[inline(always)]
    fn as_same(acc: &mut T) -> Option<&mut T> {
        Some(acc)
    }
}

// M̄ (R1×C1) as an R2×C2 matrix of the same shape: the same entries in the same order.
impl<T: Real, R1: Dim, C1: Dim, R2: Dim, C2: Dim> ConvertAdj<OMatrix<T, R2, C2>> for OMatrix<T, R1, C1>
where
    DefaultAllocator: Allocator<R1, C1> + Allocator<R2, C2>,
{
    #[inline]
    fn convert(self) -> OMatrix<T, R2, C2> {
        cast(self).unwrap_or_else(|m: Self| copy_into(&m))
    }
    #[inline]
    fn convert_ref(&self) -> Aliased<'_, OMatrix<T, R2, C2>> {
        match (self as &dyn Any).downcast_ref::<OMatrix<T, R2, C2>>() {
            Some(same) => Aliased::Same(same),
            None => Aliased::Copied(copy_into(self)),
        }
    }
    #[inline]
    fn as_same(acc: &mut OMatrix<T, R2, C2>) -> Option<&mut Self> {
        (acc as &mut dyn Any).downcast_mut::<Self>()
    }
}

/// The entries of `m` in a matrix with the dimension types `R2`, `C2` (an empty `m`, the zeros
/// an adjoint of a dynamic shape starts from, is the zero matrix of the static dimensions).
fn copy_into<T: Real, R1: Dim, C1: Dim, S, R2: Dim, C2: Dim>(m: &Matrix<T, R1, C1, S>) -> OMatrix<T, R2, C2>
where
    S: RawStorage<T, R1, C1>,
    DefaultAllocator: Allocator<R2, C2>,
{
    let dim = |static_size: Option<usize>, n: usize| match m.is_empty() {
        true => static_size.unwrap_or(0),
        false => n,
    };
    let r = R2::from_usize(dim(R2::try_to_usize(), m.nrows()));
    let c = C2::from_usize(dim(C2::try_to_usize(), m.ncols()));
    match m.is_empty() {
        true => OMatrix::zeros_generic(r, c),
        false => OMatrix::from_iterator_generic(r, c, m.iter().copied()),
    }
}

/// `m` (any storage) viewed with the dimension types `R2`, `C2` of the same shape: no copy.
#[inline(always)]
pub(crate) fn view_as<T, R1: Dim, C1: Dim, S: RawStorage<T, R1, C1>, R2: Dim, C2: Dim>(
    m: &Matrix<T, R1, C1, S>,
) -> MatrixView<'_, T, R2, C2, S::RStride, S::CStride>
where
    T: nalgebra::Scalar,
{
    m.generic_view((0, 0), (R2::from_usize(m.nrows()), C2::from_usize(m.ncols())))
}

/// An adjoint read as another operand's: borrowed when the types are the same.
pub enum Aliased<'a, A> {
    /// The adjoint itself.
    Same(&'a A),
    /// A copy with the operand's dimension types.
    Copied(A),
}

impl<A> Deref for Aliased<'_, A> {
    type Target = A;
    #[inline(always)]
    fn deref(&self) -> &A {
        match self {
            Aliased::Same(a) => a,
            Aliased::Copied(a) => a,
        }
    }
}

/// The type of a value's adjoint, carried from the forward pass to the reverse pass (a value
/// the forward pass moves is gone by then; its type is not). It has no size.
pub struct AdjType<A>(PhantomData<fn() -> A>);

impl<A> Clone for AdjType<A> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for AdjType<A> {}

/// The type of `v`'s adjoint (see [`AdjType`]).
#[inline(always)]
pub fn adj_type<V: Value + ?Sized>(_v: &V) -> AdjType<V::Adj> {
    AdjType(PhantomData)
}

/// The adjoint type of a matrix a rule reads ([`MatArg`]).
pub type MatAdj<X> = OMatrix<<X as MatArg>::T, <X as MatArg>::R, <X as MatArg>::C>;

/// A contribution `C` converted into the adjoint type of the operand `X` (see [`AsAdj`]).
pub type IntoAdjOf<C, X> = AsAdj<C, MatAdj<X>>;

/// A contribution converted into the adjoint type `A` (see [`ConvertAdj`]).
pub struct AsAdj<C, A>(pub C, PhantomData<fn() -> A>);

/// `c` as a contribution to an adjoint of the type `A`.
#[inline(always)]
pub fn as_adj<C: Contrib, A>(c: C) -> AsAdj<C, A>
where
    C::Adj: ConvertAdj<A>,
{
    AsAdj(c, PhantomData)
}

// y = a + b, y = a − b (operands of equal shape)
// ā += Ḡ, b̄ ±= Ḡ, each in the operand's own type
/// A contribution that passes `ḡ` to an operand of adjoint type `A` (the operand's
/// [`AdjType`], from the forward pass).
#[inline(always)]
pub fn pass_as<C: Contrib, A>(_operand: AdjType<A>, c: C) -> AsAdj<C, A>
where
    C::Adj: ConvertAdj<A>,
{
    as_adj(c)
}

/// `ḡ` read as the adjoint of an operand of adjoint type `A`, for a term of a sum that receives
/// nothing else: borrowed when the types are the same.
#[inline(always)]
pub fn alias_as<G: ConvertAdj<A>, A>(_operand: AdjType<A>, g: &G) -> Aliased<'_, A> {
    g.convert_ref()
}

impl<C: Contrib, A: Adjoint> Contrib for AsAdj<C, A>
where
    C::Adj: ConvertAdj<A>,
{
    type Adj = A;
    #[inline(always)]
    fn init(self) -> A {
        self.0.init().convert()
    }
    #[inline(always)]
    fn add_to(self, acc: &mut A) {
        match <C::Adj as ConvertAdj<A>>::as_same(acc) {
            Some(acc) => self.0.add_to(acc),
            None => acc.add_assign_ref(&self.0.init().convert()),
        }
    }
    #[inline(always)]
    fn sub_from(self, acc: &mut A) {
        match <C::Adj as ConvertAdj<A>>::as_same(acc) {
            Some(acc) => self.0.sub_from(acc),
            None => acc.sub_assign_ref(&self.0.init().convert()),
        }
    }
    #[inline(always)]
    fn init_neg(self) -> A {
        self.0.init_neg().convert()
    }
}
