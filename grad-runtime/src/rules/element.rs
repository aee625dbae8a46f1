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
