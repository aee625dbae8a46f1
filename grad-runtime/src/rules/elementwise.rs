//! Elementwise ops: Hadamard product and quotient, `add_scalar`, and `map` with a closure
//! whose derivative the macro derived.

use super::lazy::Hadamard;

/// An owned matrix's storage.
type Owned<T, R, C> = nalgebra::Owned<T, R, C>;
/// `G ⊙ D` for an adjoint `G` and a stored derivative `D`.
pub type StoredHadamard<'a, T, R, C> = Hadamard<'a, T, R, C, Owned<T, R, C>, Owned<T, R, C>>;
/// The value of a `map` and its stored partial derivatives.
pub type MapWithPartials<T, R, C, const N: usize> = (OMatrix<T, R, C>, [OMatrix<T, R, C>; N]);
use crate::value::Real;
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, Matrix, OMatrix, Storage};

// Z = X ⊙ Y
// X̄ += Ḡ ⊙ Y
// Ȳ += Ḡ ⊙ X
/// `z = x.component_mul(&y)`: the contribution to `x̄`.
#[inline]
pub fn component_mul_lhs<'a, T: Real, R: Dim, C: Dim, SX, SY: Storage<T, R, C>>(
    _x: &'a Matrix<T, R, C, SX>,
    y: &'a Matrix<T, R, C, SY>,
    g: &'a OMatrix<T, R, C>,
) -> Hadamard<'a, T, R, C, Owned<T, R, C>, SY>
where
    DefaultAllocator: Allocator<R, C>,
{
    Hadamard { g, v: y }
}

/// `z = x.component_mul(&y)`: the contribution to `ȳ`.
#[inline]
pub fn component_mul_rhs<'a, T: Real, R: Dim, C: Dim, SX: Storage<T, R, C>, SY>(
    x: &'a Matrix<T, R, C, SX>,
    _y: &'a Matrix<T, R, C, SY>,
    g: &'a OMatrix<T, R, C>,
) -> Hadamard<'a, T, R, C, Owned<T, R, C>, SX>
where
    DefaultAllocator: Allocator<R, C>,
{
    Hadamard { g, v: x }
}

// Z = X ⊘ Y
// X̄ += Ḡ ⊘ Y
// Ȳ -= Ḡ ⊙ X ⊘ Y²
/// `z = x.component_div(&y)`: the contribution to `x̄`.
#[inline]
pub fn component_div_lhs<T: Real, R: Dim, C: Dim, SX, SY: Storage<T, R, C>>(
    _x: &Matrix<T, R, C, SX>,
    y: &Matrix<T, R, C, SY>,
    g: &OMatrix<T, R, C>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    g.component_div(y)
}

/// `z = x.component_div(&y)`: the contribution to `ȳ`.
#[inline]
pub fn component_div_rhs<T: Real, R: Dim, C: Dim, SX: Storage<T, R, C>, SY: Storage<T, R, C>>(
    x: &Matrix<T, R, C, SX>,
    y: &Matrix<T, R, C, SY>,
    g: &OMatrix<T, R, C>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    g.zip_zip_map(x, y, |g, x, y| -g * x / (y * y))
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
/// Returns `Y` and one matrix `Dₖ = ∂f/∂(k-th input)` per partial, all of `x`'s shape.
#[inline]
pub fn map_d<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>, const N: usize, F>(
    x: &Matrix<T, R, C, S>,
    mut f: F,
) -> MapWithPartials<T, R, C, N>
where
    F: FnMut(T) -> (T, [T; N]),
    DefaultAllocator: Allocator<R, C>,
{
    let (r, c) = x.shape_generic();
    let mut y = OMatrix::zeros_generic(r, c);
    let mut d: [OMatrix<T, R, C>; N] = core::array::from_fn(|_| OMatrix::zeros_generic(r, c));
    for (k, v) in x.iter().enumerate() {
        let (fv, dv) = f(*v);
        y[k] = fv;
        for (dn, dvn) in d.iter_mut().zip(dv) {
            dn[k] = dvn;
        }
    }
    (y, d)
}

// Y = f(X) elementwise, D = f′(X) stored by the forward pass
// X̄ += Ḡ ⊙ D
/// `y = x.map(f)`: the contribution to `x̄`, from the stored derivative `d`.
#[inline]
pub fn map_adj<'a, T: Real, R: Dim, C: Dim>(
    d: &'a OMatrix<T, R, C>,
    g: &'a OMatrix<T, R, C>,
) -> StoredHadamard<'a, T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    Hadamard { g, v: d }
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
