//! The `exp` and `tanh` kernels, written once over the few operations they need ([`Kernel`]):
//! for wide's vector types (the lanes chosen at compile time) and, where lanes are chosen at run
//! time (`dispatch`), for `Portable` arrays that LLVM vectorises in a function compiled for the
//! CPU's features. Both compute the same operations in the same order, so a kernel's results
//! differ between the two only where one has FMA and the other not.

use core::ops::{Add, Div, Mul, Neg, Sub};

use nalgebra::ComplexField;

/// The constants of the kernels for a float type: the reduction by ln 2, the clamps, the
/// polynomial.
pub(crate) trait Consts: Copy + 'static {
    /// 1.5·2^(mantissa bits): adding it rounds to an integer k, kept in the low bits.
    const SHIFTER: Self;
    const LOG2_E: Self;
    /// ln 2 split in a high part with trailing zeros (k·hi exact) and the rest.
    const LN2_HI: Self;
    const LN2_LO: Self;
    /// `tanh`'s clamp, past which tanh is ±1 in the type.
    const BIG: Self;
    /// `exp`'s clamps, past which eˣ is 0 or ∞ in the type.
    const EXP_LO: Self;
    const EXP_HI: Self;
    /// The Taylor coefficients of (eʳ − 1 − r)/r², lowest first (12 or 6, for [`estrin`]).
    const POLY: &'static [Self];
    const ONE: Self;
    const TWO: Self;
    const HALF: Self;
    const MINUS_TWO: Self;
}

/// The Taylor coefficients 1/n! of (eʳ − 1 − r)/r² = 1/2 + r/6 + …, lowest first: to 1/13! in
/// f64 (the remainder r¹⁴/14! is under 2⁻⁵⁶ of eʳ − 1 for |r| ≤ ln 2 / 2), to 1/7! in f32 (under
/// 2⁻²⁶).
const EXPM1_P64: [f64; 12] = [
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];
const EXPM1_P32: [f32; 6] = [0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5_040.0];

impl Consts for f64 {
    const SHIFTER: f64 = 1.5 * (1u64 << 52) as f64;
    const LOG2_E: f64 = core::f64::consts::LOG2_E;
    const LN2_HI: f64 = 0.693145751953125;
    const LN2_LO: f64 = 1.428_606_820_309_417_2e-6;
    const BIG: f64 = 19.1;
    const EXP_LO: f64 = -746.0;
    const EXP_HI: f64 = 710.0;
    const POLY: &'static [f64] = &EXPM1_P64;
    const ONE: f64 = 1.0;
    const TWO: f64 = 2.0;
    const HALF: f64 = 0.5;
    const MINUS_TWO: f64 = -2.0;
}

impl Consts for f32 {
    const SHIFTER: f32 = 1.5 * (1u64 << 23) as f32;
    const LOG2_E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const BIG: f32 = 9.1;
    const EXP_LO: f32 = -104.0;
    const EXP_HI: f32 = 89.0;
    const POLY: &'static [f32] = &EXPM1_P32;
    const ONE: f32 = 1.0;
    const TWO: f32 = 2.0;
    const HALF: f32 = 0.5;
    const MINUS_TWO: f32 = -2.0;
}

/// The operations the kernels are written in.
pub(crate) trait Kernel:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    type S: Consts;
    /// Whether `mul_add` is one fused operation (else `exp` takes each entry's scalar `exp`).
    const FMA: bool;
    fn splat(s: Self::S) -> Self;
    /// `self · m + a`
    fn mul_add(self, m: Self, a: Self) -> Self;
    /// `a − self · m`
    fn mul_neg_add(self, m: Self, a: Self) -> Self;
    /// The sign bit cleared.
    fn abs(self) -> Self;
    /// `hi` where `self > hi`, else `self` (NaN stays).
    fn clamp_above(self, hi: Self) -> Self;
    /// `lo` where `self < lo`, else `self`.
    fn clamp_below(self, lo: Self) -> Self;
    /// `self` with the sign bit of `x` or-ed in.
    fn or_sign_of(self, x: Self) -> Self;
    /// 2ᵏ from `k + shifter` (k an integer whose 2ᵏ is a normal number), from the bits.
    fn pow2_shifted(self) -> Self;
    /// Each entry's scalar `exp`.
    fn exp_each(self) -> Self;
}

/// The polynomial `c[0] + c[1] r + c[2] r² + …` of `r`, of 12 or 6 coefficients, by Estrin's
/// scheme: adjacent coefficients paired by one multiply-add each, the pairs paired the same way
/// in r², then in r⁴…, so that its chain of dependent operations is logarithmic in its degree,
/// not linear (Horner's), and a lane's latency does not bound the loop over a matrix's storage.
#[inline(always)]
fn estrin<K: Kernel>(x: K, c: &[K::S]) -> K {
    let x2 = x * x;
    let x4 = x2 * x2;
    // (each coefficient broadcast where it is used, as an operand from memory)
    let pair = |k: usize| K::splat(c[k + 1]).mul_add(x, K::splat(c[k]));
    if c.len() == 12 {
        let (q0, q1, q2) = (pair(2).mul_add(x2, pair(0)), pair(6).mul_add(x2, pair(4)), pair(10).mul_add(x2, pair(8)));
        q2.mul_add(x4 * x4, q1.mul_add(x4, q0))
    } else {
        pair(4).mul_add(x4, pair(2).mul_add(x2, pair(0)))
    }
}

/// The reduction by ln 2 that `exp` and `tanh` share: x = k ln 2 + r with |r| ≤ ln 2 / 2, k
/// rounded by adding the shifter, whose low bits are then k (kept shifted, for 2ᵏ's exponent).
/// Returns `(k + shifter, eʳ − 1)`, eʳ − 1 as r + r² q(r).
#[inline(always)]
fn ln2_reduce<K: Kernel>(x: K) -> (K, K) {
    let shifter = K::splat(K::S::SHIFTER);
    let kf = x.mul_add(K::splat(K::S::LOG2_E), shifter);
    let k = kf - shifter;
    let r = k.mul_neg_add(K::splat(K::S::LN2_HI), x);
    let r = k.mul_neg_add(K::splat(K::S::LN2_LO), r);
    let q = estrin(r, K::S::POLY);
    (kf, q.mul_add(r * r, r))
}

/// eˣ = 2ᵏ eʳ, x = k ln 2 + r with |r| ≤ ln 2 / 2, eʳ = 1 + p with p the polynomial of `tanh`
/// (k rounded by the same shifter). x is clamped to [`Consts::EXP_LO`, `Consts::EXP_HI`]; 2ᵏ is
/// applied as 2^⌊k/2⌉ · 2^(k − ⌊k/2⌉), two powers that are normal numbers, so that a subnormal or
/// infinite result is rounded once, by the last product. No branch; NaN stays NaN. Without FMA
/// the polynomial's separate multiplications and additions make it slower than the scalar `exp`
/// (3.5 against 2.9 ns an f64 entry on SSE2), so each entry's scalar `exp` is taken, bit for bit.
#[inline(always)]
pub(crate) fn exp<K: Kernel>(x: K) -> K {
    if !K::FMA {
        return x.exp_each();
    }
    let x = x.clamp_above(K::splat(K::S::EXP_HI)).clamp_below(K::splat(K::S::EXP_LO));
    let (kf, p) = ln2_reduce(x);
    let shifter = K::splat(K::S::SHIFTER);
    let k = kf - shifter;
    let half = k.mul_add(K::splat(K::S::HALF), shifter);
    let k1 = half - shifter;
    ((p + K::splat(K::S::ONE)) * half.pow2_shifted()) * ((k - k1) + shifter).pow2_shifted()
}

/// tanh x = sign(x) · −m/(m + 2) with m = e⁻²ᵃ − 1, a = |x| (no cancellation: m + 2 lies in
/// (1, 2]), a clamped to [`Consts::BIG`]. With −2a = k ln 2 + r, |r| ≤ ln 2 / 2: m = 2ᵏ p +
/// (2ᵏ − 1), p the Taylor polynomial of eʳ − 1 (exact to under half an ulp on that interval), so
/// that m keeps its relative accuracy at k = 0 (small a, where p = r(1 + r/2 + …) and a subnormal
/// a gives a exactly). No branch, one division; the sign is copied from x (±0 to ±0), and NaN
/// stays NaN.
#[inline(always)]
pub(crate) fn tanh<K: Kernel>(x: K) -> K {
    let a = x.abs().clamp_above(K::splat(K::S::BIG));
    let (kf, p) = ln2_reduce(a * K::splat(K::S::MINUS_TWO));
    let two_k = kf.pow2_shifted();
    let m = two_k.mul_add(p, two_k - K::splat(K::S::ONE));
    // (a NaN passes the clamp and makes m NaN, whatever the bits of 2ᵏ it gives)
    (-m / (m + K::splat(K::S::TWO))).abs().or_sign_of(x)
}

// Per wide type: its scalar, the integer lane of the same width, the mantissa bits and the
// exponent bias (2ᵏ from bits).
macro_rules! wide_kernel {
    ($($w:ident: $t:ident, $bits:ident, $mant:literal, $bias:literal;)*) => {$(
        impl Kernel for wide::$w {
            type S = $t;
            const FMA: bool = cfg!(target_feature = "fma");
            #[inline(always)]
            fn splat(s: $t) -> Self {
                wide::$w::splat(s)
            }
            #[inline(always)]
            fn mul_add(self, m: Self, a: Self) -> Self {
                wide::$w::mul_add(self, m, a)
            }
            #[inline(always)]
            fn mul_neg_add(self, m: Self, a: Self) -> Self {
                wide::$w::mul_neg_add(self, m, a)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                wide::$w::abs(self)
            }
            #[inline(always)]
            fn clamp_above(self, hi: Self) -> Self {
                self.simd_gt(hi).select(hi, self)
            }
            #[inline(always)]
            fn clamp_below(self, lo: Self) -> Self {
                self.simd_lt(lo).select(lo, self)
            }
            #[inline(always)]
            fn or_sign_of(self, x: Self) -> Self {
                self | (x & wide::$w::splat(-0.0))
            }
            #[inline(always)]
            fn pow2_shifted(self) -> Self {
                let i: wide::$bits = wide::bytemuck::cast(self);
                wide::bytemuck::cast((i + wide::$bits::splat($bias)) << $mant)
            }
            #[inline(always)]
            fn exp_each(self) -> Self {
                wide::$w::new(self.to_array().map(ComplexField::exp))
            }
        }
    )*};
}

wide_kernel! {
    f64x8: f64, i64x8, 52, 1023;
    f32x16: f32, i32x16, 23, 127;
    f64x4: f64, i64x4, 52, 1023;
    f32x8: f32, i32x8, 23, 127;
    f64x2: f64, i64x2, 52, 1023;
    f32x4: f32, i32x4, 23, 127;
}

/// `N` entries as an array, each operation a loop over them: in a function compiled for a CPU's
/// vector instructions (`dispatch`), LLVM turns each into one or two of them. `mul_add` is the
/// fused `mul_add` of std, one instruction where FMA is enabled.
#[cfg(feature = "dispatch")]
#[derive(Clone, Copy)]
#[doc(hidden)]
pub struct Portable<T, const N: usize>(pub [T; N]);

#[cfg(feature = "dispatch")]
macro_rules! portable_ops {
    ($($tr:ident, $f:ident, $op:tt;)*) => {$(
        impl<T: Copy + $tr<Output = T>, const N: usize> $tr for Portable<T, N> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                Portable(core::array::from_fn(|i| self.0[i] $op o.0[i]))
            }
        }
    )*};
}

#[cfg(feature = "dispatch")]
portable_ops! {
    Add, add, +;
    Sub, sub, -;
    Mul, mul, *;
    Div, div, /;
}

#[cfg(feature = "dispatch")]
impl<T: Copy + Neg<Output = T>, const N: usize> Neg for Portable<T, N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Portable(self.0.map(|x| -x))
    }
}

// Per float type: its bits' type, the mantissa bits and the exponent bias.
#[cfg(feature = "dispatch")]
macro_rules! portable_kernel {
    ($($t:ident: $bits:ident, $mant:literal, $bias:literal;)*) => {$(
        impl<const N: usize> Kernel for Portable<$t, N> {
            type S = $t;
            const FMA: bool = true;
            #[inline(always)]
            fn splat(s: $t) -> Self {
                Portable([s; N])
            }
            #[inline(always)]
            fn mul_add(self, m: Self, a: Self) -> Self {
                Portable(core::array::from_fn(|i| self.0[i].mul_add(m.0[i], a.0[i])))
            }
            #[inline(always)]
            fn mul_neg_add(self, m: Self, a: Self) -> Self {
                Portable(core::array::from_fn(|i| (-self.0[i]).mul_add(m.0[i], a.0[i])))
            }
            #[inline(always)]
            fn abs(self) -> Self {
                let sign = (-0.0 as $t).to_bits();
                Portable(self.0.map(|x| $t::from_bits(x.to_bits() & !sign)))
            }
            #[inline(always)]
            fn clamp_above(self, hi: Self) -> Self {
                Portable(core::array::from_fn(|i| if self.0[i] > hi.0[i] { hi.0[i] } else { self.0[i] }))
            }
            #[inline(always)]
            fn clamp_below(self, lo: Self) -> Self {
                Portable(core::array::from_fn(|i| if self.0[i] < lo.0[i] { lo.0[i] } else { self.0[i] }))
            }
            #[inline(always)]
            fn or_sign_of(self, x: Self) -> Self {
                let sign = (-0.0 as $t).to_bits();
                Portable(core::array::from_fn(|i| $t::from_bits(self.0[i].to_bits() | (x.0[i].to_bits() & sign))))
            }
            #[inline(always)]
            fn pow2_shifted(self) -> Self {
                Portable(self.0.map(|x| $t::from_bits(((x.to_bits() as $bits).wrapping_add($bias) << $mant) as _)))
            }
            #[inline(always)]
            fn exp_each(self) -> Self {
                Portable(self.0.map(ComplexField::exp))
            }
        }
    )*};
}

#[cfg(feature = "dispatch")]
portable_kernel! {
    f64: i64, 52, 1023;
    f32: i32, 23, 127;
}

// A lane of `N` entries for the closures over lanes (`Lane`), where lanes are chosen at run time:
// `exp` and `tanh` the kernels above; `ln` each entry's scalar `ln` (this module has no `ln`
// kernel); `sqrt`, `recip`, `powi`, `abs`, `max`, `min` and the indicator the scalar results bit
// for bit, as the build's lanes give them.
#[cfg(feature = "dispatch")]
macro_rules! portable_lane {
    ($($t:ident),*) => {$(
        impl<const N: usize> super::Lane for Portable<$t, N> {
            type Scalar = $t;
            const WIDTH: usize = N;
            #[inline(always)]
            fn splat(s: $t) -> Self {
                Portable([s; N])
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                if let Some(full) = s.first_chunk::<N>() {
                    return Portable(*full);
                }
                let mut a = [0.0; N];
                a[..s.len()].copy_from_slice(s);
                Portable(a)
            }
            #[inline(always)]
            fn store(self, out: &mut [$t]) {
                if let Some(full) = out.first_chunk_mut::<N>() {
                    *full = self.0;
                    return;
                }
                let k = out.len();
                out.copy_from_slice(&self.0[..k]);
            }
            #[inline(always)]
            fn exp(self) -> Self {
                exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                Portable(self.0.map(ComplexField::ln))
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                Portable(self.0.map(ComplexField::sqrt))
            }
            #[inline(always)]
            fn recip(self) -> Self {
                Portable(self.0.map(|x| 1.0 / x))
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                super::powi_lanes(self, n)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                Kernel::abs(self)
            }
            #[inline(always)]
            fn max(self, c: Self) -> Self {
                Portable(core::array::from_fn(|i| if self.0[i] > c.0[i] || c.0[i].is_nan() { self.0[i] } else { c.0[i] }))
            }
            #[inline(always)]
            fn min(self, c: Self) -> Self {
                Portable(core::array::from_fn(|i| if self.0[i] < c.0[i] || c.0[i].is_nan() { self.0[i] } else { c.0[i] }))
            }
            #[inline(always)]
            fn gt_indicator(self, c: Self) -> Self {
                Portable(core::array::from_fn(|i| if self.0[i] > c.0[i] { 1.0 } else { 0.0 }))
            }
        }

        impl<const N: usize> super::Operands<$t> for Portable<$t, N> {
            type Lane = Self;
            #[inline(always)]
            fn lanes(self, c: $t) -> (Self, Self) {
                (self, Portable([c; N]))
            }
        }

        impl<const N: usize> super::Operands<Portable<$t, N>> for $t {
            type Lane = Portable<$t, N>;
            #[inline(always)]
            fn lanes(self, c: Portable<$t, N>) -> (Portable<$t, N>, Portable<$t, N>) {
                (Portable([self; N]), c)
            }
        }

        impl<const N: usize> super::AsLane<Portable<$t, N>> for $t {
            #[inline(always)]
            fn lane(self) -> Portable<$t, N> {
                Portable([self; N])
            }
        }
    )*};
}

#[cfg(feature = "dispatch")]
portable_lane!(f64, f32);

// A scalar constant beside a lane, on either side (`1.0 + t`), as wide's types allow.
#[cfg(feature = "dispatch")]
macro_rules! portable_scalar_ops {
    ($($t:ident: [$($tr:ident, $f:ident, $op:tt;)*])*) => {$($(
        impl<const N: usize> $tr<Portable<$t, N>> for $t {
            type Output = Portable<$t, N>;
            #[inline(always)]
            fn $f(self, o: Portable<$t, N>) -> Portable<$t, N> {
                Portable(o.0.map(|x| self $op x))
            }
        }

        impl<const N: usize> $tr<$t> for Portable<$t, N> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: $t) -> Self {
                Portable(self.0.map(|x| x $op o))
            }
        }
    )*)*};
}

#[cfg(feature = "dispatch")]
portable_scalar_ops! {
    f64: [Add, add, +; Sub, sub, -; Mul, mul, *; Div, div, /;]
    f32: [Add, add, +; Sub, sub, -; Mul, mul, *; Div, div, /;]
}
