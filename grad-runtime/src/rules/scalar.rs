//! Scalar functions and their derivatives.
//!
//! Generated code calls these instead of the inherent float methods so that it compiles in
//! `no_std` crates: they go through nalgebra's `ComplexField`/`RealField` traits (with
//! nalgebra's `libm` feature there is no std). `d_f(x, y)` is `f′(x)` given `y = f(x)`,
//! which lets `exp`, `sqrt` and `tanh` reuse the forward value instead of recomputing it.

use crate::value::Real;
use nalgebra::allocator::Allocator;
use nalgebra::{ComplexField, DefaultAllocator, Dim, DimMin, DimMinimum, Matrix, OMatrix, RealField, Storage};

/// A float scalar a scalar function applies to.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a float scalar: matgrad applies `exp`, `ln`, `sqrt`, … to f32/f64",
    label = "a scalar function applied to a non-scalar",
    note = "to apply a function to every entry of a matrix, write `m.map(|v| v.exp())`"
)]
pub trait ScalarArg: Real {}
impl<T: Real> ScalarArg for T {}

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident => $via:path;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $name<T: ScalarArg>(x: T) -> T {
            $via(x)
        }
    )*};
}

unary! {
    /// `ln x`
    ln => ComplexField::ln;
    /// `√x`
    sqrt => ComplexField::sqrt;
    /// `sin x`
    sin => ComplexField::sin;
    /// `cos x`
    cos => ComplexField::cos;
    /// `tan x`
    tan => ComplexField::tan;
    /// `sinh x`
    sinh => ComplexField::sinh;
    /// `cosh x`
    cosh => ComplexField::cosh;
    /// `tanh x`
    tanh => ComplexField::tanh;
    /// `1/x`
    recip => ComplexField::recip;
    /// `ln(1 + x)`
    ln_1p => ComplexField::ln_1p;
    /// `eˣ − 1`
    exp_m1 => ComplexField::exp_m1;
    /// `log₂ x`
    log2 => ComplexField::log2;
    /// `log₁₀ x`
    log10 => ComplexField::log10;
    /// `asin x`
    asin => ComplexField::asin;
    /// `acos x`
    acos => ComplexField::acos;
    /// `atan x`
    atan => ComplexField::atan;
    /// `asinh x`
    asinh => ComplexField::asinh;
    /// `acosh x`
    acosh => ComplexField::acosh;
    /// `atanh x`
    atanh => ComplexField::atanh;
    /// `∛x`
    cbrt => ComplexField::cbrt;
    /// `sign x` (±1, as `f64::signum`)
    signum => ComplexField::signum;
}

/// `xⁿ`
#[inline(always)]
pub fn powi<T: ScalarArg>(x: T, n: i32) -> T {
    ComplexField::powi(x, n)
}

/// `xᵖ`
#[inline(always)]
pub fn powf<T: ScalarArg>(x: T, p: T) -> T {
    ComplexField::powf(x, p)
}

/// `max(x, c)`: `x` where `x > c` or `c` is NaN, else `c`. That is `f64::max` (the argument that
/// is not NaN) with its one unspecified case fixed: at a tie of `±0` and `∓0` it is `c`, what
/// `f64::max` gives in an optimised build when `c` is a constant (`v.max(0.0)` is `+0` at `−0`);
/// with `c` a run-time value, or in a debug build, `f64::max` gives `x` there. The lane form
/// (`lanes`) makes the same choice, so the two paths agree bit for bit.
#[inline(always)]
pub fn max<T: ScalarArg>(x: T, c: T) -> T {
    if x > c || is_nan(c) {
        x
    } else {
        c
    }
}

/// `min(x, c)`: `x` where `x < c` or `c` is NaN, else `c` (the tie of `±0` as in [`max`]).
#[inline(always)]
pub fn min<T: ScalarArg>(x: T, c: T) -> T {
    if x < c || is_nan(c) {
        x
    } else {
        c
    }
}

/// Whether `x` is NaN (the one value unordered with itself).
#[inline(always)]
fn is_nan<T: PartialOrd>(x: T) -> bool {
    x.partial_cmp(&x).is_none()
}

/// `atan2(y, x)`, the angle of the point (x, y), written `y.atan2(x)`
#[inline(always)]
pub fn atan2<T: ScalarArg>(y: T, x: T) -> T {
    RealField::atan2(y, x)
}

/// `√(x² + y²)`
#[inline(always)]
pub fn hypot<T: ScalarArg>(x: T, y: T) -> T {
    ComplexField::hypot(x, y)
}

/// `log_b x`
#[inline(always)]
pub fn log<T: ScalarArg>(x: T, b: T) -> T {
    ComplexField::log(x, b)
}

/// `x` clamped to `[lo, hi]`
#[inline(always)]
pub fn clamp<T: ScalarArg>(x: T, lo: T, hi: T) -> T {
    RealField::clamp(x, lo, hi)
}

/// `x a + b`
#[inline(always)]
pub fn mul_add<T: ScalarArg>(x: T, a: T, b: T) -> T {
    ComplexField::mul_add(x, a, b)
}

/// exp′ = exp = y
#[inline(always)]
pub fn d_exp<T: Real>(_x: T, y: T) -> T {
    y
}
/// ln′(x) = 1/x
#[inline(always)]
pub fn d_ln<T: Real>(x: T, _y: T) -> T {
    x.recip()
}
/// √′(x) = 1/(2y)
#[inline(always)]
pub fn d_sqrt<T: Real>(_x: T, y: T) -> T {
    (y + y).recip()
}
/// sin′ = cos
#[inline(always)]
pub fn d_sin<T: Real>(x: T, _y: T) -> T {
    ComplexField::cos(x)
}
/// cos′ = −sin
#[inline(always)]
pub fn d_cos<T: Real>(x: T, _y: T) -> T {
    -ComplexField::sin(x)
}
/// tan′ = 1 + y²
#[inline(always)]
pub fn d_tan<T: Real>(_x: T, y: T) -> T {
    nalgebra::one::<T>() + y * y
}
/// sinh′ = cosh
#[inline(always)]
pub fn d_sinh<T: Real>(x: T, _y: T) -> T {
    ComplexField::cosh(x)
}
/// cosh′ = sinh
#[inline(always)]
pub fn d_cosh<T: Real>(x: T, _y: T) -> T {
    ComplexField::sinh(x)
}
/// tanh′ = 1 − y²
#[inline(always)]
pub fn d_tanh<T: Real>(_x: T, y: T) -> T {
    nalgebra::one::<T>() - y * y
}
/// |x|′ = sign x, and 0 at 0 (as PyTorch; `f64::signum(0.0)` would say 1)
#[inline(always)]
pub fn d_abs<T: Real>(x: T, _y: T) -> T {
    if x > nalgebra::zero::<T>() {
        nalgebra::one::<T>()
    } else if x < nalgebra::zero::<T>() {
        -nalgebra::one::<T>()
    } else {
        nalgebra::zero::<T>()
    }
}
/// (1/x)′ = −y²
#[inline(always)]
pub fn d_recip<T: Real>(_x: T, y: T) -> T {
    -(y * y)
}
/// (xⁿ)′ = n xⁿ⁻¹ (and 0 for n = 0)
#[inline(always)]
pub fn d_powi<T: Real>(x: T, n: i32, _y: T) -> T {
    if n == 0 {
        return nalgebra::zero::<T>();
    }
    T::from_subset(&f64::from(n)) * ComplexField::powi(x, n - 1)
}
/// ∂xᵖ/∂x = p xᵖ⁻¹
#[inline(always)]
pub fn d_powf_base<T: Real>(x: T, p: T, _y: T) -> T {
    p * ComplexField::powf(x, p - nalgebra::one::<T>())
}
/// ∂xᵖ/∂p = y ln x (0 where y = 0, the limit at x = 0 for p > 0)
#[inline(always)]
pub fn d_powf_exp<T: Real>(x: T, _p: T, y: T) -> T {
    if y == nalgebra::zero::<T>() {
        nalgebra::zero::<T>()
    } else {
        y * ComplexField::ln(x)
    }
}
/// ∂max(x, c)/∂x = 1[x > c] (0 at the tie, as PyTorch's relu)
#[inline(always)]
pub fn d_max_lhs<T: Real>(x: T, c: T, _y: T) -> T {
    if x > c {
        nalgebra::one::<T>()
    } else {
        nalgebra::zero::<T>()
    }
}
/// ∂max(x, c)/∂c = 1[x ≤ c]
#[inline(always)]
pub fn d_max_rhs<T: Real>(x: T, c: T, _y: T) -> T {
    if x > c {
        nalgebra::zero::<T>()
    } else {
        nalgebra::one::<T>()
    }
}
/// ∂min(x, c)/∂x = 1[x < c] (0 at the tie)
#[inline(always)]
pub fn d_min_lhs<T: Real>(x: T, c: T, _y: T) -> T {
    if x < c {
        nalgebra::one::<T>()
    } else {
        nalgebra::zero::<T>()
    }
}
/// ∂min(x, c)/∂c = 1[x ≥ c]
#[inline(always)]
pub fn d_min_rhs<T: Real>(x: T, c: T, _y: T) -> T {
    if x < c {
        nalgebra::zero::<T>()
    } else {
        nalgebra::one::<T>()
    }
}

/// ln_1p′(x) = 1/(1 + x)
#[inline(always)]
pub fn d_ln_1p<T: Real>(x: T, _y: T) -> T {
    (nalgebra::one::<T>() + x).recip()
}
/// exp_m1′ = eˣ = y + 1
#[inline(always)]
pub fn d_exp_m1<T: Real>(_x: T, y: T) -> T {
    y + nalgebra::one::<T>()
}
/// log₂′(x) = 1/(x ln 2)
#[inline(always)]
pub fn d_log2<T: Real>(x: T, _y: T) -> T {
    (x * T::ln_2()).recip()
}
/// log₁₀′(x) = 1/(x ln 10)
#[inline(always)]
pub fn d_log10<T: Real>(x: T, _y: T) -> T {
    (x * T::ln_10()).recip()
}
/// asin′(x) = 1/√(1 − x²)
#[inline(always)]
pub fn d_asin<T: Real>(x: T, _y: T) -> T {
    ComplexField::sqrt(nalgebra::one::<T>() - x * x).recip()
}
/// acos′(x) = −1/√(1 − x²)
#[inline(always)]
pub fn d_acos<T: Real>(x: T, _y: T) -> T {
    -ComplexField::sqrt(nalgebra::one::<T>() - x * x).recip()
}
/// atan′(x) = 1/(1 + x²)
#[inline(always)]
pub fn d_atan<T: Real>(x: T, _y: T) -> T {
    (nalgebra::one::<T>() + x * x).recip()
}
/// asinh′(x) = 1/√(x² + 1)
#[inline(always)]
pub fn d_asinh<T: Real>(x: T, _y: T) -> T {
    ComplexField::sqrt(x * x + nalgebra::one::<T>()).recip()
}
/// acosh′(x) = 1/√(x² − 1)
#[inline(always)]
pub fn d_acosh<T: Real>(x: T, _y: T) -> T {
    ComplexField::sqrt(x * x - nalgebra::one::<T>()).recip()
}
/// atanh′(x) = 1/(1 − x²)
#[inline(always)]
pub fn d_atanh<T: Real>(x: T, _y: T) -> T {
    (nalgebra::one::<T>() - x * x).recip()
}
/// ∛′(x) = 1/(3y²) (infinite at 0, where ∛ has a vertical tangent)
#[inline(always)]
pub fn d_cbrt<T: Real>(_x: T, y: T) -> T {
    (T::from_subset(&3.0) * y * y).recip()
}
/// signum′ = 0 (piecewise constant; 0 at the jump too, as PyTorch's `sign`)
#[inline(always)]
pub fn d_signum<T: Real>(_x: T, _y: T) -> T {
    nalgebra::zero::<T>()
}
/// ∂atan2(y, x)/∂y = x/(x² + y²) (0 at the origin)
#[inline(always)]
pub fn d_atan2_lhs<T: Real>(y: T, x: T, _a: T) -> T {
    let r2 = x * x + y * y;
    if r2 == nalgebra::zero::<T>() {
        return r2;
    }
    x / r2
}
/// ∂atan2(y, x)/∂x = −y/(x² + y²) (0 at the origin)
#[inline(always)]
pub fn d_atan2_rhs<T: Real>(y: T, x: T, _a: T) -> T {
    let r2 = x * x + y * y;
    if r2 == nalgebra::zero::<T>() {
        return r2;
    }
    -y / r2
}
/// ∂hypot(x, y)/∂x = x/r with r = √(x² + y²) (0 at r = 0, as `norm`)
#[inline(always)]
pub fn d_hypot_lhs<T: Real>(x: T, _y: T, r: T) -> T {
    if r == nalgebra::zero::<T>() {
        return r;
    }
    x / r
}
/// ∂hypot(x, y)/∂y = y/r (0 at r = 0)
#[inline(always)]
pub fn d_hypot_rhs<T: Real>(_x: T, y: T, r: T) -> T {
    if r == nalgebra::zero::<T>() {
        return r;
    }
    y / r
}
/// ∂log_b(x)/∂x = 1/(x ln b)
#[inline(always)]
pub fn d_log_x<T: Real>(x: T, b: T, _y: T) -> T {
    (x * ComplexField::ln(b)).recip()
}
/// ∂log_b(x)/∂b = −ln x/(b (ln b)²) = −y/(b ln b)
#[inline(always)]
pub fn d_log_b<T: Real>(_x: T, b: T, y: T) -> T {
    -y / (b * ComplexField::ln(b))
}
/// ∂clamp(x, lo, hi)/∂x = 1[lo ≤ x ≤ hi] (1 at the bounds, as PyTorch's `clamp`)
#[inline(always)]
pub fn d_clamp_x<T: Real>(x: T, lo: T, hi: T, _y: T) -> T {
    if lo <= x && x <= hi {
        nalgebra::one::<T>()
    } else {
        nalgebra::zero::<T>()
    }
}
/// ∂clamp(x, lo, hi)/∂lo = 1[x < lo]
#[inline(always)]
pub fn d_clamp_lo<T: Real>(x: T, lo: T, _hi: T, _y: T) -> T {
    if x < lo {
        nalgebra::one::<T>()
    } else {
        nalgebra::zero::<T>()
    }
}
/// ∂clamp(x, lo, hi)/∂hi = 1[x > hi]
#[inline(always)]
pub fn d_clamp_hi<T: Real>(x: T, _lo: T, hi: T, _y: T) -> T {
    if x > hi {
        nalgebra::one::<T>()
    } else {
        nalgebra::zero::<T>()
    }
}
/// ∂(x a + b)/∂x = a
#[inline(always)]
pub fn d_mul_add_x<T: Real>(_x: T, a: T, _b: T, _y: T) -> T {
    a
}
/// ∂(x a + b)/∂a = x
#[inline(always)]
pub fn d_mul_add_a<T: Real>(x: T, _a: T, _b: T, _y: T) -> T {
    x
}
/// ∂(x a + b)/∂b = 1
#[inline(always)]
pub fn d_mul_add_b<T: Real>(_x: T, _a: T, _b: T, _y: T) -> T {
    nalgebra::one::<T>()
}

macro_rules! unary_adj {
    ($($name:ident => $d:ident),* $(,)?) => {$(
        #[doc = concat!("`x̄ += ḡ · ", stringify!($d), "(x, y)`")]
        #[inline(always)]
        pub fn $name<T: Real>(x: &T, y: &T, g: &T) -> T {
            *g * $d(*x, *y)
        }
    )*};
}

unary_adj! {
    ln_adj => d_ln, sqrt_adj => d_sqrt, sin_adj => d_sin, cos_adj => d_cos,
    tan_adj => d_tan, sinh_adj => d_sinh, cosh_adj => d_cosh, tanh_adj => d_tanh,
    recip_adj => d_recip, ln_1p_adj => d_ln_1p, exp_m1_adj => d_exp_m1,
    log2_adj => d_log2, log10_adj => d_log10, asin_adj => d_asin, acos_adj => d_acos,
    atan_adj => d_atan, asinh_adj => d_asinh, acosh_adj => d_acosh, atanh_adj => d_atanh,
    cbrt_adj => d_cbrt, signum_adj => d_signum,
}

macro_rules! binary_adj {
    ($($name:ident => $d:ident),* $(,)?) => {$(
        #[doc = concat!("`ḡ · ", stringify!($d), "(x, c, y)`")]
        #[inline(always)]
        pub fn $name<T: Real>(x: &T, c: &T, y: &T, g: &T) -> T {
            *g * $d(*x, *c, *y)
        }
    )*};
}

binary_adj! {
    powf_base_adj => d_powf_base, powf_exp_adj => d_powf_exp,
    max_lhs_adj => d_max_lhs, max_rhs_adj => d_max_rhs,
    min_lhs_adj => d_min_lhs, min_rhs_adj => d_min_rhs,
    atan2_lhs_adj => d_atan2_lhs, atan2_rhs_adj => d_atan2_rhs,
    hypot_lhs_adj => d_hypot_lhs, hypot_rhs_adj => d_hypot_rhs,
    log_x_adj => d_log_x, log_b_adj => d_log_b,
}

macro_rules! ternary_adj {
    ($($name:ident => $d:ident),* $(,)?) => {$(
        #[doc = concat!("`ḡ · ", stringify!($d), "(x, a, b, y)`")]
        #[inline(always)]
        pub fn $name<T: Real>(x: &T, a: &T, b: &T, y: &T, g: &T) -> T {
            *g * $d(*x, *a, *b, *y)
        }
    )*};
}

ternary_adj! {
    clamp_x_adj => d_clamp_x, clamp_lo_adj => d_clamp_lo, clamp_hi_adj => d_clamp_hi,
    mul_add_x_adj => d_mul_add_x, mul_add_a_adj => d_mul_add_a, mul_add_b_adj => d_mul_add_b,
}

/// `x̄ += ḡ n xⁿ⁻¹`
#[inline(always)]
pub fn powi_adj<T: Real>(x: &T, n: &i32, y: &T, g: &T) -> T {
    *g * d_powi(*x, *n, *y)
}

/// What `abs()` applies to: a float scalar, or a matrix entrywise (nalgebra's `Matrix::abs`).
#[diagnostic::on_unimplemented(
    message = "`abs()` applies to f32/f64 scalars and to nalgebra matrices (entrywise), not `{Self}`"
)]
pub trait AbsArg {
    /// `|x|`'s type.
    type Out;
    /// `|x|`, entrywise for a matrix.
    fn abs_of(self) -> Self::Out;
}

impl<T: Real> AbsArg for T {
    type Out = T;
    fn abs_of(self) -> T {
        ComplexField::abs(self)
    }
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> AbsArg for &Matrix<T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = OMatrix<T, R, C>;
    fn abs_of(self) -> OMatrix<T, R, C> {
        self.map(ComplexField::abs)
    }
}

/// The value whose `abs()` is differentiated (the adjoint rule's side of [`AbsArg`]).
pub trait AbsAdj {
    /// The adjoint's type.
    type Adj;
    /// `ḡ ⊙ sign(x)` (0 at 0).
    fn abs_adj_of(&self, g: &Self::Adj) -> Self::Adj;
}

impl<T: Real> AbsAdj for T {
    type Adj = T;
    fn abs_adj_of(&self, g: &T) -> T {
        *g * d_abs(*self, *self)
    }
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>> AbsAdj for Matrix<T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Adj = OMatrix<T, R, C>;
    fn abs_adj_of(&self, g: &OMatrix<T, R, C>) -> OMatrix<T, R, C> {
        g.zip_map(self, |g, x| g * d_abs(x, x))
    }
}

/// `|x|`, of a scalar or of each entry of a matrix.
#[inline(always)]
pub fn abs<X: AbsArg>(x: X) -> X::Out {
    x.abs_of()
}

// y = |x|           (entrywise on a matrix)
// x̄ += ḡ ⊙ sign x   (0 at 0, as PyTorch)
/// `y = x.abs()`: the contribution to `x̄`.
#[inline(always)]
pub fn abs_adj<X: AbsAdj + ?Sized, Y: ?Sized>(x: &X, _y: &Y, g: &X::Adj) -> X::Adj {
    x.abs_adj_of(g)
}

/// What `exp()` applies to: a float scalar, or a square matrix, whose `exp()` is nalgebra's
/// matrix exponential (not the exponential of each entry, which is `m.map(|v| v.exp())`).
#[diagnostic::on_unimplemented(
    message = "`exp()` applies to f32/f64 scalars (the exponential) and to square nalgebra matrices (the matrix exponential), not `{Self}`",
    note = "the exponential of each entry of a matrix is `m.map(|v| v.exp())`, a different function from the matrix exponential"
)]
pub trait ExpArg {
    /// `exp(x)`'s type.
    type Out;
    /// `exp(x)`.
    fn exp_of(self) -> Self::Out;
}

impl<T: Real> ExpArg for T {
    type Out = T;
    fn exp_of(self) -> T {
        ComplexField::exp(self)
    }
}

/// (nalgebra's matrix exponential needs its `std` feature.)
#[cfg(feature = "std")]
impl<T: Real, D, S: Storage<T, D, D>> ExpArg for &Matrix<T, D, D, S>
where
    D: DimMin<D, Output = D>,
    DefaultAllocator: Allocator<D, D> + Allocator<DimMinimum<D, D>> + Allocator<D>,
{
    type Out = OMatrix<T, D, D>;
    fn exp_of(self) -> OMatrix<T, D, D> {
        self.clone_owned().exp()
    }
}

/// The value whose `exp()` is differentiated (the adjoint rule's side of [`ExpArg`]).
pub trait ExpAdj {
    /// The adjoint's type.
    type Adj;
    /// The contribution to `x̄` given `y = exp(x)` and its adjoint `ḡ`.
    fn exp_adj_of(&self, y: &Self::Adj, g: &Self::Adj) -> Self::Adj;
}

// y = eˣ
// x̄ += ḡ y
impl<T: Real> ExpAdj for T {
    type Adj = T;
    fn exp_adj_of(&self, y: &T, g: &T) -> T {
        *g * *y
    }
}

// F = exp(M)                        (the matrix exponential)
// M̄ += L(Mᵀ, F̄), the Fréchet derivative of exp at Mᵀ applied to F̄: the upper-right block of
//      exp([[Mᵀ, F̄], [0, Mᵀ]])       (Mathias 1996; Al-Mohy & Higham 2009)
impl<T: Real, D, S: Storage<T, D, D>> ExpAdj for Matrix<T, D, D, S>
where
    D: DimMin<D, Output = D>,
    DefaultAllocator: Allocator<D, D> + Allocator<DimMinimum<D, D>> + Allocator<D>,
{
    type Adj = OMatrix<T, D, D>;
    fn exp_adj_of(&self, _y: &OMatrix<T, D, D>, g: &OMatrix<T, D, D>) -> OMatrix<T, D, D> {
        exp_frechet(&self.transpose(), g)
    }
}

/// The Fréchet derivative `L(a, e)` of the matrix exponential at `a` in the direction `e`.
pub(crate) fn exp_frechet<T: Real, D: Dim>(a: &OMatrix<T, D, D>, e: &OMatrix<T, D, D>) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    // The block formula's upper-right block, computed on the pair (F, L) = (exp X, L(X, E/2ˢ))
    // with X = A/2ˢ by scaling and squaring: exp(2X) = exp(X)², so each squaring maps (F, L)
    // to (F², F L + L F), and after s of them (F, L) = (exp A, L(A, E)).
    let half = T::from_subset(&0.5);
    let (mut s, mut scale) = (0, nalgebra::one::<T>());
    let mut bound = a.iter().fold(nalgebra::zero::<T>(), |m, v| m + ComplexField::abs(*v));
    while bound > half && s < 64 {
        bound *= half;
        scale *= half;
        s += 1;
    }
    let (x, ex) = (a * scale, e * scale);
    // Taylor series at X (Σ|Xᵢⱼ| ≤ ½): exp(X) = Σₖ Pₖ with Pₖ = Xᵏ/k!, and
    // L(X, E) = Σₖ Qₖ with Qₖ = (1/k!) Σ_{j<k} Xʲ E X^(k−1−j), so that Pₖ = Pₖ₋₁ X / k and
    // Qₖ = (Qₖ₋₁ X + Pₖ₋₁ E) / k. 24 terms: ½²⁴/24! is far below f64's epsilon.
    let (r, c) = a.shape_generic();
    let mut p = OMatrix::<T, D, D>::identity_generic(r, c);
    let mut q = OMatrix::<T, D, D>::zeros_generic(r, c);
    let (mut f, mut l) = (p.clone(), q.clone());
    for k in 1..=24 {
        let kf = T::from_subset(&f64::from(k));
        q = (&q * &x + &p * &ex) / kf;
        p = (&p * &x) / kf;
        f += &p;
        l += &q;
    }
    for _ in 0..s {
        l = &f * &l + &l * &f;
        f = &f * &f;
    }
    l
}

/// `eˣ` of a scalar, or the matrix exponential of a square matrix.
#[inline(always)]
pub fn exp<X: ExpArg>(x: X) -> X::Out {
    x.exp_of()
}

/// `y = x.exp()`: the contribution to `x̄` (`ḡ y` for a scalar, `L(Mᵀ, Ḡ)` for a matrix).
#[inline(always)]
pub fn exp_adj<X: ExpAdj + ?Sized>(x: &X, y: &X::Adj, g: &X::Adj) -> X::Adj {
    x.exp_adj_of(y, g)
}
