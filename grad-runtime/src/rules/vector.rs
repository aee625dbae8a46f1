//! Vector geometry: the cross product, normalization and p-norms.

use super::dims::ConvertAdj;
use crate::value::Real;
use nalgebra::allocator::Allocator;
use nalgebra::{ComplexField, DefaultAllocator, Dim, Matrix, OMatrix, Storage};

/// `a × b` of two 3-vectors (columns or rows), in `a`'s shape.
fn cross3<T: Real, R: Dim, C: Dim, SA, R2: Dim, C2: Dim, SB>(
    a: &Matrix<T, R, C, SA>,
    b: &Matrix<T, R2, C2, SB>,
) -> OMatrix<T, R, C>
where
    SA: Storage<T, R, C>,
    SB: Storage<T, R2, C2>,
    DefaultAllocator: Allocator<R, C>,
{
    assert!(a.len() == 3 && b.len() == 3, "cross: the vectors must have 3 entries");
    let mut c = a.clone_owned();
    c[0] = a[1] * b[2] - a[2] * b[1];
    c[1] = a[2] * b[0] - a[0] * b[2];
    c[2] = a[0] * b[1] - a[1] * b[0];
    c
}

// c = a × b
// ā += b × c̄
// b̄ += c̄ × a
/// `c = a.cross(&b)`: the contribution to `ā` (`a`, `b`, `c` may have different dimension
/// types of one shape: `DVector` and `Vector3`).
#[inline]
#[allow(clippy::type_complexity)]
pub fn cross_lhs<T: Real, RA: Dim, CA: Dim, SA, RB: Dim, CB: Dim, SB, RG: Dim, CG: Dim, SG>(
    _a: &Matrix<T, RA, CA, SA>,
    b: &Matrix<T, RB, CB, SB>,
    g: &Matrix<T, RG, CG, SG>,
) -> OMatrix<T, RA, CA>
where
    SB: Storage<T, RB, CB>,
    SG: Storage<T, RG, CG>,
    DefaultAllocator: Allocator<RA, CA> + Allocator<RB, CB>,
{
    cross3(b, g).convert()
}

/// `c = a.cross(&b)`: the contribution to `b̄`.
#[inline]
#[allow(clippy::type_complexity)]
pub fn cross_rhs<T: Real, RA: Dim, CA: Dim, SA, RB: Dim, CB: Dim, SB, RG: Dim, CG: Dim, SG>(
    a: &Matrix<T, RA, CA, SA>,
    _b: &Matrix<T, RB, CB, SB>,
    g: &Matrix<T, RG, CG, SG>,
) -> OMatrix<T, RB, CB>
where
    SA: Storage<T, RA, CA>,
    SG: Storage<T, RG, CG>,
    DefaultAllocator: Allocator<RB, CB> + Allocator<RG, CG>,
{
    cross3(g, a).convert()
}

// y = x / ‖x‖
// x̄ += (ȳ − y ⟨y, ȳ⟩) / ‖x‖      (NaN at x = 0, where the value is NaN too)
/// `y = x.normalize()`: the contribution to `x̄`.
#[inline]
pub fn normalize_adj<T: Real, R: Dim, C: Dim, SX, SY, SG>(
    x: &Matrix<T, R, C, SX>,
    y: &Matrix<T, R, C, SY>,
    g: &Matrix<T, R, C, SG>,
) -> OMatrix<T, R, C>
where
    SX: Storage<T, R, C>,
    SY: Storage<T, R, C>,
    SG: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    let (n, yg) = (x.norm(), y.dot(g));
    g.zip_map(y, |g, y| (g - y * yg) / n)
}

// s = ‖x‖_p = (Σ |xᵢ|ᵖ)^(1/p)        (p ≥ 1 a constant `i32`)
// x̄ += s̄ sign(x) ⊙ |x|^(p−1) / s^(p−1)   (0 at x = 0; sign(0) = 0)
/// `s = x.lp_norm(p)`: the contribution to `x̄`.
#[inline]
pub fn lp_norm_adj<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(
    x: &Matrix<T, R, C, S>,
    p: &i32,
    s: &T,
    g: &T,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let zero = nalgebra::zero::<T>();
    let k = *p - 1;
    let scale = if *s == zero { zero } else { *g / ComplexField::powi(*s, k) };
    x.map(|v| {
        let sign = if v > zero {
            nalgebra::one::<T>()
        } else if v < zero {
            -nalgebra::one::<T>()
        } else {
            zero
        };
        sign * ComplexField::powi(ComplexField::abs(v), k) * scale
    })
}
