//! What a differentiable value is: a float scalar or an nalgebra matrix.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, RawStorage, RealField, Storage, StorageMut};

/// A float scalar matgrad differentiates: `f32` or `f64`.
///
/// Generic functions (`fn f<T: RealField + Copy>`) get a `_grad` bounded by `T: Real`. The
/// product of two scalars is a supertrait (implemented once per scalar type, see
/// `MulRule`), so that a generic body's `s * t` finds its rule.
#[diagnostic::on_unimplemented(
    message = "matgrad differentiates f32 and f64 scalars, not `{Self}`",
    note = "the value of a `#[differentiate]` function and its float parameters must be f32 or f64"
)]
pub trait Real:
    RealField
    + Copy
    + crate::lanes::Lanes
    + Value<Scalar = Self, Adj = Self>
    + for<'a> crate::__private::MulRule<Self, G = Self, Lhs<'a> = Self, Rhs<'a> = Self>
{
}

impl Real for f32 {}
impl Real for f64 {}

/// A value that has an adjoint: a [`Real`] scalar or an nalgebra matrix of one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a value matgrad can differentiate",
    note = "differentiable values are f32/f64 scalars and nalgebra matrices or vectors of them"
)]
pub trait Value {
    /// The scalar type.
    type Scalar: Real;
    /// The owned type of this value's adjoint (and gradient): same shape, owned storage.
    type Adj: Adjoint<Scalar = Self::Scalar>;
    /// An adjoint of zeros with this value's shape.
    fn zeros_adj(&self) -> Self::Adj;
    /// The Frobenius inner product `⟨self, adj⟩` (a product for scalars).
    fn inner(&self, adj: &Self::Adj) -> Self::Scalar;
    /// The value itself if it is a scalar.
    fn as_scalar(&self) -> Option<Self::Scalar>;
}

impl<T: Real> Value for T {
    type Scalar = T;
    type Adj = T;
    fn zeros_adj(&self) -> T {
        nalgebra::zero::<T>()
    }
    fn inner(&self, adj: &T) -> T {
        *self * *adj
    }
    #[inline(always)]
    fn as_scalar(&self) -> Option<T> {
        Some(*self)
    }
}

impl<T: Real, R: Dim, C: Dim, S: RawStorage<T, R, C>> Value for Matrix<T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Scalar = T;
    type Adj = OMatrix<T, R, C>;
    fn zeros_adj(&self) -> OMatrix<T, R, C> {
        let (r, c) = self.shape_generic();
        OMatrix::zeros_generic(r, c)
    }
    fn inner(&self, adj: &OMatrix<T, R, C>) -> T {
        self.zip_fold(adj, nalgebra::zero::<T>(), |acc, a, b| acc + a * b)
    }
    #[inline(always)]
    fn as_scalar(&self) -> Option<T> {
        None
    }
}

/// An owned adjoint: what gradients accumulate in.
pub trait Adjoint: Clone {
    /// The scalar type.
    type Scalar: Real;
    /// `self += other`
    fn add_assign_ref(&mut self, other: &Self);
    /// `self -= other`
    fn sub_assign_ref(&mut self, other: &Self);
    /// `self = -self`
    fn neg_in_place(&mut self);
    /// `self *= s`
    fn scale_in_place(&mut self, s: Self::Scalar);
    /// `self += a * x`
    fn axpy_ref(&mut self, a: Self::Scalar, x: &Self);
    /// Whether the adjoint has no entries (a matrix with a zero dimension).
    fn is_empty_adjoint(&self) -> bool {
        false
    }
}

impl<T: Real> Adjoint for T {
    type Scalar = T;
    fn add_assign_ref(&mut self, other: &T) {
        *self += *other;
    }
    fn sub_assign_ref(&mut self, other: &T) {
        *self -= *other;
    }
    fn neg_in_place(&mut self) {
        *self = -*self;
    }
    fn scale_in_place(&mut self, s: T) {
        *self *= s;
    }
    fn axpy_ref(&mut self, a: T, x: &T) {
        *self += a * *x;
    }
}

impl<T: Real, R: Dim, C: Dim, S> Adjoint for Matrix<T, R, C, S>
where
    S: StorageMut<T, R, C> + Storage<T, R, C> + Clone,
{
    type Scalar = T;
    fn add_assign_ref(&mut self, other: &Self) {
        *self += other;
    }
    fn sub_assign_ref(&mut self, other: &Self) {
        *self -= other;
    }
    fn neg_in_place(&mut self) {
        self.neg_mut();
    }
    fn scale_in_place(&mut self, s: T) {
        *self *= s;
    }
    fn axpy_ref(&mut self, a: T, x: &Self) {
        self.zip_apply(x, |y, x| *y += a * x);
    }
    #[inline(always)]
    fn is_empty_adjoint(&self) -> bool {
        self.nrows() == 0 || self.ncols() == 0
    }
}

/// How generated code passes an operand to an operator: scalars by value, matrices by
/// reference, so that `s * &m`, `&m * s`, `&a * &b` and `s * t` are all written the same way.
pub trait Operand {
    /// `Self` for scalars, `&Self` for matrices.
    type Ref<'a>
    where
        Self: 'a;
    /// The operand form of `self`.
    fn operand(&self) -> Self::Ref<'_>;
}

impl<T: Real> Operand for T {
    type Ref<'a> = T;
    fn operand(&self) -> T {
        *self
    }
}

impl<T, R: Dim, C: Dim, S: RawStorage<T, R, C>> Operand for Matrix<T, R, C, S> {
    type Ref<'a>
        = &'a Self
    where
        Self: 'a;
    fn operand(&self) -> &Self {
        self
    }
}

/// Integers (a counter in a loop, an index) are operands of arithmetic on constants.
macro_rules! integer_operands {
    ($($t:ty),*) => {$(
        impl Operand for $t {
            type Ref<'a> = $t;
            #[inline(always)]
            fn operand(&self) -> $t {
                *self
            }
        }
    )*};
}

integer_operands!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

/// The operand form of a value (see [`Operand`]).
#[inline(always)]
pub fn by_ref<V: Operand + ?Sized>(v: &V) -> V::Ref<'_> {
    v.operand()
}

/// `1` of the type of `x`: the seed of a `map` closure's reverse sweep.
#[inline(always)]
pub fn one_like<T: Real>(_x: &T) -> T {
    nalgebra::one::<T>()
}

/// The seed of the reverse sweep: `∂f/∂f = 1`.
#[inline(always)]
pub fn one<T: Real>() -> T {
    nalgebra::one::<T>()
}

/// Zeros shaped like `v`: the gradient of a parameter no contribution reached.
#[inline(always)]
pub fn zero_like<V: Value + ?Sized>(v: &V) -> V::Adj {
    v.zeros_adj()
}

// A factorization stands for the matrix it factors: its adjoint is that matrix's adjoint, so
// `cholesky()` and `lu()` pass the adjoint straight through, and the rules on a factorization
// (`solve`, `inverse`, `determinant`, …) contribute to the factored matrix.

impl<T: Real, D: Dim> Value for nalgebra::Cholesky<T, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    type Scalar = T;
    type Adj = OMatrix<T, D, D>;
    fn zeros_adj(&self) -> OMatrix<T, D, D> {
        let (r, c) = self.l_dirty().shape_generic();
        OMatrix::zeros_generic(r, c)
    }
    /// `⟨S, adj⟩` with `S = L Lᵀ` the factored matrix.
    fn inner(&self, adj: &OMatrix<T, D, D>) -> T {
        let l = self.l();
        (&l * l.transpose()).inner(adj)
    }
    fn as_scalar(&self) -> Option<T> {
        None
    }
}

impl<T: Real, D: nalgebra::DimMin<D, Output = D>> Value for nalgebra::LU<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    type Scalar = T;
    type Adj = OMatrix<T, D, D>;
    fn zeros_adj(&self) -> OMatrix<T, D, D> {
        let (r, c) = self.u().shape_generic();
        OMatrix::zeros_generic(r, c)
    }
    /// `⟨A, adj⟩` with `A = P⁻¹ L U` the factored matrix.
    fn inner(&self, adj: &OMatrix<T, D, D>) -> T {
        let mut a = self.l() * self.u();
        self.p().inv_permute_rows(&mut a);
        a.inner(adj)
    }
    fn as_scalar(&self) -> Option<T> {
        None
    }
}

impl<T: Real, D: Dim> Operand for nalgebra::Cholesky<T, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    type Ref<'a>
        = &'a Self
    where
        Self: 'a;
    fn operand(&self) -> &Self {
        self
    }
}

impl<T: Real, D: nalgebra::DimMin<D, Output = D>> Operand for nalgebra::LU<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    type Ref<'a>
        = &'a Self
    where
        Self: 'a;
    fn operand(&self) -> &Self {
        self
    }
}

/// The receiver of a method that may take `self` by value (`try_inverse`, `cholesky`, `lu`),
/// when the value is still needed afterwards: a matrix is cloned (`clone_owned`), a
/// factorization, whose methods take `&self`, is lent.
pub trait Receiver {
    /// What the method is called on.
    type Taken<'a>
    where
        Self: 'a;
    /// The receiver.
    fn take(&self) -> Self::Taken<'_>;
}

impl<T: Real> Receiver for T {
    type Taken<'a>
        = T
    where
        Self: 'a;
    fn take(&self) -> T {
        *self
    }
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> Receiver for Matrix<T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Taken<'a>
        = OMatrix<T, R, C>
    where
        Self: 'a;
    fn take(&self) -> OMatrix<T, R, C> {
        self.clone_owned()
    }
}

impl<T: Real, D: nalgebra::DimMin<D, Output = D>> Receiver for nalgebra::LU<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    type Taken<'a>
        = &'a Self
    where
        Self: 'a;
    fn take(&self) -> &Self {
        self
    }
}

/// The receiver of a by-value method call on a value still needed (see [`Receiver`]).
#[inline(always)]
pub fn take<V: Receiver + ?Sized>(v: &V) -> V::Taken<'_> {
    v.take()
}

/// A matrix a rule reads: borrowed (`&M`, any storage), or owned when generated code passes it
/// at its last use, so that the rule can write its result into the matrix's buffer instead of
/// allocating a new one.
pub trait MatArg: Sized {
    /// The scalar type.
    type T: Real;
    /// The number of rows.
    type R: Dim;
    /// The number of columns.
    type C: Dim;
    /// The storage.
    type S: Storage<Self::T, Self::R, Self::C>;
    /// Whether the argument is owned (its buffer can be reused).
    const OWNED: bool;
    /// The matrix.
    fn mat(&self) -> &Matrix<Self::T, Self::R, Self::C, Self::S>;
    /// The matrix as an owned one: moved when owned, copied when borrowed.
    fn into_mat(self) -> OMatrix<Self::T, Self::R, Self::C>
    where
        DefaultAllocator: Allocator<Self::R, Self::C>;
    /// `f(x)` entrywise, into the argument's buffer when it is owned.
    fn map_into(self, f: impl FnMut(Self::T) -> Self::T) -> OMatrix<Self::T, Self::R, Self::C>
    where
        DefaultAllocator: Allocator<Self::R, Self::C>;
    /// `f(x, y)` entrywise, into the argument's buffer when it is owned.
    fn zip_into<S2: Storage<Self::T, Self::R, Self::C>>(
        self,
        y: &Matrix<Self::T, Self::R, Self::C, S2>,
        f: impl FnMut(Self::T, Self::T) -> Self::T,
    ) -> OMatrix<Self::T, Self::R, Self::C>
    where
        DefaultAllocator: Allocator<Self::R, Self::C>;
}

/// Borrowed: computed into a new matrix.
impl<X: MatArg> MatArg for &X {
    type T = X::T;
    type R = X::R;
    type C = X::C;
    type S = X::S;
    const OWNED: bool = false;
    #[inline(always)]
    fn mat(&self) -> &Matrix<X::T, X::R, X::C, X::S> {
        (**self).mat()
    }
    #[inline]
    fn into_mat(self) -> OMatrix<X::T, X::R, X::C>
    where
        DefaultAllocator: Allocator<X::R, X::C>,
    {
        self.mat().clone_owned()
    }
    #[inline]
    fn map_into(self, f: impl FnMut(X::T) -> X::T) -> OMatrix<X::T, X::R, X::C>
    where
        DefaultAllocator: Allocator<X::R, X::C>,
    {
        self.mat().map(f)
    }
    #[inline]
    fn zip_into<S2: Storage<X::T, X::R, X::C>>(
        self,
        y: &Matrix<X::T, X::R, X::C, S2>,
        f: impl FnMut(X::T, X::T) -> X::T,
    ) -> OMatrix<X::T, X::R, X::C>
    where
        DefaultAllocator: Allocator<X::R, X::C>,
    {
        self.mat().zip_map(y, f)
    }
}

/// Owned: computed in its buffer.
impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> MatArg for Matrix<T, R, C, S> {
    type T = T;
    type R = R;
    type C = C;
    type S = S;
    const OWNED: bool = true;
    #[inline(always)]
    fn mat(&self) -> &Matrix<T, R, C, S> {
        self
    }
    #[inline]
    fn into_mat(self) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        // A move for owned storage (the only kind generated code passes by value).
        self.into_owned()
    }
    #[inline]
    fn map_into(self, mut f: impl FnMut(T) -> T) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        // One pass over the contiguous buffer (nalgebra's `apply` loops over columns, which
        // costs more than the arithmetic at small sizes); entrywise, so the same values.
        let mut m = self.into_owned();
        m.as_mut_slice().iter_mut().for_each(|v| *v = f(*v));
        m
    }
    #[inline]
    fn zip_into<S2: Storage<T, R, C>>(self, y: &Matrix<T, R, C, S2>, mut f: impl FnMut(T, T) -> T) -> OMatrix<T, R, C>
    where
        DefaultAllocator: Allocator<R, C>,
    {
        let mut m = self.into_owned();
        m.zip_apply(y, |v, w| *v = f(*v, w));
        m
    }
}

/// A scalar a rule reads, by value or by reference (generated code passes it either way).
pub trait ScalarIn<T: Real>: Copy {
    /// The scalar.
    fn get(self) -> T;
}

impl<T: Real> ScalarIn<T> for T {
    #[inline(always)]
    fn get(self) -> T {
        self
    }
}

impl<T: Real> ScalarIn<T> for &T {
    #[inline(always)]
    fn get(self) -> T {
        *self
    }
}

// A tuple of values (what a `#[differentiate]` function returning several values returns) is an
// operand by reference; its `Value` and `Adjoint` are those of `Differentiable` tuples.
macro_rules! tuple_values {
    ($($v:ident),+) => {
        impl<$($v),+> Operand for ($($v,)+) {
            type Ref<'a> = &'a Self where Self: 'a;
            fn operand(&self) -> &Self {
                self
            }
        }
    };
}

tuple_values!(A, B);
tuple_values!(A, B, C);
tuple_values!(A, B, C, D);
