//! Lazy contributions: computed straight into a new adjoint, or accumulated in place.

use crate::contrib::Contrib;
use crate::value::{Adjoint, Real};
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage};

/// `a · x` for an adjoint `x`: moved and scaled in place when it starts an adjoint,
/// `acc += a x` otherwise.
pub struct Axpy<'a, A: Adjoint> {
    /// The factor.
    pub a: A::Scalar,
    /// The adjoint scaled.
    pub x: &'a A,
}

impl<A: Adjoint> Contrib for Axpy<'_, A> {
    type Adj = A;
    #[inline]
    fn init(self) -> A {
        let mut y = self.x.clone();
        y.scale_in_place(self.a);
        y
    }
    #[inline]
    fn add_to(self, acc: &mut A) {
        acc.axpy_ref(self.a, self.x);
    }
}

/// `a · V` for a forward value `V` of any storage (a view, a parameter): its contribution is
/// an owned matrix of the same shape.
pub struct ScaledValue<'a, T, R: Dim, C: Dim, S> {
    /// The factor.
    pub a: T,
    /// The value scaled.
    pub v: &'a Matrix<T, R, C, S>,
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> Contrib for ScaledValue<'_, T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    #[inline]
    fn init(self) -> OMatrix<T, R, C> {
        self.v * self.a
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        let a = self.a;
        acc.zip_apply(self.v, |y, x| *y += a * x);
    }
}

/// `G ⊙ V`: the elementwise rules' contribution.
pub struct Hadamard<'a, T, R: Dim, C: Dim, SG, S> {
    /// An adjoint.
    pub g: &'a Matrix<T, R, C, SG>,
    /// A forward value (or stored derivative) of the same shape.
    pub v: &'a Matrix<T, R, C, S>,
}

impl<T: Real, R: Dim, C: Dim, SG, S> Contrib for Hadamard<'_, T, R, C, SG, S>
where
    SG: Storage<T, R, C>,
    S: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    #[inline]
    fn init(self) -> OMatrix<T, R, C> {
        self.g.component_mul(self.v)
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        acc.cmpy(nalgebra::one::<T>(), self.g, self.v, nalgebra::one::<T>());
    }
}

/// `s 11ᵀ`: a constant matrix of the shape of `V`.
pub struct Fill<'a, T, R: Dim, C: Dim, S> {
    /// The value of every entry.
    pub s: T,
    /// The value whose shape is taken.
    pub like: &'a Matrix<T, R, C, S>,
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> Contrib for Fill<'_, T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    #[inline]
    fn init(self) -> OMatrix<T, R, C> {
        let (r, c) = self.like.shape_generic();
        OMatrix::from_element_generic(r, c, self.s)
    }
    #[inline]
    fn add_to(self, acc: &mut OMatrix<T, R, C>) {
        acc.add_scalar_mut(self.s);
    }
}
