//! Elements of collections of differentiable values: `p.layers[k]` for a `Vec`, a slice or an
//! array of matrices (or of derived structs), and an entry `p.w[(i, j)]` of a matrix field.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;
use nalgebra::{Dim, Matrix, Storage};

use super::reduce::{index_adj, Entry, EntryIndex};
use crate::contrib::Contrib;
use crate::differentiable::Differentiable;
use crate::value::{Real, Value};

/// A collection whose elements `#[differentiate]` reads by index with an adjoint.
pub trait Elements<I> {
    /// The adjoint of one element.
    type ElemAdj;
    /// The contribution of one element's adjoint to the collection's.
    type Contribution<'a>: Contrib
    where
        Self: 'a;
    /// `ḡ` at element `idx`.
    fn element_contribution<'a>(&'a self, idx: &I, g: &'a Self::ElemAdj) -> Self::Contribution<'a>;
}

// Y = X[k]
// X̄[k] += Ḡ
/// `y = x[idx]`: the contribution to `x̄` (the index was checked by the forward pass).
#[inline]
pub fn element_adj<'a, X: Elements<I> + ?Sized, I>(x: &'a X, idx: &I, g: &'a X::ElemAdj) -> X::Contribution<'a> {
    x.element_contribution(idx, g)
}

/// `Ḡ` at element `at` of a sequence shaped like `like`.
#[cfg(feature = "alloc")]
pub struct Element<'a, D> {
    at: usize,
    g: &'a D,
    like: &'a [D],
}

#[cfg(feature = "alloc")]
impl<D: Differentiable> Contrib for Element<'_, D> {
    type Adj = Vec<D>;
    fn init(self) -> Vec<D> {
        let mut z: Vec<D> = self.like.iter().map(D::zero_like).collect();
        self.add_to(&mut z);
        z
    }
    fn add_to(self, acc: &mut Vec<D>) {
        acc[self.at].add_scaled(nalgebra::one(), self.g);
    }
}

#[cfg(feature = "alloc")]
impl<D: Differentiable> Elements<usize> for [D] {
    type ElemAdj = D;
    type Contribution<'a>
        = Element<'a, D>
    where
        D: 'a;
    fn element_contribution<'a>(&'a self, idx: &usize, g: &'a D) -> Element<'a, D> {
        Element { at: *idx, g, like: self }
    }
}

#[cfg(feature = "alloc")]
impl<D: Differentiable> Elements<usize> for Vec<D> {
    type ElemAdj = D;
    type Contribution<'a>
        = Element<'a, D>
    where
        D: 'a;
    fn element_contribution<'a>(&'a self, idx: &usize, g: &'a D) -> Element<'a, D> {
        Element { at: *idx, g, like: self }
    }
}

/// `Ḡ` at element `at` of an array shaped like `like`.
pub struct ArrayElement<'a, D, const N: usize> {
    at: usize,
    g: &'a D,
    like: &'a [D; N],
}

impl<D: Differentiable, const N: usize> Contrib for ArrayElement<'_, D, N> {
    type Adj = [D; N];
    fn init(self) -> [D; N] {
        let mut z = self.like.zero_like();
        self.add_to(&mut z);
        z
    }
    fn add_to(self, acc: &mut [D; N]) {
        acc[self.at].add_scaled(nalgebra::one(), self.g);
    }
}

impl<D: Differentiable, const N: usize> Elements<usize> for [D; N] {
    type ElemAdj = D;
    type Contribution<'a>
        = ArrayElement<'a, D, N>
    where
        D: 'a;
    fn element_contribution<'a>(&'a self, idx: &usize, g: &'a D) -> ArrayElement<'a, D, N> {
        ArrayElement { at: *idx, g, like: self }
    }
}

/// An entry of a matrix field: the rule of `m[(i, j)]`.
impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>, I: EntryIndex> Elements<I> for Matrix<T, R, C, S>
where
    Matrix<T, R, C, S>: Value,
    for<'a> Entry<'a, T, R, C, S>: Contrib,
{
    type ElemAdj = T;
    type Contribution<'a>
        = Entry<'a, T, R, C, S>
    where
        Self: 'a;
    fn element_contribution<'a>(&'a self, idx: &I, g: &'a T) -> Entry<'a, T, R, C, S> {
        index_adj(self, idx, g)
    }
}

// y = s.f            (a field of a struct value: an element of a collection field)
// s̄.f += Ḡ           (the struct's other fields: zeros)
/// `y = &s.f`: the contribution to `s̄`, `Ḡ` in the field that `slot` reaches (the accessor
/// `#[derive(Differentiable)]` writes; `None` for a skipped field, which takes none).
#[inline]
pub fn member_adj<'a, S, F, P>(s: &'a S, slot: &'a P, g: &'a F) -> Member<'a, S, F, P>
where
    S: Fields,
    P: Fn(&mut S) -> Option<&mut F>,
{
    Member { like: s, slot, g }
}

/// `Ḡ` in one field of a struct shaped like `like`.
pub struct Member<'a, S, F, P> {
    like: &'a S,
    slot: &'a P,
    g: &'a F,
}

impl<S, F, P> Contrib for Member<'_, S, F, P>
where
    S: Fields + Differentiable + crate::value::Adjoint,
    F: Differentiable,
    P: Fn(&mut S) -> Option<&mut F>,
{
    type Adj = S;
    fn init(self) -> S {
        let mut z = self.like.zero_like();
        self.add_to(&mut z);
        z
    }
    fn add_to(self, acc: &mut S) {
        if let Some(f) = (self.slot)(acc) {
            f.add_scaled(nalgebra::one(), self.g);
        }
    }
}

/// A value whose fields `#[differentiate]` reads on an element of a collection (`layer.w` for
/// `layer` in `&p.layers`): a struct with `#[derive(Differentiable)]`, a tuple (`pair.0`), or a
/// vector (its coordinates `v.x`, `v.y`, `v.z`, `v.w`, see [`Coordinates`]).
#[diagnostic::on_unimplemented(
    message = "`#[differentiate]` reads fields of `{Self}` as those of a struct with `#[derive(Differentiable)]`",
    label = "a field of a value that is not such a struct"
)]
pub trait Fields {}

impl<T: Real, R: Dim, C: Dim, S> Fields for Matrix<T, R, C, S> {}

/// A tuple as an element of a collection field (`for pair in &p.pairs`): read by reference and
/// by field.
macro_rules! tuple_fields {
    ($($t:ident),+) => {
        impl<$($t),+> Fields for ($($t,)+) {}

        impl<$($t),+> crate::control::AsValue for ($($t,)+) {
            #[inline(always)]
            fn as_value(&self) -> &Self {
                self
            }
        }
    };
}

tuple_fields!(A);
tuple_fields!(A, B);
tuple_fields!(A, B, C);
tuple_fields!(A, B, C, D);
tuple_fields!(A, B, C, D, E);
tuple_fields!(A, B, C, D, E, G);

/// `Coordinates` from its coordinates' names, slots and constant accessors, and entries.
macro_rules! coordinates {
    ($($slot:ident $constant:ident $k:literal;)+) => {
        /// Where the adjoint of a vector's coordinate goes (`v.x` is entry 0, `v.y` 1, `v.z` 2,
        /// `v.w` 3, as nalgebra's `Deref` to `XYZW` reads them), as a struct's field slots do; a
        /// method of a struct with a field of the same name comes first.
        #[doc(hidden)]
        #[allow(non_snake_case)]
        pub trait Coordinates {
            /// The entry's type.
            type Elem;
            $(
                /// Where the coordinate's adjoint goes.
                fn $slot(&mut self) -> Option<&mut Self::Elem>;
                /// The coordinate read where a constant is needed: refused (it is differentiated).
                fn $constant(&self) -> crate::differentiable::Differentiated<'_, Self::Elem>;
            )+
        }

        impl<T: Real, R: Dim, C: Dim, S: nalgebra::StorageMut<T, R, C>> Coordinates for Matrix<T, R, C, S> {
            type Elem = T;
            $(
                #[inline(always)]
                fn $slot(&mut self) -> Option<&mut T> {
                    Some(&mut self[$k])
                }
                fn $constant(&self) -> crate::differentiable::Differentiated<'_, T> {
                    crate::differentiable::Differentiated(&self[$k])
                }
            )+
        }
    };
}

coordinates! {
    __matgrad_slot_x __matgrad_const_x 0;
    __matgrad_slot_y __matgrad_const_y 1;
    __matgrad_slot_z __matgrad_const_z 2;
    __matgrad_slot_w __matgrad_const_w 3;
}

// y = c[k].f          (a field of an element of a collection)
// c̄[k].f += Ḡ         (added where the collection's adjoint holds it: no element built)
/// The contribution `c` to field `slot` of element `at` of a collection's adjoint (`like` is
/// the collection, whose elements are their own adjoints' type), added there in place (a
/// product accumulates with gemm into the field). Generated code only adds it to an adjoint that
/// exists (the collection's, started at zeros before the loop that reads the element).
#[inline]
pub fn field_at<'a, A, D, P, C>(like: &[D], at: &usize, slot: &'a P, c: C) -> FieldAt<'a, A, P, C>
where
    C: Contrib,
    P: Fn(&mut D) -> Option<&mut C::Adj>,
{
    let _ = like;
    FieldAt { at: *at, slot, c, adjoint: core::marker::PhantomData }
}

/// See [`field_at`].
pub struct FieldAt<'a, A, P, C> {
    at: usize,
    slot: &'a P,
    c: C,
    adjoint: core::marker::PhantomData<fn() -> A>,
}

impl<A, P, C> Contrib for FieldAt<'_, A, P, C>
where
    A: crate::value::Adjoint + core::ops::IndexMut<usize>,
    C: Contrib,
    P: Fn(&mut <A as core::ops::Index<usize>>::Output) -> Option<&mut C::Adj>,
{
    type Adj = A;
    fn init(self) -> A {
        unreachable!("`field_at` is only added to a collection's adjoint that exists")
    }
    fn add_to(self, acc: &mut A) {
        if let Some(f) = (self.slot)(&mut acc[self.at]) {
            self.c.add_to(f);
        }
    }
    fn sub_from(self, acc: &mut A) {
        if let Some(f) = (self.slot)(&mut acc[self.at]) {
            self.c.sub_from(f);
        }
    }
}
