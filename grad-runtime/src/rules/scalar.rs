//! Scalar functions and their derivatives.
//!
//! Generated code calls these instead of the inherent float methods so that it compiles in
//! `no_std` crates: they go through nalgebra's `ComplexField`/`RealField` traits (with
//! nalgebra's `libm` feature there is no std). `d_f(x, y)` is `f′(x)` given `y = f(x)`,
//! which lets `exp`, `sqrt` and `tanh` reuse the forward value instead of recomputing it.

use crate::value::Real;
use nalgebra::{ComplexField, RealField};

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
    /// `eˣ`
    exp => ComplexField::exp;
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
    /// `|x|`
    abs => ComplexField::abs;
    /// `1/x`
    recip => ComplexField::recip;
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

/// `max(x, c)`
#[inline(always)]
pub fn max<T: ScalarArg>(x: T, c: T) -> T {
    RealField::max(x, c)
}

/// `min(x, c)`
#[inline(always)]
pub fn min<T: ScalarArg>(x: T, c: T) -> T {
    RealField::min(x, c)
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
    exp_adj => d_exp, ln_adj => d_ln, sqrt_adj => d_sqrt, sin_adj => d_sin, cos_adj => d_cos,
    tan_adj => d_tan, sinh_adj => d_sinh, cosh_adj => d_cosh, tanh_adj => d_tanh,
    abs_adj => d_abs, recip_adj => d_recip,
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
}

/// `x̄ += ḡ n xⁿ⁻¹`
#[inline(always)]
pub fn powi_adj<T: Real>(x: &T, n: &i32, y: &T, g: &T) -> T {
    *g * d_powi(*x, *n, *y)
}
