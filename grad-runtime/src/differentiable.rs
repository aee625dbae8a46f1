//! Values that have gradients: scalars, matrices, and the containers and structs built of them.
//!
//! A gradient has its parameter's type: the gradient of an `Mlp` is an `Mlp` holding each
//! field's gradient (as JAX's pytrees and Swift's synthesized tangent vectors). The operations
//! here are what optimisers, reductions over batches and gradient checks need; none allocates
//! for fixed-size values, `to_flat` aside.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;
use nalgebra::{Dim, Matrix, Storage, StorageMut};

use crate::value::Real;

/// A value with a gradient of its own type: f32, f64, an owned nalgebra matrix or vector, a
/// `Vec`, array or tuple of such values, or a struct with `#[derive(Differentiable)]`.
///
/// Every operation works entry by entry on the scalars of the value, in one fixed order (the
/// fields in declaration order, matrices column-major), which is the order of [`to_flat`].
/// Binary operations (`add_scaled`, `dot`) expect values of the same shape (they panic
/// otherwise, as nalgebra does).
///
/// [`to_flat`]: Differentiable::to_flat
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Differentiable`",
    note = "differentiable values are f32/f64, owned nalgebra matrices and vectors, `Vec`s, arrays and tuples of them, and structs with `#[derive(matgrad::Differentiable)]` (mark constant fields `#[differentiable(skip)]`)"
)]
pub trait Differentiable: Clone {
    /// The scalar type of every entry.
    type Scalar: Real;
    /// Zeros shaped like `self` (skipped fields keep their value).
    fn zero_like(&self) -> Self;
    /// `self += a · other`
    fn add_scaled(&mut self, a: Self::Scalar, other: &Self);
    /// `self *= a`
    fn scale(&mut self, a: Self::Scalar);
    /// `⟨self, other⟩ = Σₖ selfₖ otherₖ` over every differentiated scalar.
    fn dot(&self, other: &Self) -> Self::Scalar;
    /// The number of differentiated scalars.
    fn len(&self) -> usize;
    /// Whether there is no differentiated scalar.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `selfₖ = f(selfₖ, otherₖ)` for every differentiated scalar, in flat order: the
    /// elementwise step of optimisers such as Adam.
    fn zip_apply<F: FnMut(Self::Scalar, Self::Scalar) -> Self::Scalar>(&mut self, other: &Self, f: &mut F);
    /// Writes the `len()` scalars into `out[..len()]` (no allocation).
    fn write_flat(&self, out: &mut [Self::Scalar]);
    /// A value shaped like `self` whose scalars are `flat[..len()]` (skipped fields cloned
    /// from `self`), as JAX's `ravel_pytree` unravels. (`self` gives the shapes: the name is
    /// the one the issue and JAX's users expect.)
    #[allow(clippy::wrong_self_convention)]
    fn from_flat(&self, flat: &[Self::Scalar]) -> Self;
    /// The scalars in a `Vec`, in the order `from_flat` reads them.
    #[cfg(feature = "alloc")]
    fn to_flat(&self) -> Vec<Self::Scalar> {
        let mut out = alloc::vec![nalgebra::zero::<Self::Scalar>(); self.len()];
        self.write_flat(&mut out);
        out
    }
}

impl<T: Real> Differentiable for T {
    type Scalar = T;
    fn zero_like(&self) -> T {
        nalgebra::zero::<T>()
    }
    fn add_scaled(&mut self, a: T, other: &T) {
        *self += a * *other;
    }
    fn scale(&mut self, a: T) {
        *self *= a;
    }
    fn dot(&self, other: &T) -> T {
        *self * *other
    }
    fn len(&self) -> usize {
        1
    }
    fn zip_apply<F: FnMut(T, T) -> T>(&mut self, other: &T, f: &mut F) {
        *self = f(*self, *other);
    }
    fn write_flat(&self, out: &mut [T]) {
        out[0] = *self;
    }
    fn from_flat(&self, flat: &[T]) -> T {
        flat[0]
    }
}

/// Owned matrices and vectors of every shape (the storage is generic so that rustc matches
/// `DMatrix` and `SMatrix` alike without normalising the allocator's buffer type; owned
/// storage is contiguous, so the entries are walked as one slice).
impl<T: Real, R: Dim, C: Dim, S> Differentiable for Matrix<T, R, C, S>
where
    S: Storage<T, R, C> + StorageMut<T, R, C> + Clone + nalgebra::IsContiguous,
{
    type Scalar = T;
    #[inline]
    fn zero_like(&self) -> Self {
        let mut z = self.clone();
        z.as_mut_slice().fill(nalgebra::zero::<T>());
        z
    }
    #[inline]
    fn add_scaled(&mut self, a: T, other: &Self) {
        assert_eq!(self.shape(), other.shape(), "add_scaled on matrices of different shapes");
        self.as_mut_slice().iter_mut().zip(other.as_slice()).for_each(|(y, &x)| *y += a * x);
    }
    #[inline]
    fn scale(&mut self, a: T) {
        self.as_mut_slice().iter_mut().for_each(|v| *v *= a);
    }
    #[inline]
    fn dot(&self, other: &Self) -> T {
        assert_eq!(self.shape(), other.shape(), "dot of matrices of different shapes");
        self.as_slice().iter().zip(other.as_slice()).fold(nalgebra::zero::<T>(), |acc, (&a, &b)| acc + a * b)
    }
    fn len(&self) -> usize {
        self.nrows() * self.ncols()
    }
    fn zip_apply<F: FnMut(T, T) -> T>(&mut self, other: &Self, f: &mut F) {
        Matrix::zip_apply(self, other, |y, x| *y = f(*y, x));
    }
    fn write_flat(&self, out: &mut [T]) {
        out.iter_mut().zip(self.iter()).for_each(|(o, v)| *o = *v);
    }
    fn from_flat(&self, flat: &[T]) -> Self {
        let n = Differentiable::len(self);
        assert!(flat.len() >= n, "from_flat: {} scalars for a matrix of {n}", flat.len());
        let mut m = self.clone();
        m.iter_mut().zip(flat).for_each(|(o, v)| *o = *v);
        m
    }
}

/// Writes each part's scalars after the previous part's: `parts` in order, `out` split by
/// their lengths.
fn write_parts<'a, D: Differentiable + 'a>(parts: impl IntoIterator<Item = &'a D>, out: &mut [D::Scalar]) {
    let mut offset = 0;
    for p in parts {
        let n = p.len();
        p.write_flat(&mut out[offset..offset + n]);
        offset += n;
    }
}

#[cfg(feature = "alloc")]
impl<D: Differentiable> Differentiable for Vec<D> {
    type Scalar = D::Scalar;
    fn zero_like(&self) -> Self {
        self.iter().map(D::zero_like).collect()
    }
    fn add_scaled(&mut self, a: D::Scalar, other: &Self) {
        assert_eq!(self.len(), other.len(), "add_scaled on Vecs of different lengths");
        self.iter_mut().zip(other).for_each(|(x, y)| x.add_scaled(a, y));
    }
    fn scale(&mut self, a: D::Scalar) {
        self.iter_mut().for_each(|x| x.scale(a));
    }
    fn dot(&self, other: &Self) -> D::Scalar {
        assert_eq!(self.len(), other.len(), "dot of Vecs of different lengths");
        self.iter().zip(other).fold(nalgebra::zero::<D::Scalar>(), |acc, (x, y)| acc + x.dot(y))
    }
    fn len(&self) -> usize {
        self.iter().map(D::len).sum()
    }
    fn zip_apply<F: FnMut(D::Scalar, D::Scalar) -> D::Scalar>(&mut self, other: &Self, f: &mut F) {
        self.iter_mut().zip(other).for_each(|(x, y)| x.zip_apply(y, f));
    }
    fn write_flat(&self, out: &mut [D::Scalar]) {
        write_parts(self, out);
    }
    fn from_flat(&self, flat: &[D::Scalar]) -> Self {
        let mut offset = 0;
        self.iter().map(|x| read_part(x, flat, &mut offset)).collect()
    }
}

/// Part `x` of a composite read from `flat[*offset..]`, advancing `offset` past it.
#[doc(hidden)]
pub fn read_part<D: Differentiable>(x: &D, flat: &[D::Scalar], offset: &mut usize) -> D {
    let n = x.len();
    let part = x.from_flat(&flat[*offset..*offset + n]);
    *offset += n;
    part
}

/// Part `x` of a composite written into `out[*offset..]`, advancing `offset` past it.
#[doc(hidden)]
pub fn write_part<D: Differentiable>(x: &D, out: &mut [D::Scalar], offset: &mut usize) {
    let n = x.len();
    x.write_flat(&mut out[*offset..*offset + n]);
    *offset += n;
}

impl<D: Differentiable, const N: usize> Differentiable for [D; N] {
    type Scalar = D::Scalar;
    fn zero_like(&self) -> Self {
        core::array::from_fn(|k| self[k].zero_like())
    }
    fn add_scaled(&mut self, a: D::Scalar, other: &Self) {
        self.iter_mut().zip(other).for_each(|(x, y)| x.add_scaled(a, y));
    }
    fn scale(&mut self, a: D::Scalar) {
        self.iter_mut().for_each(|x| x.scale(a));
    }
    fn dot(&self, other: &Self) -> D::Scalar {
        self.iter().zip(other).fold(nalgebra::zero::<D::Scalar>(), |acc, (x, y)| acc + x.dot(y))
    }
    fn len(&self) -> usize {
        self.iter().map(D::len).sum()
    }
    fn zip_apply<F: FnMut(D::Scalar, D::Scalar) -> D::Scalar>(&mut self, other: &Self, f: &mut F) {
        self.iter_mut().zip(other).for_each(|(x, y)| x.zip_apply(y, f));
    }
    fn write_flat(&self, out: &mut [D::Scalar]) {
        write_parts(self, out);
    }
    fn from_flat(&self, flat: &[D::Scalar]) -> Self {
        // `from_fn` calls the closure for k = 0, 1, …, N − 1 in order.
        let mut offset = 0;
        core::array::from_fn(|k| read_part(&self[k], flat, &mut offset))
    }
}

/// Tuples of up to six differentiable values with one scalar type.
macro_rules! tuple_impl {
    ($first:ident $($rest:ident)*; $($k:tt)+) => {
        impl<$first: Differentiable $(, $rest: Differentiable<Scalar = $first::Scalar>)*> Differentiable
            for ($first, $($rest,)*)
        {
            type Scalar = $first::Scalar;
            fn zero_like(&self) -> Self {
                ($(self.$k.zero_like(),)+)
            }
            fn add_scaled(&mut self, a: Self::Scalar, other: &Self) {
                $(self.$k.add_scaled(a, &other.$k);)+
            }
            fn scale(&mut self, a: Self::Scalar) {
                $(self.$k.scale(a);)+
            }
            fn dot(&self, other: &Self) -> Self::Scalar {
                nalgebra::zero::<Self::Scalar>() $(+ self.$k.dot(&other.$k))+
            }
            fn len(&self) -> usize {
                0 $(+ self.$k.len())+
            }
            fn zip_apply<Fn_: FnMut(Self::Scalar, Self::Scalar) -> Self::Scalar>(&mut self, other: &Self, f: &mut Fn_) {
                $(self.$k.zip_apply(&other.$k, f);)+
            }
            fn write_flat(&self, out: &mut [Self::Scalar]) {
                let mut offset = 0;
                $(write_part(&self.$k, out, &mut offset);)+
            }
            fn from_flat(&self, flat: &[Self::Scalar]) -> Self {
                let mut offset = 0;
                ($(read_part(&self.$k, flat, &mut offset),)+)
            }
        }
    };
}

tuple_impl!(A; 0);
tuple_impl!(A B; 0 1);
tuple_impl!(A B C; 0 1 2);
tuple_impl!(A B C D; 0 1 2 3);
tuple_impl!(A B C D E; 0 1 2 3 4);
tuple_impl!(A B C D E F; 0 1 2 3 4 5);

/// A `#[differentiable(skip)]` field read where a constant is needed (`0..p.steps`).
#[doc(hidden)]
pub struct Skipped<'a, T>(pub &'a T);

/// A differentiated field: it cannot be read where a constant is needed.
#[doc(hidden)]
pub struct Differentiated<'a, T>(pub &'a T);

/// A field of a differentiated struct that may be read as a constant: a skipped one.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "this field of a differentiated struct parameter is differentiated: it cannot be read where a constant is needed",
    note = "a loop's range or iterable, a size, an index and a constructor's argument must be constants: mark the field `#[differentiable(skip)]` if it is one, or pass the value as a parameter of its own (a loop over a differentiated field is written `for w in &p.f`, `p.f.iter()` or `p.a.iter().zip(&p.b)`; other iterator chains over one are not supported)"
)]
pub trait ConstantField<'a> {
    /// The field's type.
    type Field: 'a;
    /// The field.
    fn get(self) -> &'a Self::Field;
}

impl<'a, T> ConstantField<'a> for Skipped<'a, T> {
    type Field = T;
    fn get(self) -> &'a T {
        self.0
    }
}

/// The field behind a skipped field's accessor.
#[doc(hidden)]
#[inline(always)]
pub fn constant_field<'a, C: ConstantField<'a>>(c: C) -> &'a C::Field {
    c.get()
}

// Collections are values of `#[differentiate]` functions too (`p.layers[k]` reads one): their
// adjoint is a collection of the elements' gradients.

/// The `Adjoint` operations of a `Differentiable` value.
macro_rules! adjoint_via_differentiable {
    ($scalar:ty) => {
        type Scalar = $scalar;
        fn add_assign_ref(&mut self, other: &Self) {
            self.add_scaled(nalgebra::one(), other);
        }
        fn sub_assign_ref(&mut self, other: &Self) {
            self.add_scaled(-nalgebra::one::<$scalar>(), other);
        }
        fn neg_in_place(&mut self) {
            Differentiable::scale(self, -nalgebra::one::<$scalar>());
        }
        fn scale_in_place(&mut self, s: $scalar) {
            Differentiable::scale(self, s);
        }
        fn axpy_ref(&mut self, a: $scalar, x: &Self) {
            self.add_scaled(a, x);
        }
    };
}

#[cfg(feature = "alloc")]
impl<D: Differentiable> crate::value::Adjoint for Vec<D> {
    adjoint_via_differentiable!(D::Scalar);
}

impl<D: Differentiable, const N: usize> crate::value::Adjoint for [D; N] {
    adjoint_via_differentiable!(D::Scalar);
}

#[cfg(feature = "alloc")]
impl<D: Differentiable> crate::value::Value for [D] {
    type Scalar = D::Scalar;
    type Adj = Vec<D>;
    fn zeros_adj(&self) -> Vec<D> {
        self.iter().map(D::zero_like).collect()
    }
    fn inner(&self, adj: &Vec<D>) -> D::Scalar {
        self.iter().zip(adj).fold(nalgebra::zero::<D::Scalar>(), |acc, (x, y)| acc + x.dot(y))
    }
    fn as_scalar(&self) -> Option<D::Scalar> {
        None
    }
}

#[cfg(feature = "alloc")]
impl<D: Differentiable> crate::value::Value for Vec<D> {
    type Scalar = D::Scalar;
    type Adj = Vec<D>;
    fn zeros_adj(&self) -> Vec<D> {
        self.zero_like()
    }
    fn inner(&self, adj: &Vec<D>) -> D::Scalar {
        self.dot(adj)
    }
    fn as_scalar(&self) -> Option<D::Scalar> {
        None
    }
}

impl<D: Differentiable, const N: usize> crate::value::Value for [D; N] {
    type Scalar = D::Scalar;
    type Adj = [D; N];
    fn zeros_adj(&self) -> [D; N] {
        self.zero_like()
    }
    fn inner(&self, adj: &[D; N]) -> D::Scalar {
        self.dot(adj)
    }
    fn as_scalar(&self) -> Option<D::Scalar> {
        None
    }
}

/// Tuples read by field in a `#[differentiate]` body (`t.0`, `p.pair.1`): the accessors that
/// `#[derive(Differentiable)]` writes for a struct's fields, one trait per position.
macro_rules! tuple_slots {
    ($($slot:ident $constant:ident $trait_:ident $k:tt;)+) => {$(
        #[doc(hidden)]
        #[allow(non_snake_case)]
        pub trait $trait_ {
            /// The element's type.
            type Elem;
            /// Where the element's adjoint goes.
            fn $slot(&mut self) -> Option<&mut Self::Elem>;
            /// The element read where a constant is needed: refused (it is differentiated).
            fn $constant(&self) -> Differentiated<'_, Self::Elem>;
        }
    )+};
}

tuple_slots! {
    __matgrad_slot_0 __matgrad_const_0 TupleSlot0 0;
    __matgrad_slot_1 __matgrad_const_1 TupleSlot1 1;
    __matgrad_slot_2 __matgrad_const_2 TupleSlot2 2;
    __matgrad_slot_3 __matgrad_const_3 TupleSlot3 3;
    __matgrad_slot_4 __matgrad_const_4 TupleSlot4 4;
    __matgrad_slot_5 __matgrad_const_5 TupleSlot5 5;
}

/// `TupleSlotK` for a tuple type with element `E` at position `k`.
macro_rules! tuple_slot_impl {
    ($trait_:ident $slot:ident $constant:ident $k:tt $e:ident; $($t:ident),+) => {
        impl<$($t),+> $trait_ for ($($t,)+) {
            type Elem = $e;
            fn $slot(&mut self) -> Option<&mut $e> {
                Some(&mut self.$k)
            }
            fn $constant(&self) -> Differentiated<'_, $e> {
                Differentiated(&self.$k)
            }
        }
    };
}

tuple_slot_impl!(TupleSlot0 __matgrad_slot_0 __matgrad_const_0 0 A; A);
tuple_slot_impl!(TupleSlot0 __matgrad_slot_0 __matgrad_const_0 0 A; A, B);
tuple_slot_impl!(TupleSlot1 __matgrad_slot_1 __matgrad_const_1 1 B; A, B);
tuple_slot_impl!(TupleSlot0 __matgrad_slot_0 __matgrad_const_0 0 A; A, B, C);
tuple_slot_impl!(TupleSlot1 __matgrad_slot_1 __matgrad_const_1 1 B; A, B, C);
tuple_slot_impl!(TupleSlot2 __matgrad_slot_2 __matgrad_const_2 2 C; A, B, C);
tuple_slot_impl!(TupleSlot0 __matgrad_slot_0 __matgrad_const_0 0 A; A, B, C, D);
tuple_slot_impl!(TupleSlot1 __matgrad_slot_1 __matgrad_const_1 1 B; A, B, C, D);
tuple_slot_impl!(TupleSlot2 __matgrad_slot_2 __matgrad_const_2 2 C; A, B, C, D);
tuple_slot_impl!(TupleSlot3 __matgrad_slot_3 __matgrad_const_3 3 D; A, B, C, D);
tuple_slot_impl!(TupleSlot0 __matgrad_slot_0 __matgrad_const_0 0 A; A, B, C, D, E);
tuple_slot_impl!(TupleSlot1 __matgrad_slot_1 __matgrad_const_1 1 B; A, B, C, D, E);
tuple_slot_impl!(TupleSlot2 __matgrad_slot_2 __matgrad_const_2 2 C; A, B, C, D, E);
tuple_slot_impl!(TupleSlot3 __matgrad_slot_3 __matgrad_const_3 3 D; A, B, C, D, E);
tuple_slot_impl!(TupleSlot4 __matgrad_slot_4 __matgrad_const_4 4 E; A, B, C, D, E);
tuple_slot_impl!(TupleSlot0 __matgrad_slot_0 __matgrad_const_0 0 A; A, B, C, D, E, F);
tuple_slot_impl!(TupleSlot1 __matgrad_slot_1 __matgrad_const_1 1 B; A, B, C, D, E, F);
tuple_slot_impl!(TupleSlot2 __matgrad_slot_2 __matgrad_const_2 2 C; A, B, C, D, E, F);
tuple_slot_impl!(TupleSlot3 __matgrad_slot_3 __matgrad_const_3 3 D; A, B, C, D, E, F);
tuple_slot_impl!(TupleSlot4 __matgrad_slot_4 __matgrad_const_4 4 E; A, B, C, D, E, F);
tuple_slot_impl!(TupleSlot5 __matgrad_slot_5 __matgrad_const_5 5 F; A, B, C, D, E, F);

/// Value and Adjoint for tuples of differentiable values (a tuple parameter's gradient is a
/// tuple).
macro_rules! tuple_value {
    ($first:ident $($rest:ident)*) => {
        impl<$first: Differentiable $(, $rest: Differentiable<Scalar = $first::Scalar>)*> crate::value::Adjoint
            for ($first, $($rest,)*)
        {
            adjoint_via_differentiable!($first::Scalar);
        }

        impl<$first: Differentiable $(, $rest: Differentiable<Scalar = $first::Scalar>)*> crate::value::Value
            for ($first, $($rest,)*)
        {
            type Scalar = $first::Scalar;
            type Adj = Self;
            fn zeros_adj(&self) -> Self {
                self.zero_like()
            }
            fn inner(&self, adj: &Self) -> Self::Scalar {
                self.dot(adj)
            }
            fn as_scalar(&self) -> Option<Self::Scalar> {
                None
            }
        }
    };
}

tuple_value!(A);
tuple_value!(A B);
tuple_value!(A B C);
tuple_value!(A B C D);
tuple_value!(A B C D E);
tuple_value!(A B C D E F);
