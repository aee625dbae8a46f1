//! What forward mode's tangent programs (`_jvp`, `_hvp`) call beyond the reverse-mode rules,
//! and the dense second derivatives built on them.

use crate::value::Real;

/// A scalar, as the tangent of a scalar function needs it.
#[diagnostic::on_unimplemented(
    message = "forward mode (`_jvp`, `_hvp`) applies this scalar function's rule to f32/f64 scalars only, not `{Self}`",
    note = "inside a `map` closure every value is a scalar; outside one, `exp()` and `abs()` of a matrix have rules of their own"
)]
pub trait ForwardScalar: Real {}

impl<T: Real> ForwardScalar for T {}

// y = a b of two scalars (a tangent times a scalar function's derivative)
// ā += ḡ b, b̄ += a ḡ (the product's rules)
/// `a b` of two scalars.
#[inline(always)]
pub fn tangent_mul<T: ForwardScalar>(a: T, b: T) -> T {
    a * b
}

/// sign(x), 0 at 0 (the derivative of |x|, as the reverse rule).
#[inline(always)]
pub fn sign0<T: ForwardScalar>(x: &T) -> T {
    let zero = nalgebra::zero::<T>();
    if *x > zero {
        nalgebra::one::<T>()
    } else if *x < zero {
        -nalgebra::one::<T>()
    } else {
        zero
    }
}

/// 1 when `b` holds, 0 otherwise, of `x`'s type.
#[inline(always)]
pub fn indicator<T: Real>(_x: &T, b: bool) -> T {
    if b {
        nalgebra::one::<T>()
    } else {
        nalgebra::zero::<T>()
    }
}

/// 1 − s.
#[inline(always)]
pub fn one_minus<T: Real>(s: T) -> T {
    nalgebra::one::<T>() - s
}

/// A matrix of ones of `x`'s shape (the adjoint that turns a reverse rule into its mask).
#[inline(always)]
pub fn ones_like<T: Real, R: Dim, C: Dim, S: RawStorage<T, R, C>>(x: &Matrix<T, R, C, S>) -> OMatrix<T, R, C>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    let (r, c) = x.shape_generic();
    OMatrix::<T, R, C>::from_element_generic(r, c, nalgebra::one::<T>())
}

/// The number of rows of `x`, as a scalar of its type.
#[inline(always)]
pub fn nrows_like<T: Real, R: Dim, C: Dim, S: RawStorage<T, R, C>>(x: &Matrix<T, R, C, S>) -> T {
    nalgebra::convert::<f64, T>(x.nrows() as f64)
}

/// The integer `n` as a scalar of `x`'s type.
#[inline(always)]
pub fn int_like<T: Real>(_x: &T, n: i32) -> T {
    nalgebra::convert::<f64, T>(f64::from(n))
}

// ----- a map and its tangent in one pass -----

use crate::value::MatArg;
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Storage};

/// A map's value and its tangent, of one shape.
pub type MapPair<T, R, C> = (OMatrix<T, R, C>, OMatrix<T, R, C>);

/// A map's value, its tangent, and the tangent's partials, all of one shape.
pub type MapPairWithPartials<T, R, C, const N: usize> = (OMatrix<T, R, C>, OMatrix<T, R, C>, [OMatrix<T, R, C>; N]);

// Y = g(X), Ẏ = ġ(X, Ẋ) entrywise (ġ the closure's tangent program, which computes g too)
/// `x.map(g)` and its tangent `x.zip_map(&ẋ, ġ)` in one pass: `f` returns an entry of both.
/// `x` may be passed owned (at its last use): `Y` is then written into its buffer.
#[inline]
pub fn map_pair<X: MatArg, SY, F>(x: X, dx: &Matrix<X::T, X::R, X::C, SY>, mut f: F) -> MapPair<X::T, X::R, X::C>
where
    SY: Storage<X::T, X::R, X::C>,
    F: FnMut(X::T, X::T) -> (X::T, X::T),
    DefaultAllocator: Allocator<X::R, X::C>,
{
    let (r, c) = x.mat().shape_generic();
    assert_eq!(x.mat().shape(), dx.shape(), "zip_map: the matrices must have the same shape");
    let mut y = x.into_mat();
    // Ẏ written as the entries of Y are mapped in place (both column-major).
    let ys = y.as_mut_slice();
    let mut k = 0;
    let dy = OMatrix::from_fn_generic(r, c, |i, j| {
        let (v, t) = f(ys[k], dx[(i, j)]);
        ys[k] = v;
        k += 1;
        t
    });
    (y, dy)
}

// Y = g(X), Ẏ = ġ(X, Ẋ) entrywise, and the partials of ġ, stored for the reverse pass:
// Dₖ = ∂ġ/∂(k-th input); for the entry's tangent that is g′, the derivative of Y too
/// [`map_pair`] where `f` also returns the partials of the tangent's entry (with respect to the
/// entry and its tangent), as [`map_d2`](crate::rules::map_d2).
#[inline]
pub fn map_pair_d2<X: MatArg, SY, const N: usize, F>(
    x: X,
    dx: &Matrix<X::T, X::R, X::C, SY>,
    mut f: F,
) -> MapPairWithPartials<X::T, X::R, X::C, N>
where
    SY: Storage<X::T, X::R, X::C>,
    F: FnMut(X::T, X::T) -> (X::T, X::T, [X::T; N]),
    DefaultAllocator: Allocator<X::R, X::C>,
{
    let (r, c) = x.mat().shape_generic();
    assert_eq!(x.mat().shape(), dx.shape(), "zip_map: the matrices must have the same shape");
    let mut y = x.into_mat();
    let mut dy = OMatrix::zeros_generic(r, c);
    let mut d: [OMatrix<X::T, X::R, X::C>; N] = core::array::from_fn(|_| OMatrix::zeros_generic(r, c));
    let (ys, dys) = (y.as_mut_slice(), dy.as_mut_slice());
    let mut ds = d.each_mut().map(|m| m.as_mut_slice());
    let mut k = 0;
    for j in 0..dx.ncols() {
        for i in 0..dx.nrows() {
            let (v, t, dv) = f(ys[k], dx[(i, j)]);
            (ys[k], dys[k]) = (v, t);
            for (dk, v) in ds.iter_mut().zip(dv) {
                dk[k] = v;
            }
            k += 1;
        }
    }
    (y, dy, d)
}

// ----- dense second derivatives, from `_hvp` and `_jvp` along basis directions -----

use nalgebra::{Dim, OMatrix, SMatrix, SVector};

/// The dense Hessian of a scalar function of one fixed-size vector, heap-free: column k is
/// `hvp(eₖ)`, the Hessian-vector product along the k-th basis vector (N calls).
///
/// `hvp` is usually the last output of a generated `_hvp`:
/// `matgrad::hessian_fixed(&x, |v| f_hvp(&x, &data, v).2)`.
pub fn hessian_fixed<T: Real, const N: usize>(
    x: &SVector<T, N>,
    mut hvp: impl FnMut(&SVector<T, N>) -> SVector<T, N>,
) -> SMatrix<T, N, N> {
    let _ = x;
    let mut h = SMatrix::<T, N, N>::zeros();
    let mut e = SVector::<T, N>::zeros();
    for k in 0..N {
        e[k] = nalgebra::one::<T>();
        h.set_column(k, &hvp(&e));
        e[k] = nalgebra::zero::<T>();
    }
    h
}

/// The dense Jacobian of a function from a fixed-size vector to a fixed-size vector,
/// heap-free: column k is `jvp(eₖ)` (N calls), so that `J v = jvp(v)`.
///
/// `jvp` is usually the tangent output of a generated `_jvp`:
/// `matgrad::jacobian_fixed(&x, |t| f_jvp(&x, t).1)`.
pub fn jacobian_fixed<T: Real, const N: usize, const M: usize>(
    x: &SVector<T, N>,
    mut jvp: impl FnMut(&SVector<T, N>) -> SVector<T, M>,
) -> SMatrix<T, M, N> {
    let _ = x;
    let mut j = SMatrix::<T, M, N>::zeros();
    let mut e = SVector::<T, N>::zeros();
    for k in 0..N {
        e[k] = nalgebra::one::<T>();
        j.set_column(k, &jvp(&e));
        e[k] = nalgebra::zero::<T>();
    }
    j
}

/// The dense Hessian of a scalar function of one matrix `x` (any shape, fixed or dynamic), in
/// the column-major order of `x`'s entries (vec form): entry (i, k) is
/// ∂²f/∂vec(x)ᵢ∂vec(x)ₖ, and column k is `vec(hvp(Eₖ))` (one call per entry of `x`).
#[cfg(feature = "alloc")]
pub fn hessian<T: Real, R: Dim, C: Dim>(
    x: &OMatrix<T, R, C>,
    mut hvp: impl FnMut(&OMatrix<T, R, C>) -> OMatrix<T, R, C>,
) -> nalgebra::DMatrix<T>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    let n = x.len();
    let mut h = nalgebra::DMatrix::<T>::zeros(n, n);
    let mut e = x.map(|_| nalgebra::zero::<T>());
    for k in 0..n {
        e[k] = nalgebra::one::<T>();
        let col = hvp(&e);
        h.column_mut(k).copy_from_slice(col.as_slice());
        e[k] = nalgebra::zero::<T>();
    }
    h
}

/// The dense Jacobian of a matrix-valued function of one matrix `x`, in vec form: entry (i, k)
/// is ∂vec(f)ᵢ/∂vec(x)ₖ, and column k is `vec(jvp(Eₖ))` (one call per entry of `x`).
#[cfg(feature = "alloc")]
pub fn jacobian<T: Real, R: Dim, C: Dim, R2: Dim, C2: Dim>(
    x: &OMatrix<T, R, C>,
    mut jvp: impl FnMut(&OMatrix<T, R, C>) -> OMatrix<T, R2, C2>,
) -> nalgebra::DMatrix<T>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C> + nalgebra::allocator::Allocator<R2, C2>,
{
    let n = x.len();
    let mut e = x.map(|_| nalgebra::zero::<T>());
    let mut j: Option<nalgebra::DMatrix<T>> = None;
    for k in 0..n {
        e[k] = nalgebra::one::<T>();
        let col = jvp(&e);
        let j = j.get_or_insert_with(|| nalgebra::DMatrix::<T>::zeros(col.len(), n));
        j.column_mut(k).copy_from_slice(col.as_slice());
        e[k] = nalgebra::zero::<T>();
    }
    j.unwrap_or_else(|| nalgebra::DMatrix::<T>::zeros(0, 0))
}

// ----- composition: the tangent an argument passes to a called function's tangent program -----

use crate::control::NoGradient;
use crate::value::Value;
use nalgebra::{Matrix, RawStorage};

/// What a caller passes for one parameter of a called function's tangent program
/// (`<name>_tangent`): the argument's tangent, or [`NoGradient`] for a constant argument (its
/// tangent is zero). `A` is the parameter's owned type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tangent of a `{A}` parameter",
    note = "a `#[differentiate(forward)]` function passes each argument's tangent, or `NoGradient` for a constant one, to the called function's `_tangent`"
)]
pub trait TangentSlot<A> {
    /// The tangent, owned (zeros of `like`'s shape for `NoGradient`).
    fn into_tangent<V: Value<Adj = A> + ?Sized>(self, like: &V) -> A;
}

impl<A> TangentSlot<A> for NoGradient {
    fn into_tangent<V: Value<Adj = A> + ?Sized>(self, like: &V) -> A {
        like.zeros_adj()
    }
}

impl TangentSlot<f32> for f32 {
    fn into_tangent<V: Value<Adj = f32> + ?Sized>(self, _: &V) -> f32 {
        self
    }
}

impl TangentSlot<f64> for f64 {
    fn into_tangent<V: Value<Adj = f64> + ?Sized>(self, _: &V) -> f64 {
        self
    }
}

impl TangentSlot<f32> for &f32 {
    fn into_tangent<V: Value<Adj = f32> + ?Sized>(self, _: &V) -> f32 {
        *self
    }
}

impl TangentSlot<f64> for &f64 {
    fn into_tangent<V: Value<Adj = f64> + ?Sized>(self, _: &V) -> f64 {
        *self
    }
}

impl<T: Real, R: Dim, C: Dim, S: RawStorage<T, R, C>> TangentSlot<OMatrix<T, R, C>> for &Matrix<T, R, C, S>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    fn into_tangent<V: Value<Adj = OMatrix<T, R, C>> + ?Sized>(self, _: &V) -> OMatrix<T, R, C> {
        let (r, c) = self.shape_generic();
        OMatrix::<T, R, C>::from_fn_generic(r, c, |i, j| self[(i, j)])
    }
}

/// The tangent of parameter `like` from what the caller passed.
#[inline(always)]
pub fn into_tangent<A, V: Value<Adj = A> + ?Sized, S: TangentSlot<A>>(slot: S, like: &V) -> A {
    slot.into_tangent(like)
}

// ----- composition: the tangent of a struct, tuple or collection argument -----

use crate::differentiable::Differentiable;

/// What a caller passes for a struct, tuple or collection parameter of a called function's
/// tangent program (`<name>_tangent`): the argument's tangent (a value of the parameter's type),
/// or [`NoGradient`] for a constant argument (its tangent is zero).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tangent of a `{D}` parameter",
    note = "a `#[differentiate(forward)]` function passes each argument's tangent, or `NoGradient` for a constant one, to the called function's `_tangent`"
)]
pub trait StructTangentSlot<D> {
    /// The tangent, owned (zeros shaped like `like` for `NoGradient`).
    fn into_struct_tangent<L: TangentLike<D> + ?Sized>(self, like: &L) -> D;
}

/// A parameter whose tangent has the owned type `D`: `D` itself, or a slice (`D` a `Vec`).
pub trait TangentLike<D> {
    /// Zeros shaped like `self`, of the tangent's type.
    fn tangent_zeros(&self) -> D;
}

impl<D: Differentiable> TangentLike<D> for D {
    fn tangent_zeros(&self) -> D {
        self.zero_like()
    }
}

#[cfg(feature = "alloc")]
impl<T: Differentiable> TangentLike<alloc::vec::Vec<T>> for [T] {
    fn tangent_zeros(&self) -> alloc::vec::Vec<T> {
        self.iter().map(Differentiable::zero_like).collect()
    }
}

impl<D> StructTangentSlot<D> for NoGradient {
    fn into_struct_tangent<L: TangentLike<D> + ?Sized>(self, like: &L) -> D {
        like.tangent_zeros()
    }
}

impl<D: Differentiable> StructTangentSlot<D> for &D {
    fn into_struct_tangent<L: TangentLike<D> + ?Sized>(self, _: &L) -> D {
        self.clone()
    }
}

#[cfg(feature = "alloc")]
impl<T: Differentiable> StructTangentSlot<alloc::vec::Vec<T>> for &[T] {
    fn into_struct_tangent<L: TangentLike<alloc::vec::Vec<T>> + ?Sized>(self, _: &L) -> alloc::vec::Vec<T> {
        self.to_vec()
    }
}

/// The tangent of struct (tuple, collection) parameter `like` from what the caller passed.
#[inline(always)]
pub fn into_struct_tangent<D, L: TangentLike<D> + ?Sized, S: StructTangentSlot<D>>(slot: S, like: &L) -> D {
    slot.into_struct_tangent(like)
}

// ----- the tangent of a field of a struct parameter -----

use crate::differentiable::{Differentiated, Skipped};

/// The tangent of a field of a struct (tuple) parameter: the tangent's field, or zeros for a
/// `#[differentiable(skip)]` field (a constant, whatever the caller's tangent holds there).
pub enum TangentOfField<'a, T> {
    /// The tangent's own field.
    Tangent(&'a T),
    /// Zeros shaped like the field.
    Zero(T),
}

impl<T> TangentOfField<'_, T> {
    /// The tangent.
    #[inline(always)]
    pub fn get(&self) -> &T {
        match self {
            TangentOfField::Tangent(t) => t,
            TangentOfField::Zero(z) => z,
        }
    }
}

/// What a field's constant accessor returns on a tangent: a differentiated field (its
/// tangent) or a skipped one (zeros).
#[diagnostic::on_unimplemented(
    message = "forward mode reads the tangent of this skipped field, and `{Self}` has no zeros",
    note = "a `#[differentiable(skip)]` field read where a differentiated value is computed must be `Differentiable` (a scalar, a matrix, …)"
)]
pub trait FieldTangent<'a> {
    /// The field's type.
    type Field;
    /// The tangent of the field.
    fn field_tangent(self) -> TangentOfField<'a, Self::Field>;
}

impl<'a, T> FieldTangent<'a> for Differentiated<'a, T> {
    type Field = T;
    #[inline(always)]
    fn field_tangent(self) -> TangentOfField<'a, T> {
        TangentOfField::Tangent(self.0)
    }
}

impl<'a, T: Differentiable> FieldTangent<'a> for Skipped<'a, T> {
    type Field = T;
    #[inline(always)]
    fn field_tangent(self) -> TangentOfField<'a, T> {
        TangentOfField::Zero(self.0.zero_like())
    }
}

/// The tangent of a field from the accessor's wrapper.
#[inline(always)]
pub fn field_tangent<'a, F: FieldTangent<'a>>(f: F) -> TangentOfField<'a, F::Field> {
    f.field_tangent()
}

/// Nothing implements it: the tangent slots of a `#[custom_vjp]` function's `_tangent` are
/// bounded by it, so that a `#[differentiate(forward)]` function calling one gets this message
/// on the call.
#[diagnostic::on_unimplemented(
    message = "this function has a `#[custom_vjp]` rule and no forward rule: a `#[differentiate(forward)]` function cannot call it",
    label = "called in forward mode (`_jvp`, `_hvp`)",
    note = "declare its forward rule instead: `#[custom_jvp(rule)]` with `#[differentiate] fn rule(<the parameters>, <one tangent per parameter>) -> (value, tangent)`, which gives reverse mode too"
)]
pub trait NoForwardRule {}
