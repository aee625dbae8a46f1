//! Elementwise ops: Hadamard product and quotient, `add_scalar`, and `map` with a closure
//! whose derivative the macro derived.

use super::dims::{as_adj, view_as, ConvertAdj, IntoAdjOf};
use super::lazy::{ElementwiseMul, Hadamard};
use crate::contrib::Contrib;

/// An owned matrix's storage.
type Owned<T, R, C> = nalgebra::Owned<T, R, C>;
/// `G ⊙ D` for an adjoint `G` and a stored derivative `D`.
pub type StoredHadamard<'a, T, R, C> = Hadamard<'a, T, R, C, Owned<T, R, C>, Owned<T, R, C>>;
/// The value of a `map` and its stored partial derivatives.
pub type MapWithPartials<T, R, C, const N: usize> = (OMatrix<T, R, C>, [OMatrix<T, R, C>; N]);
use crate::value::{MatArg, Real};
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage};

// Z = X ⊙ Y
// X̄ += Ḡ ⊙ Y
// Ȳ += Ḡ ⊙ X
/// `z = x.component_mul(&y)`: the contribution to `x̄`. Every argument may be borrowed or owned
/// (moved at its last use); the product is computed into an owned operand's buffer. `x`, `y`
/// and `z` may have different dimension types of one shape (see [`dims`](super::dims)).
#[inline]
pub fn component_mul_lhs<X: MatArg, Y: MatArg<T = X::T>, G: MatArg<T = X::T>>(
    _x: X,
    y: Y,
    g: G,
) -> IntoAdjOf<ElementwiseMul<G, Y>, X>
where
    ElementwiseMul<G, Y>: Contrib<Adj: ConvertAdj<OMatrix<X::T, X::R, X::C>>>,
    DefaultAllocator: Allocator<X::R, X::C>,
{
    as_adj(ElementwiseMul { a: g, b: y })
}

/// `z = x.component_mul(&y)`: the contribution to `ȳ`.
#[inline]
pub fn component_mul_rhs<X: MatArg, Y: MatArg<T = X::T>, G: MatArg<T = X::T>>(
    x: X,
    _y: Y,
    g: G,
) -> IntoAdjOf<ElementwiseMul<G, X>, Y>
where
    ElementwiseMul<G, X>: Contrib<Adj: ConvertAdj<OMatrix<Y::T, Y::R, Y::C>>>,
    DefaultAllocator: Allocator<Y::R, Y::C>,
{
    as_adj(ElementwiseMul { a: g, b: x })
}

// Z = X ⊘ Y
// X̄ += Ḡ ⊘ Y
// Ȳ -= Ḡ ⊙ X ⊘ Y²
/// `z = x.component_div(&y)`: the contribution to `x̄` (`x`, `y`, `z` of one shape, their
/// dimension types possibly different).
#[inline]
pub fn component_div_lhs<T: Real, R1: Dim, C1: Dim, SX, R2: Dim, C2: Dim, SY, RG: Dim, CG: Dim>(
    _x: &Matrix<T, R1, C1, SX>,
    y: &Matrix<T, R2, C2, SY>,
    g: &OMatrix<T, RG, CG>,
) -> OMatrix<T, R1, C1>
where
    SY: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R1, C1> + Allocator<RG, CG>,
{
    g.zip_map(&view_as::<_, _, _, _, RG, CG>(y), |g, y| g / y).convert()
}

/// `z = x.component_div(&y)`: the contribution to `ȳ`.
#[inline]
pub fn component_div_rhs<T: Real, R1: Dim, C1: Dim, SX, R2: Dim, C2: Dim, SY, RG: Dim, CG: Dim>(
    x: &Matrix<T, R1, C1, SX>,
    y: &Matrix<T, R2, C2, SY>,
    g: &OMatrix<T, RG, CG>,
) -> OMatrix<T, R2, C2>
where
    SX: Storage<T, R1, C1>,
    SY: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R2, C2> + Allocator<RG, CG>,
{
    let (x, y) = (view_as::<_, _, _, _, RG, CG>(x), view_as::<_, _, _, _, RG, CG>(y));
    g.zip_zip_map(&x, &y, |g, x, y| -g * x / (y * y)).convert()
}

// Y = X + s 11ᵀ
// X̄ += Ḡ
// s̄ += Σᵢⱼ Ḡᵢⱼ
/// `y = x.add_scalar(s)`: the contribution to `s̄`.
#[inline]
pub fn add_scalar_rhs<T: Real, R: Dim, C: Dim, S>(_x: &Matrix<T, R, C, S>, _s: &T, g: &OMatrix<T, R, C>) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    g.sum()
}

/// Forward pass of `y = x.map(f)` where `f` also returns its partial derivatives: with respect
/// to the entry (when `x` is differentiated) and to each differentiated captured scalar.
/// Returns `Y` and one matrix `Dₖ = ∂f/∂(k-th input)` per partial, all of `x`'s shape. `x` may be
/// passed owned (at its last use): `Y` is then written into its buffer. Nothing is zero-filled.
#[inline]
pub fn map_d<X: MatArg, const N: usize, F>(x: X, mut f: F) -> MapWithPartials<X::T, X::R, X::C, N>
where
    F: FnMut(X::T) -> (X::T, [X::T; N]),
    DefaultAllocator: Allocator<X::R, X::C>,
{
    let (r, c) = x.mat().shape_generic();
    let mut y = x.into_mat();
    if N == 0 {
        y.apply(|v| *v = f(*v).0);
        return (y, core::array::from_fn(|_| OMatrix::zeros_generic(r, c)));
    }
    if N == 1 {
        // The partial is written as the entries are mapped in place (both column-major), in
        // one pass over the buffer (not a loop over columns, which costs more than the
        // arithmetic at small sizes).
        let d = OMatrix::from_iterator_generic(
            r,
            c,
            y.as_mut_slice().iter_mut().map(|v| {
                let (fv, dv) = f(*v);
                *v = fv;
                dv.first().copied().unwrap_or_else(nalgebra::zero)
            }),
        );
        let mut d = Some(d);
        return (y, core::array::from_fn(|_| d.take().unwrap_or_else(|| OMatrix::zeros_generic(r, c))));
    }
    let mut d: [OMatrix<X::T, X::R, X::C>; N] = core::array::from_fn(|_| OMatrix::zeros_generic(r, c));
    for (k, v) in y.iter_mut().enumerate() {
        let (fv, dv) = f(*v);
        *v = fv;
        for (dn, dvn) in d.iter_mut().zip(dv) {
            dn[k] = dvn;
        }
    }
    (y, d)
}

// Y = f(X) elementwise, D = f′(X) stored by the forward pass
// X̄ += Ḡ ⊙ D
/// `y = x.map(f)`: the contribution to `x̄`, from the stored derivative `d` (moved in by
/// generated code, so that `Ḡ ⊙ D` is computed in place).
#[inline]
pub fn map_adj<D: MatArg, G: MatArg<T = D::T, R = D::R, C = D::C>>(d: D, g: G) -> ElementwiseMul<G, D> {
    ElementwiseMul { a: g, b: d }
}

/// Forward pass of `z = x.zip_map(&y, f)` where `f` also returns its partial derivatives (with
/// respect to each differentiated entry, then each differentiated captured scalar), as
/// [`map_d`].
#[inline]
pub fn map_d2<X: MatArg, SY, const N: usize, F>(
    x: X,
    y: &Matrix<X::T, X::R, X::C, SY>,
    mut f: F,
) -> MapWithPartials<X::T, X::R, X::C, N>
where
    SY: Storage<X::T, X::R, X::C>,
    F: FnMut(X::T, X::T) -> (X::T, [X::T; N]),
    DefaultAllocator: Allocator<X::R, X::C>,
{
    let (r, c) = x.mat().shape_generic();
    assert_eq!(x.mat().shape(), y.shape(), "zip_map: the matrices must have the same shape");
    let mut z = x.into_mat();
    let mut d: [OMatrix<X::T, X::R, X::C>; N] = core::array::from_fn(|_| OMatrix::zeros_generic(r, c));
    for k in 0..z.len() {
        let (fv, dv) = f(z[k], y[k]);
        z[k] = fv;
        for (dk, v) in d.iter_mut().zip(dv) {
            dk[k] = v;
        }
    }
    (z, d)
}

/// Forward pass of `y = Matrix::from_fn(…, |i, j| f(i, j))` lowered to a map over `x` (a
/// constant matrix of the shape): as [`map_d`], `f` also receiving the entry's row and column.
#[inline]
pub fn map_d_at<X: MatArg, const N: usize, F>(x: X, mut f: F) -> MapWithPartials<X::T, X::R, X::C, N>
where
    F: FnMut(usize, usize, X::T) -> (X::T, [X::T; N]),
    DefaultAllocator: Allocator<X::R, X::C>,
{
    let (r, c) = x.mat().shape_generic();
    let mut y = x.into_mat();
    let mut d: [OMatrix<X::T, X::R, X::C>; N] = core::array::from_fn(|_| OMatrix::zeros_generic(r, c));
    for j in 0..y.ncols() {
        for i in 0..y.nrows() {
            let (fv, dv) = f(i, j, y[(i, j)]);
            y[(i, j)] = fv;
            for (dk, v) in d.iter_mut().zip(dv) {
                dk[(i, j)] = v;
            }
        }
    }
    (y, d)
}

// Y = f(X; s) elementwise with a captured scalar s, D = ∂f/∂s stored by the forward pass
// s̄ += ⟨Ḡ, D⟩
/// `y = x.map(|v| f(v, s))`: the contribution to a captured scalar's adjoint `s̄`.
#[inline]
pub fn map_capture_adj<T: Real, R: Dim, C: Dim>(d: &OMatrix<T, R, C>, g: &OMatrix<T, R, C>) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    d.dot(g)
}
