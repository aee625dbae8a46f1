//! Singular vectors: `a.svd(true, true).u` and `.v_t`.
//!
//! A = U Σ Vᵀ is the thin SVD (A is m×n, k = min(m, n), U m×k, Σ = diag(σ) k×k, V n×k), as
//! nalgebra computes it (σ descending). The adjoint of A from the adjoints Ū of U and V̄ of V
//! (J. Townsend, "Differentiating the Singular Value Decomposition", 2016; Giles 2008 §3.2):
//!
//! ```text
//! Ā += U [(F ⊙ (UᵀŪ − ŪᵀU)) Σ + Σ (F ⊙ (VᵀV̄ − V̄ᵀV))] Vᵀ
//!    + (I_m − UUᵀ) Ū Σ⁻¹ Vᵀ + U Σ⁻¹ V̄ᵀ (I_n − VVᵀ),      Fᵢⱼ = 1/(σⱼ² − σᵢ²) (i ≠ j), Fᵢᵢ = 0
//! ```
//!
//! It is linear in Ū and V̄, so each field has its own rule and the rules of `u`, `v_t` and
//! `singular_values` add up. The projector terms vanish for a square A (I − UUᵀ = 0) and are
//! left out there, so that σ = 0 of a square A costs nothing but what F says.
//!
//! Each pair of vectors (uᵢ, vᵢ) is determined up to a common sign, nalgebra's choice, which is
//! locally constant where the singular values are distinct and nonzero: the gradient of a
//! function that depends on the sign is the local one. At a repeated singular value (σᵢ = σⱼ)
//! the vectors are not unique and their derivative is infinite (Fᵢⱼ = 1/0), and at σᵢ = 0 of a
//! non-square A the projector terms divide by 0: the gradient there has infinite or NaN entries
//! (as PyTorch's `svd`), never a finite wrong number, even for a function of the vectors that
//! is smooth there (the polar factor U Vᵀ at A = I).

use crate::value::Real;
use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, DimDiff, DimMin, DimMinimum, DimSub, Matrix, OMatrix, Storage, U1};

/// The thin SVD of `a`: U, σ, Vᵀ (`None` where nalgebra's iteration did not converge).
#[allow(clippy::type_complexity)]
fn thin_svd<T: Real, R, C, S>(
    a: &Matrix<T, R, C, S>,
) -> Option<(OMatrix<T, R, DimMinimum<R, C>>, OMatrix<T, DimMinimum<R, C>, U1>, OMatrix<T, DimMinimum<R, C>, C>)>
where
    R: DimMin<C>,
    C: Dim,
    S: Storage<T, R, C>,
    DimMinimum<R, C>: DimSub<U1>,
    DefaultAllocator: Allocator<R, C>
        + Allocator<C>
        + Allocator<R>
        + Allocator<DimDiff<DimMinimum<R, C>, U1>>
        + Allocator<DimMinimum<R, C>, C>
        + Allocator<R, DimMinimum<R, C>>
        + Allocator<DimMinimum<R, C>>,
{
    let svd = nalgebra::SVD::new(a.clone_owned(), true, true);
    Some((svd.u?, svd.singular_values, svd.v_t?))
}

/// `F ⊙ (X − Xᵀ)` for a k×k `X`, `Fᵢⱼ = 1/(σⱼ² − σᵢ²)` (i ≠ j), 0 on the diagonal.
fn antisymmetric_over_gaps<T: Real, K: Dim>(x: &OMatrix<T, K, K>, s: &OMatrix<T, K, U1>) -> OMatrix<T, K, K>
where
    DefaultAllocator: Allocator<K, K> + Allocator<K>,
{
    let (k, _) = x.shape_generic();
    OMatrix::from_fn_generic(k, k, |i, j| match i == j {
        true => nalgebra::zero::<T>(),
        false => (x[(i, j)] - x[(j, i)]) / (s[j] * s[j] - s[i] * s[i]),
    })
}

// U = a.svd(true, true).u (m×k)
// Ā += U (F ⊙ (UᵀŪ − ŪᵀU)) Σ Vᵀ + (I_m − UUᵀ) Ū Σ⁻¹ Vᵀ
/// `u = a.svd(u, v).u.unwrap()`: the contribution to `ā` (see the module's notes on signs and
/// repeated singular values).
pub fn svd_u_adj<T: Real, R, C, S>(
    a: &Matrix<T, R, C, S>,
    _u: &bool,
    _v: &bool,
    g: &OMatrix<T, R, DimMinimum<R, C>>,
) -> OMatrix<T, R, C>
where
    R: DimMin<C>,
    C: Dim,
    S: Storage<T, R, C>,
    DimMinimum<R, C>: DimSub<U1>,
    DefaultAllocator: Allocator<R, C>
        + Allocator<C>
        + Allocator<R>
        + Allocator<DimDiff<DimMinimum<R, C>, U1>>
        + Allocator<DimMinimum<R, C>, C>
        + Allocator<R, DimMinimum<R, C>>
        + Allocator<DimMinimum<R, C>, R>
        + Allocator<DimMinimum<R, C>, DimMinimum<R, C>>
        + Allocator<DimMinimum<R, C>>,
{
    let Some((u, s, v_t)) = thin_svd(a) else { return a.map(|_| nalgebra::zero::<T>()) };
    let j = u.tr_mul(g);
    // (F ⊙ (J − Jᵀ)) Σ: column j scaled by σⱼ
    let mut inner = antisymmetric_over_gaps(&j, &s);
    for (c, mut col) in inner.column_iter_mut().enumerate() {
        col *= s[c];
    }
    let mut left = &u * inner;
    if a.nrows() > s.len() {
        // (I − UUᵀ) Ū Σ⁻¹ = (Ū − U J) Σ⁻¹
        let mut p = g - &u * &j;
        for (c, mut col) in p.column_iter_mut().enumerate() {
            col /= s[c];
        }
        left += p;
    }
    left * v_t
}

// Vᵀ = a.svd(true, true).v_t (k×n), its adjoint Ḡ = V̄ᵀ
// Ā += U Σ (F ⊙ (VᵀV̄ − V̄ᵀV)) Vᵀ + U Σ⁻¹ V̄ᵀ (I_n − VVᵀ)
/// `v_t = a.svd(u, v).v_t.unwrap()`: the contribution to `ā` (see the module's notes on signs
/// and repeated singular values).
pub fn svd_v_t_adj<T: Real, R, C, S>(
    a: &Matrix<T, R, C, S>,
    _u: &bool,
    _v: &bool,
    g: &OMatrix<T, DimMinimum<R, C>, C>,
) -> OMatrix<T, R, C>
where
    R: DimMin<C>,
    C: Dim,
    S: Storage<T, R, C>,
    DimMinimum<R, C>: DimSub<U1>,
    DefaultAllocator: Allocator<R, C>
        + Allocator<C>
        + Allocator<R>
        + Allocator<DimDiff<DimMinimum<R, C>, U1>>
        + Allocator<DimMinimum<R, C>, C>
        + Allocator<C, DimMinimum<R, C>>
        + Allocator<R, DimMinimum<R, C>>
        + Allocator<DimMinimum<R, C>, DimMinimum<R, C>>
        + Allocator<DimMinimum<R, C>>,
{
    let Some((u, s, v_t)) = thin_svd(a) else { return a.map(|_| nalgebra::zero::<T>()) };
    // VᵀV̄ = Vᵀ Ḡᵀ
    let k = &v_t * g.transpose();
    // Σ (F ⊙ (K − Kᵀ)): row i scaled by σᵢ
    let mut inner = antisymmetric_over_gaps(&k, &s);
    for (r, mut row) in inner.row_iter_mut().enumerate() {
        row *= s[r];
    }
    let mut right = inner * &v_t;
    if a.ncols() > s.len() {
        // Σ⁻¹ V̄ᵀ (I − VVᵀ) = Σ⁻¹ (Ḡ − Kᵀ Vᵀ)
        let mut p = g - k.transpose() * &v_t;
        for (r, mut row) in p.row_iter_mut().enumerate() {
            row /= s[r];
        }
        right += p;
    }
    u * right
}
