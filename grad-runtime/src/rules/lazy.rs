//! Lazy contributions: computed straight into a new adjoint, or accumulated in place.

use super::dims::{view_as, ConvertAdj};
use crate::contrib::Contrib;
use crate::value::{Adjoint, MatArg, Real};
use nalgebra::allocator::Allocator;
use nalgebra::storage::IsContiguous;
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

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C> + IsContiguous> Contrib for ScaledValue<'_, T, R, C, S>
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
        assert_eq!(acc.shape(), self.v.shape());
        for (y, &x) in acc.as_mut_slice().iter_mut().zip(self.v.as_slice()) {
            *y += a * x;
        }
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

/// `a · X` for a matrix `X` borrowed or owned ([`MatArg`]): an owned `X` is scaled in place
/// when it starts an adjoint, and a sign in front ([`Neg`](crate::contrib::Neg)) folds into `a`.
pub struct Scaled<X: MatArg> {
    /// The factor.
    pub a: X::T,
    /// The matrix scaled.
    pub x: X,
}

impl<X: MatArg> Contrib for Scaled<X>
where
    DefaultAllocator: Allocator<X::R, X::C>,
{
    type Adj = OMatrix<X::T, X::R, X::C>;
    #[inline]
    fn init(self) -> Self::Adj {
        let a = self.a;
        self.x.map_into(|v| a * v)
    }
    #[inline]
    fn init_neg(self) -> Self::Adj {
        let a = -self.a;
        self.x.map_into(|v| a * v)
    }
    #[inline]
    fn add_to(self, acc: &mut Self::Adj) {
        let a = self.a;
        acc.zip_apply(self.x.mat(), |y, x| *y += a * x);
    }
    #[inline]
    fn sub_from(self, acc: &mut Self::Adj) {
        let a = self.a;
        acc.zip_apply(self.x.mat(), |y, x| *y -= a * x);
    }
}

/// `A ⊙ B` for matrices borrowed or owned ([`MatArg`]): computed into an owned operand's
/// buffer when it starts an adjoint, accumulated with `cmpy` otherwise. `B` may have other
/// dimension types than `A` of the same shape (`DMatrix` and `RowDVector`); the product has `A`'s.
pub struct ElementwiseMul<A, B> {
    /// One factor (usually an adjoint).
    pub a: A,
    /// The other (a forward value or a stored derivative).
    pub b: B,
}

impl<A: MatArg, B: MatArg<T = A::T>> ElementwiseMul<A, B>
where
    DefaultAllocator: Allocator<A::R, A::C> + Allocator<B::R, B::C>,
{
    /// `f(a, b)` entrywise, in `b`'s buffer when only `b` is owned and has `A`'s type.
    #[inline]
    fn product(self, f: impl Fn(A::T, A::T) -> A::T) -> OMatrix<A::T, A::R, A::C> {
        use core::any::TypeId;
        let same = TypeId::of::<(A::R, A::C)>() == TypeId::of::<(B::R, B::C)>();
        if A::OWNED && B::OWNED {
            // Both owned, so both contiguous: one pass over the two buffers (same shape, both
            // column-major), into `a`'s.
            assert_eq!(self.a.mat().shape(), self.b.mat().shape(), "matgrad: entrywise product of different shapes");
            let (mut out, b) = (self.a.into_mat(), self.b.into_mat());
            out.as_mut_slice().iter_mut().zip(b.as_slice()).for_each(|(a, &b)| *a = f(*a, b));
            out
        } else if B::OWNED && same {
            let out = self.b.zip_into(&view_as::<_, _, _, _, B::R, B::C>(self.a.mat()), |b, a| f(a, b));
            ConvertAdj::<OMatrix<A::T, A::R, A::C>>::convert(out)
        } else {
            self.a.zip_into(&view_as::<_, _, _, _, A::R, A::C>(self.b.mat()), f)
        }
    }
}

impl<A: MatArg, B: MatArg<T = A::T>> Contrib for ElementwiseMul<A, B>
where
    DefaultAllocator: Allocator<A::R, A::C> + Allocator<B::R, B::C>,
{
    type Adj = OMatrix<A::T, A::R, A::C>;
    #[inline]
    fn init(self) -> Self::Adj {
        self.product(|a, b| a * b)
    }
    #[inline]
    fn init_neg(self) -> Self::Adj {
        self.product(|a, b| -(a * b))
    }
    #[inline]
    fn add_to(self, acc: &mut Self::Adj) {
        acc.cmpy(
            nalgebra::one::<A::T>(),
            self.a.mat(),
            &view_as::<_, _, _, _, A::R, A::C>(self.b.mat()),
            nalgebra::one::<A::T>(),
        );
    }
    #[inline]
    fn sub_from(self, acc: &mut Self::Adj) {
        acc.cmpy(
            -nalgebra::one::<A::T>(),
            self.a.mat(),
            &view_as::<_, _, _, _, A::R, A::C>(self.b.mat()),
            nalgebra::one::<A::T>(),
        );
    }
}

/// `s 11ᵀ` shaped like a matrix borrowed or owned ([`MatArg`]): an owned one is filled in place.
pub struct Filled<X: MatArg> {
    /// The value of every entry.
    pub s: X::T,
    /// The matrix whose shape (and, when owned, buffer) is taken.
    pub like: X,
}

impl<X: MatArg> Contrib for Filled<X>
where
    DefaultAllocator: Allocator<X::R, X::C>,
{
    type Adj = OMatrix<X::T, X::R, X::C>;
    #[inline]
    fn init(self) -> Self::Adj {
        let s = self.s;
        if X::OWNED {
            let mut m = self.like.into_mat();
            m.fill(s);
            m
        } else {
            let (r, c) = self.like.mat().shape_generic();
            OMatrix::from_element_generic(r, c, s)
        }
    }
    #[inline]
    fn add_to(self, acc: &mut Self::Adj) {
        acc.add_scalar_mut(self.s);
    }
}
