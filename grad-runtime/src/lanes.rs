//! Elementwise closures evaluated over lanes: several entries of a matrix at once.
//!
//! A differentiated `map`/`zip_map` whose closure is built only from `+ − × ÷`, unary `−`,
//! constants, constant captures and the functions that have a vectorised kernel (`exp`, `ln`,
//! `tanh`, `sqrt`, `recip`, `powi`, `abs`, and `max`/`min` of two scalars; the logistic function
//! `1/(1 + e⁻ˣ)` and softplus are such closures; `abs`, `max`, `min` only beside one of the
//! others: ReLU `v.max(0.0)` alone keeps `map_d`, which LLVM vectorises) is
//! emitted twice by the macro: as the scalar closure, and with its runtime calls pointed at this
//! module, where the same body computes a [`Lane`] of entries. [`map_d_lanes`] applies the lane
//! closure to the matrix's contiguous (column-major) storage, a lane at a time, the last partial
//! lane padded; every entry is computed by the same code whatever its position.
//!
//! With the `simd` feature (the default) a lane is one vector register: of `f64`
//! [`wide::f64x8`] and of `f32` [`wide::f32x16`] where AVX-512 is enabled at compile time
//! (`-C target-cpu=x86-64-v4`, or `native` on such a CPU), [`wide::f64x4`] and [`wide::f32x8`]
//! where AVX is, else [`wide::f64x2`] and [`wide::f32x4`] (x86-64's default target, SSE2, where
//! wide's wider types are arrays of registers whose kernels spill); without it a lane is the
//! scalar itself and `map_d_lanes` runs the scalar closure: the value and derivatives are then
//! the scalar path's bit for bit. With the `dispatch` feature (x86-64, std) the value maps of
//! `tanh` and `exp` choose wider lanes at run time where the CPU has them (its `dispatch` module).
//!
//! # Accuracy
//!
//! `+ − × ÷`, `sqrt` and `powi` are the scalar operations' bit for bit (`powi` by the same
//! square-and-multiply as compiler-rt's `__powidf2` that `f64::powi` calls), and so are `abs`
//! (the sign bit cleared), `max`, `min` (compare and select, with the scalar
//! [`max`](crate::rules::max)'s choice at a NaN and at the tie of `±0` and `∓0`) and their
//! adjoints (`ḡ` times the mask `1[x > c]`… as 1 or 0, so `ḡ = ∞` gives NaN where the mask is 0,
//! as on the scalar path). `ln` is wide's
//! polynomial kernel (with subnormal arguments fixed here); `tanh` is matgrad's (`kernel`: one `eʳ − 1`
//! polynomial after the reduction by ln 2, no branch, one division), and so is `exp` where FMA
//! is enabled at compile time (`-C target-cpu=x86-64-v3` or `native`; without FMA its
//! polynomial is slower than the scalar `exp`, so each entry's scalar `exp` is taken, bit for
//! bit). Against the scalar functions they are within [`ULPS`] units in the last place over the
//! whole range, with IEEE results at the special values (±0, ±∞, NaN, subnormal arguments and
//! results, overflow and underflow), as `tests/kernels.rs` checks entry by entry (measured: 1 ulp
//! for `exp` and `ln`, 2 for `tanh`, 3 for the logistic function). A closure composed of them
//! (`tanh`'s derivative `1 − y²`) is exact up to those errors carried through its formula, as
//! the scalar closure is up to libm's.

use crate::value::{MatArg, Real};

#[cfg(feature = "simd")]
mod kernel;
#[cfg(feature = "dispatch")]
#[doc(hidden)]
pub use kernel::Portable;

use core::ops::{Add, Div, Mul, Neg as NegOp, Sub};
use nalgebra::allocator::Allocator;
use nalgebra::{ComplexField, DefaultAllocator, Dim, Matrix, OMatrix, Storage, U1};

/// Whether `exp` runs as a vectorised kernel in the build's lanes (FMA enabled at compile time).
/// Where it does not, a closure that reads `exp` gains nothing from the build's lanes (each entry
/// takes the scalar `exp` anyway) and pays for packing them: [`map_d_lanes`] then takes the
/// scalar closure, unless it runs in lanes chosen at run time (which have FMA).
pub const EXP_IN_LANES: bool = cfg!(target_feature = "fma");

/// The largest error of the `exp`, `ln` and `tanh` kernels, in units in the last place of the
/// correctly rounded result, for f64 and f32 (what `tests/kernels.rs` asserts).
pub const ULPS: u32 = 4;

/// Several entries computed at once: a SIMD vector of a float type, or the float itself.
pub trait Lane:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + NegOp<Output = Self>
{
    /// The entries' type.
    type Scalar: Real;
    /// How many entries a lane holds.
    const WIDTH: usize;
    /// Every entry `s`.
    fn splat(s: Self::Scalar) -> Self;
    /// The first `WIDTH` entries of `s`, or all of a shorter `s` with the rest zero.
    fn load(s: &[Self::Scalar]) -> Self;
    /// Writes the first `out.len()` (at most `WIDTH`) entries.
    fn store(self, out: &mut [Self::Scalar]);
    /// `eˣ`
    fn exp(self) -> Self;
    /// `ln x`
    fn ln(self) -> Self;
    /// `tanh x`
    fn tanh(self) -> Self;
    /// `√x`
    fn sqrt(self) -> Self;
    /// `1/x`
    fn recip(self) -> Self;
    /// `xⁿ`
    fn powi(self, n: i32) -> Self;
    /// `|x|`: the sign bit cleared (NaN's too), as `f64::abs`.
    fn abs(self) -> Self;
    /// `max(x, c)`: `x` where `x > c` or `c` is NaN, else `c`, as the scalar
    /// [`max`](crate::rules::max) (NaN and the tie of `±0` included).
    fn max(self, c: Self) -> Self;
    /// `min(x, c)`: `x` where `x < c` or `c` is NaN, else `c`, as the scalar [`min`](crate::rules::min).
    fn min(self, c: Self) -> Self;
    /// `1[x > c]`: `1` where `x > c`, else `+0` (where either is NaN too).
    fn gt_indicator(self, c: Self) -> Self;
}

macro_rules! scalar_lane {
    ($($t:ty),*) => {$(
        impl Lane for $t {
            type Scalar = $t;
            const WIDTH: usize = 1;
            #[inline(always)]
            fn splat(s: $t) -> $t {
                s
            }
            #[inline(always)]
            fn load(s: &[$t]) -> $t {
                s.first().copied().unwrap_or(0.0)
            }
            #[inline(always)]
            fn store(self, out: &mut [$t]) {
                if let Some(o) = out.first_mut() {
                    *o = self;
                }
            }
            #[inline(always)]
            fn exp(self) -> $t {
                ComplexField::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> $t {
                ComplexField::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> $t {
                ComplexField::tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> $t {
                ComplexField::sqrt(self)
            }
            #[inline(always)]
            fn recip(self) -> $t {
                ComplexField::recip(self)
            }
            #[inline(always)]
            fn powi(self, n: i32) -> $t {
                ComplexField::powi(self, n)
            }
            #[inline(always)]
            fn abs(self) -> $t {
                ComplexField::abs(self)
            }
            #[inline(always)]
            fn max(self, c: $t) -> $t {
                crate::rules::max(self, c)
            }
            #[inline(always)]
            fn min(self, c: $t) -> $t {
                crate::rules::min(self, c)
            }
            #[inline(always)]
            fn gt_indicator(self, c: $t) -> $t {
                if self > c {
                    1.0
                } else {
                    0.0
                }
            }
        }
    )*};
}

scalar_lane!(f32, f64);

/// `xⁿ` by square-and-multiply, the multiplications in the order of compiler-rt's
/// `__powidf2` (what `f64::powi` calls), so that a lane's entries are `powi`'s bit for bit.
#[cfg(feature = "simd")]
#[inline(always)]
fn powi_lanes<L: Lane>(mut a: L, n: i32) -> L {
    let mut b = n;
    let mut r = L::splat(nalgebra::one());
    loop {
        if b & 1 != 0 {
            r = r * a;
        }
        b /= 2;
        if b == 0 {
            break;
        }
        a = a * a;
    }
    if n < 0 {
        L::splat(nalgebra::one()) / r
    } else {
        r
    }
}

#[cfg(feature = "simd")]
macro_rules! wide_lane {
    ($($w:ident: $t:ident, $n:literal, $shift:literal, $scale:literal;)*) => {$(
        impl Lane for wide::$w {
            type Scalar = $t;
            const WIDTH: usize = $n;
            #[inline(always)]
            fn splat(s: $t) -> Self {
                wide::$w::splat(s)
            }
            // A full lane by a fixed-size copy (a vector move; a copy of a run-time length is a
            // call to memcpy), a partial one padded
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                if let Some(full) = s.first_chunk::<$n>() {
                    return wide::$w::new(*full);
                }
                let mut a = [0.0; $n];
                a[..s.len()].copy_from_slice(s);
                wide::$w::new(a)
            }
            #[inline(always)]
            fn store(self, out: &mut [$t]) {
                if let Some(full) = out.first_chunk_mut::<$n>() {
                    *full = self.to_array();
                    return;
                }
                let k = out.len();
                out.copy_from_slice(&self.as_array()[..k]);
            }
            // the kernel of `kernel::exp` where FMA is enabled, else each entry's scalar `exp`
            #[inline(always)]
            fn exp(self) -> Self {
                kernel::exp(self)
            }
            // ln x = ln(x·2ˢ) − s ln 2 for a subnormal x (wide's kernel takes those for zero)
            // and NaN for x < 0 (wide's gives −∞ for a negative subnormal)
            #[inline(always)]
            fn ln(self) -> Self {
                let tiny = self.simd_lt(wide::$w::splat($t::MIN_POSITIVE));
                if !tiny.any() {
                    return wide::$w::ln(self);
                }
                let sub = tiny & self.simd_gt(wide::$w::ZERO);
                let s = $shift as $t;
                let scaled = sub.select(self * wide::$w::splat($scale), self);
                let y = wide::$w::ln(scaled);
                let y = sub.select(y - wide::$w::splat(s * core::$t::consts::LN_2), y);
                self.simd_lt(wide::$w::ZERO).select(wide::$w::splat($t::NAN), y)
            }
            // see `kernel::tanh`
            #[inline(always)]
            fn tanh(self) -> Self {
                kernel::tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                wide::$w::sqrt(self)
            }
            #[inline(always)]
            fn recip(self) -> Self {
                wide::$w::splat(1.0) / self
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                powi_lanes(self, n)
            }
            // the sign bit cleared
            #[inline(always)]
            fn abs(self) -> Self {
                wide::$w::abs(self)
            }
            // compare and select, not wide's `max`: its choice at a NaN or a tie is the target's
            #[inline(always)]
            fn max(self, c: Self) -> Self {
                (self.simd_gt(c) | c.is_nan()).select(self, c)
            }
            #[inline(always)]
            fn min(self, c: Self) -> Self {
                (self.simd_lt(c) | c.is_nan()).select(self, c)
            }
            // the comparison's mask (all ones or all zeros) and the bits of 1
            #[inline(always)]
            fn gt_indicator(self, c: Self) -> Self {
                self.simd_gt(c) & wide::$w::ONE
            }
        }

        impl Operands<$t> for wide::$w {
            type Lane = wide::$w;
            #[inline(always)]
            fn lanes(self, c: $t) -> (Self, Self) {
                (self, wide::$w::splat(c))
            }
        }

        impl Operands<wide::$w> for $t {
            type Lane = wide::$w;
            #[inline(always)]
            fn lanes(self, c: wide::$w) -> (wide::$w, wide::$w) {
                (wide::$w::splat(self), c)
            }
        }

        impl AsLane<wide::$w> for $t {
            #[inline(always)]
            fn lane(self) -> wide::$w {
                wide::$w::splat(self)
            }
        }
    )*};
}

// Per lane type: its scalar and width; `ln`'s scaling of a subnormal (2^shift). The `exp` and
// `tanh` kernels' constants are in `kernel`.
#[cfg(feature = "simd")]
wide_lane! {
    f64x8: f64, 8, 54, 18014398509481984.0;
    f32x16: f32, 16, 24, 16777216.0;
    f64x4: f64, 4, 54, 18014398509481984.0;
    f32x8: f32, 8, 24, 16777216.0;
    f64x2: f64, 2, 54, 18014398509481984.0;
    f32x4: f32, 4, 24, 16777216.0;
}

/// A float type's lane (every [`Real`] has one).
pub trait Lanes: Sized {
    /// Its lane: several of it (`simd`), or itself.
    type Wide: Lane<Scalar = Self>;

    /// Its lanes for AVX2 with FMA and for AVX-512, chosen at run time (`dispatch`; else
    /// [`Lanes::Wide`], never run).
    #[doc(hidden)]
    type Avx2: Lane<Scalar = Self>;
    #[doc(hidden)]
    type Avx512: Lane<Scalar = Self>;
}

/// An instruction set that lanes may be chosen for at run time (`dispatch`).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// AVX2 and FMA (x86-64-v3): four f64 or eight f32 a lane.
    Avx2,
    /// AVX-512 (x86-64-v4): eight f64 or sixteen f32 a lane.
    Avx512,
}

#[cfg(all(feature = "dispatch", target_arch = "x86_64"))]
mod dispatch;

// A lane is one vector register: 512 bits with AVX-512, 256 with AVX, else 128 (SSE2, NEON).
// wide's wider types without the instructions for them are arrays of narrower vectors, whose
// kernels run out of registers and spill.
#[cfg(all(feature = "simd", target_feature = "avx512f"))]
type Lanes64 = wide::f64x8;
#[cfg(all(feature = "simd", target_feature = "avx512f"))]
type Lanes32 = wide::f32x16;
#[cfg(all(feature = "simd", target_feature = "avx", not(target_feature = "avx512f")))]
type Lanes64 = wide::f64x4;
#[cfg(all(feature = "simd", target_feature = "avx", not(target_feature = "avx512f")))]
type Lanes32 = wide::f32x8;
#[cfg(all(feature = "simd", not(target_feature = "avx")))]
type Lanes64 = wide::f64x2;
#[cfg(all(feature = "simd", not(target_feature = "avx")))]
type Lanes32 = wide::f32x4;
#[cfg(not(feature = "simd"))]
type Lanes64 = f64;
#[cfg(not(feature = "simd"))]
type Lanes32 = f32;

macro_rules! lanes_of {
    ($($t:ident: $wide:ident, $n4:literal, $n8:literal;)*) => {$(
        impl Lanes for $t {
            type Wide = $wide;
            #[cfg(all(feature = "dispatch", target_arch = "x86_64"))]
            type Avx2 = kernel::Portable<$t, $n4>;
            #[cfg(all(feature = "dispatch", target_arch = "x86_64"))]
            type Avx512 = kernel::Portable<$t, $n8>;
            // (without `dispatch`, never run)
            #[cfg(not(all(feature = "dispatch", target_arch = "x86_64")))]
            type Avx2 = $wide;
            #[cfg(not(all(feature = "dispatch", target_arch = "x86_64")))]
            type Avx512 = $wide;
        }
    )*};
}

lanes_of! {
    f64: Lanes64, 4, 8;
    f32: Lanes32, 8, 16;
}

/// The lanes of a float type for AVX2 with FMA, chosen at run time.
#[doc(hidden)]
pub type Avx2<T> = <T as Lanes>::Avx2;
/// The lanes of a float type for AVX-512, chosen at run time.
#[doc(hidden)]
pub type Avx512<T> = <T as Lanes>::Avx512;

/// The lane of a float type.
pub type Wide<T> = <T as Lanes>::Wide;

/// A lane, or a scalar (a constant) broadcast to one.
pub trait AsLane<L> {
    /// The value as a lane.
    fn lane(self) -> L;
}

impl<L: Lane> AsLane<L> for L {
    #[inline(always)]
    fn lane(self) -> L {
        self
    }
}

/// The operands of a function of two arguments over lanes: two lanes, or a lane and a scalar
/// constant on either side (broadcast).
pub trait Operands<C> {
    /// The lane they make.
    type Lane: Lane;
    /// Both as lanes.
    fn lanes(self, c: C) -> (Self::Lane, Self::Lane);
}

impl<L: Lane> Operands<L> for L {
    type Lane = L;
    #[inline(always)]
    fn lanes(self, c: L) -> (L, L) {
        (self, c)
    }
}

/// A closure over lanes of one entry or two (`zip_map`), called through an inlined method: in
/// the function compiled for a level of lanes chosen at run time, its body (inlined by its own
/// `#[inline(always)]`, which generated code writes) is compiled for the level.
trait Entry<L, const N: usize> {
    fn call(&mut self, a: L, b: L) -> (L, [L; N]);
}

/// A closure of the entry alone.
struct One<W>(W);

impl<L, const N: usize, W: FnMut(L) -> (L, [L; N])> Entry<L, N> for One<W> {
    #[inline(always)]
    fn call(&mut self, a: L, _b: L) -> (L, [L; N]) {
        (self.0)(a)
    }
}

/// A closure of the entries of two matrices.
struct Two<W>(W);

impl<L, const N: usize, W: FnMut(L, L) -> (L, [L; N])> Entry<L, N> for Two<W> {
    #[inline(always)]
    fn call(&mut self, a: L, b: L) -> (L, [L; N]) {
        (self.0)(a, b)
    }
}

/// `f` applied to the column-major storage `xs`, a lane at a time (the last one padded with
/// zeros, the padding's results dropped), with the lane of the same entries of a second matrix
/// from `second(k, end)`: the values replace `xs`, and the `N` partials fill `ds`.
///
/// Every lane, the last partial one included, is read from and written to `WIDTH` entries (the
/// last in buffers on the stack, copied in and out once), through one call of `f`: so the
/// loads and stores are fixed-size copies and `f` is inlined once.
/// `hide`: each lane's slices are hidden from LLVM (for the lanes chosen at run time, arrays
/// whose operations LLVM would otherwise vectorise across lanes, by gathers).
#[inline(always)]
fn sweep<L: Lane, const N: usize>(
    xs: &mut [L::Scalar],
    ds: &mut [&mut [L::Scalar]; N],
    hide: bool,
    mut second: impl FnMut(usize, usize) -> L,
    mut f: impl Entry<L, N>,
) {
    let zero = nalgebra::zero::<L::Scalar>();
    let (w, n) = (L::WIDTH, xs.len());
    let full = n - n % w;
    let mut xt = [zero; MAX_WIDTH];
    let mut dt = [[zero; MAX_WIDTH]; N];
    xt[..n - full].copy_from_slice(&xs[full..]);
    for j in 0..n.div_ceil(w) {
        let k = j * w;
        let mut x = if k < full { &mut xs[k..k + w] } else { &mut xt[..w] };
        if hide {
            x = core::hint::black_box(x);
        }
        let (v, d) = f.call(L::load(x), second(k, (k + w).min(n)));
        v.store(x);
        for ((dn, dtn), dv) in ds.iter_mut().zip(dt.iter_mut()).zip(d) {
            dv.store(if k < full { &mut dn[k..k + w] } else { &mut dtn[..w] });
        }
    }
    xs[full..].copy_from_slice(&xt[..n - full]);
    for (dn, dtn) in ds.iter_mut().zip(&dt) {
        dn[full..].copy_from_slice(&dtn[..n - full]);
    }
}

/// The widest lane's entry count (f32x16).
const MAX_WIDTH: usize = 16;

/// Where a map over lanes runs: the build's lanes, lanes chosen at run time, or each entry's
/// scalar closure.
enum Run {
    Build,
    At(Level),
    Scalar,
}

/// Where a closure over lanes runs for `len` entries: at a level chosen at run time where the
/// CPU has one wider than the build's lanes (`dispatch`, 64 entries or more), else in the
/// build's lanes; on the scalar path where a lane is one entry, or where the closure reads
/// `exp` (`exp`) and the build's `exp` kernel does not run in lanes ([`EXP_IN_LANES`]).
#[inline]
fn run_of<T: Lanes>(len: usize, exp: bool) -> Run {
    if <Wide<T> as Lane>::WIDTH == 1 {
        return Run::Scalar;
    }
    match level(len) {
        Some(level) => Run::At(level),
        None if exp && !EXP_IN_LANES => Run::Scalar,
        None => Run::Build,
    }
}

/// [`map_d`](crate::rules::map_d) with the closure also given over lanes, the same body at each
/// lane type: `w` at the build's ([`Wide`]), `w4` and `w8` at the lanes chosen at run time for
/// AVX2 and AVX-512 (`dispatch`; the generated code writes the lane closure once for each).
/// `exp`: the closure reads `exp` (see [`run_of`]).
#[inline]
pub fn map_d_lanes<X: MatArg, const N: usize, F, W, W4, W8>(
    exp: bool,
    x: X,
    f: F,
    w: W,
    w4: W4,
    w8: W8,
) -> crate::rules::MapWithPartials<X::T, X::R, X::C, N>
where
    X::T: Lanes,
    F: FnMut(X::T) -> (X::T, [X::T; N]),
    W: FnMut(Wide<X::T>) -> (Wide<X::T>, [Wide<X::T>; N]),
    W4: FnMut(Avx2<X::T>) -> (Avx2<X::T>, [Avx2<X::T>; N]),
    W8: FnMut(Avx512<X::T>) -> (Avx512<X::T>, [Avx512<X::T>; N]),
    DefaultAllocator: Allocator<X::R, X::C>,
{
    let run = run_of::<X::T>(x.mat().len(), exp);
    if let Run::Scalar = run {
        return crate::rules::map_d(x, f);
    }
    let (r, c) = x.mat().shape_generic();
    let mut y = x.into_mat();
    let mut d: [OMatrix<X::T, X::R, X::C>; N] = core::array::from_fn(|_| OMatrix::zeros_generic(r, c));
    let mut ds = d.each_mut().map(|m| m.as_mut_slice());
    let ys = y.as_mut_slice();
    match run {
        Run::At(Level::Avx512) => {
            let none = |_, _| Avx512::<X::T>::splat(nalgebra::zero());
            at(Level::Avx512, SweepAt { xs: ys, ds: &mut ds, second: none, f: One(w8) })
        }
        Run::At(Level::Avx2) => {
            let none = |_, _| Avx2::<X::T>::splat(nalgebra::zero());
            at(Level::Avx2, SweepAt { xs: ys, ds: &mut ds, second: none, f: One(w4) })
        }
        Run::Build | Run::Scalar => {
            let none = |_, _| Wide::<X::T>::splat(nalgebra::zero());
            sweep(ys, &mut ds, false, none, One(w))
        }
    }
    (y, d)
}

/// Rows `k..end` of the column-major entries `entries` as a lane.
#[inline(always)]
fn next_lane<'a, L: Lane>(entries: &mut impl Iterator<Item = &'a L::Scalar>, k: usize, end: usize) -> L
where
    L::Scalar: 'a,
{
    let mut buf = [nalgebra::zero::<L::Scalar>(); MAX_WIDTH];
    for (b, v) in buf[..end - k].iter_mut().zip(entries) {
        *b = *v;
    }
    L::load(&buf[..end - k])
}

/// [`map_d2`](crate::rules::map_d2) (`x.zip_map(&y, f)`) with the closure also given over
/// lanes, as [`map_d_lanes`]; `y` is read in column-major order whatever its storage.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn map_d2_lanes<X: MatArg, SY, const N: usize, F, W, W4, W8>(
    exp: bool,
    x: X,
    y: &Matrix<X::T, X::R, X::C, SY>,
    f: F,
    w: W,
    w4: W4,
    w8: W8,
) -> crate::rules::MapWithPartials<X::T, X::R, X::C, N>
where
    X::T: Lanes,
    SY: Storage<X::T, X::R, X::C>,
    F: FnMut(X::T, X::T) -> (X::T, [X::T; N]),
    W: FnMut(Wide<X::T>, Wide<X::T>) -> (Wide<X::T>, [Wide<X::T>; N]),
    W4: FnMut(Avx2<X::T>, Avx2<X::T>) -> (Avx2<X::T>, [Avx2<X::T>; N]),
    W8: FnMut(Avx512<X::T>, Avx512<X::T>) -> (Avx512<X::T>, [Avx512<X::T>; N]),
    DefaultAllocator: Allocator<X::R, X::C>,
{
    let run = run_of::<X::T>(x.mat().len(), exp);
    if let Run::Scalar = run {
        return crate::rules::map_d2(x, y, f);
    }
    let (r, c) = x.mat().shape_generic();
    assert_eq!(x.mat().shape(), y.shape(), "zip_map: the matrices must have the same shape");
    let mut z = x.into_mat();
    let mut d: [OMatrix<X::T, X::R, X::C>; N] = core::array::from_fn(|_| OMatrix::zeros_generic(r, c));
    let mut ds = d.each_mut().map(|m| m.as_mut_slice());
    let mut entries = y.iter();
    let zs = z.as_mut_slice();
    match run {
        Run::At(Level::Avx512) => {
            let second = |k, e| next_lane(&mut entries, k, e);
            at(Level::Avx512, SweepAt { xs: zs, ds: &mut ds, second, f: Two(w8) })
        }
        Run::At(Level::Avx2) => {
            let second = |k, e| next_lane(&mut entries, k, e);
            at(Level::Avx2, SweepAt { xs: zs, ds: &mut ds, second, f: Two(w4) })
        }
        Run::Build | Run::Scalar => sweep(zs, &mut ds, false, |k, e| next_lane(&mut entries, k, e), Two(w)),
    }
    (z, d)
}

/// Code to run in the function compiled for a level of lanes chosen at run time: its calls
/// are all inlined there (`#[inline(always)]`), so that they are compiled for the level too.
pub(crate) trait AtLevel {
    type Output;
    fn run(self) -> Self::Output;
}

/// [`sweep`] with the lanes hidden, as code to run at a level.
struct SweepAt<'a, 'b, L: Lane, const N: usize, S, F> {
    xs: &'a mut [L::Scalar],
    ds: &'a mut [&'b mut [L::Scalar]; N],
    second: S,
    f: F,
}

impl<L: Lane, const N: usize, S, F> AtLevel for SweepAt<'_, '_, L, N, S, F>
where
    S: FnMut(usize, usize) -> L,
    F: Entry<L, N>,
{
    type Output = ();
    #[inline(always)]
    fn run(self) {
        sweep(self.xs, self.ds, true, self.second, self.f)
    }
}

/// The level of lanes chosen at run time for `len` entries: the widest the CPU has beyond the
/// build's lanes (`dispatch`, 64 entries or more), else `None`.
#[inline]
fn level(len: usize) -> Option<Level> {
    #[cfg(all(feature = "dispatch", target_arch = "x86_64"))]
    return dispatch::level(len);
    #[cfg(not(all(feature = "dispatch", target_arch = "x86_64")))]
    {
        let _ = len;
        None
    }
}

/// A pass of arithmetic alone (its results the same bits at every width), as code to run at a
/// level: LLVM vectorises its loops for the level.
struct Pass<F>(F);

impl<R, F: FnOnce() -> R> AtLevel for Pass<F> {
    type Output = R;
    #[inline(always)]
    fn run(self) -> R {
        (self.0)()
    }
}

/// `f()` at the level of lanes chosen at run time for `len` entries, else as built.
#[inline(always)]
fn widest<R>(len: usize, f: impl FnOnce() -> R) -> R {
    match level(len) {
        Some(l) => at(l, Pass(f)),
        None => f(),
    }
}

/// `code` run in the function compiled for `level` (`dispatch`), else as built.
#[inline(always)]
fn at<C: AtLevel>(level: Level, code: C) -> C::Output {
    #[cfg(all(feature = "dispatch", target_arch = "x86_64"))]
    return dispatch::at(level, code);
    #[cfg(not(all(feature = "dispatch", target_arch = "x86_64")))]
    {
        let _ = level;
        code.run()
    }
}

// Y = f(X) entrywise, for an f whose derivative is a function of its value
// X̄ += Ḡ ⊙ f′(Y)
macro_rules! value_maps {
    ($($map:ident, $adj:ident: $f:ident, $d:ident, $exp:literal;)*) => {$(
        #[doc = concat!("`x.map(|v| v.", stringify!($f), "())`, for a differentiated map: its values alone, over lanes as [`map_d_lanes`] (or each entry's scalar `", stringify!($f), "` where that kernel does not run in lanes); the reverse sweep computes `Ḡ ⊙ f′` from them ([`", stringify!($adj), "`]), so the forward pass stores no derivative.")]
        #[inline]
        pub fn $map<X: MatArg>(x: X) -> OMatrix<X::T, X::R, X::C>
        where
            X::T: Lanes,
            DefaultAllocator: Allocator<X::R, X::C>,
        {
            let scalar = |v| (crate::rules::$f(v), []);
            map_d_lanes::<_, 0, _, _, _, _>(
                $exp,
                x,
                scalar,
                #[inline(always)]
                |l| (body::$f(l), []),
                #[inline(always)]
                |l| (body::$f(l), []),
                #[inline(always)]
                |l| (body::$f(l), []),
            )
            .0
        }

        #[doc = concat!("`y = ", stringify!($map), "(x)`: the contribution to `x̄`, `Ḡ ⊙ f′(Y)` from the values `Y` (in `Ḡ`'s buffer when it is moved in), the products the stored derivative's path computes.")]
        #[inline]
        pub fn $adj<Y: MatArg, G: MatArg<T = Y::T, R = Y::R, C = Y::C>>(y: Y, g: G) -> OMatrix<Y::T, Y::R, Y::C>
        where
            DefaultAllocator: Allocator<Y::R, Y::C>,
        {
            widest(y.mat().len(), || g.zip_into(y.mat(), |g, y| g * crate::rules::$d(y, y)))
        }
    )*};
}

value_maps! {
    map_tanh, map_tanh_adj: tanh, d_tanh, false;
    map_exp, map_exp_adj: exp, d_exp, true;
    map_sqrt, map_sqrt_adj: sqrt, d_sqrt, false;
    map_recip, map_recip_adj: recip, d_recip, false;
}

/// Rows `k..end` of column `j` of `z` as a lane (a column of any storage is read entry by entry).
#[inline(always)]
fn column_lane<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(
    z: &Matrix<T, R, C, S>,
    j: usize,
    k: usize,
    end: usize,
) -> Wide<T> {
    let mut buf = [T::zero(); MAX_WIDTH];
    for (i, b) in (k..end).zip(buf.iter_mut()) {
        *b = z[(i, j)];
    }
    Wide::<T>::load(&buf[..end - k])
}

/// [`logsumexp_rows`](crate::logsumexp_rows) as generated code calls it: each row's maximum as
/// there, then `Σⱼ exp(Zᵢⱼ − mᵢ)` for a lane of rows at a time, column by column (the same order
/// of summation), and `mᵢ + ln` of it; a row whose maximum is not finite gives that maximum.
pub fn logsumexp_rows<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(z: &Matrix<T, R, C, S>) -> OMatrix<T, R, U1>
where
    DefaultAllocator: Allocator<R, U1>,
{
    let w = <Wide<T> as Lane>::WIDTH;
    if w == 1 {
        return crate::loss::logsumexp_rows(z);
    }
    let (r, _) = z.shape_generic();
    let lowest = T::min_value().unwrap_or(-T::one() / T::zero());
    let mut l = OMatrix::from_fn_generic(r, U1, |i, _| z.row(i).iter().copied().fold(lowest, |a, b| a.max(b)));
    let n = z.nrows();
    let mut k = 0;
    while k < n {
        let end = (k + w).min(n);
        let m = Wide::<T>::load(&l.as_slice()[k..end]);
        let mut sum = Wide::<T>::splat(T::zero());
        for j in 0..z.ncols() {
            sum = sum + (column_lane(z, j, k, end) - m).exp();
        }
        let lse = m + sum.ln();
        let mut out = [T::zero(); MAX_WIDTH];
        lse.store(&mut out[..end - k]);
        for (li, o) in l.as_mut_slice()[k..end].iter_mut().zip(out) {
            if li.is_finite() {
                *li = o;
            }
        }
        k = end;
    }
    l
}

/// [`softmax_rows`](crate::softmax_rows) as generated code calls it: `exp(Zᵢⱼ − lseᵢ)` a lane of
/// rows at a time, column by column.
pub fn softmax_rows<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(z: &Matrix<T, R, C, S>) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C> + Allocator<R, U1>,
{
    let w = <Wide<T> as Lane>::WIDTH;
    if w == 1 {
        return crate::loss::softmax_rows(z);
    }
    let lse = logsumexp_rows(z);
    let mut y = z.clone_owned();
    let n = z.nrows();
    for (j, col) in y.as_mut_slice().chunks_mut(n.max(1)).enumerate() {
        let mut k = 0;
        while k < n {
            let end = (k + w).min(n);
            let m = Wide::<T>::load(&lse.as_slice()[k..end]);
            (column_lane(z, j, k, end) - m).exp().store(&mut col[k..end]);
            k = end;
        }
    }
    y
}

/// The lane form of the functions a closure's body calls (the names generated code uses in
/// `::matgrad::__private`, with the same meaning), for [`map_d_lanes`].
pub mod body {
    pub use super::EXP_IN_LANES;
    use super::{AsLane, Lane, Operands};

    /// The operand form of a value: the value (lanes and scalars are `Copy`).
    #[inline(always)]
    pub fn by_ref<V: Copy>(v: &V) -> V {
        *v
    }

    /// `1` in every entry: the seed of the closure's reverse sweep.
    #[inline(always)]
    pub fn one_like<L: Lane>(_x: &L) -> L {
        L::splat(nalgebra::one())
    }

    /// A contribution to a lane adjoint.
    pub trait Contrib {
        /// The adjoint's type.
        type Adj: Lane;
        /// The contribution as the adjoint's first value.
        fn init(self) -> Self::Adj;
        /// `acc += self`
        fn add_to(self, acc: &mut Self::Adj);
    }

    impl<L: Lane> Contrib for L {
        type Adj = L;
        #[inline(always)]
        fn init(self) -> L {
            self
        }
        #[inline(always)]
        fn add_to(self, acc: &mut L) {
            *acc = *acc + self;
        }
    }

    /// `−c`
    pub struct Neg<C>(pub C);

    impl<C: Contrib> Contrib for Neg<C> {
        type Adj = C::Adj;
        #[inline(always)]
        fn init(self) -> C::Adj {
            -self.0.init()
        }
        #[inline(always)]
        fn add_to(self, acc: &mut C::Adj) {
            *acc = *acc - self.0.init();
        }
    }

    /// An adjoint read again later.
    pub struct Shared<'a, L>(&'a L);

    impl<L: Lane> Contrib for Shared<'_, L> {
        type Adj = L;
        #[inline(always)]
        fn init(self) -> L {
            *self.0
        }
        #[inline(always)]
        fn add_to(self, acc: &mut L) {
            *acc = *acc + *self.0;
        }
    }

    /// An adjoint read again later, as a contribution.
    #[inline(always)]
    pub fn shared<L: Lane>(a: &L) -> Shared<'_, L> {
        Shared(a)
    }

    /// The first contribution to an adjoint starts it.
    #[inline(always)]
    pub fn init<C: Contrib>(c: C) -> C::Adj {
        c.init()
    }

    /// `acc += c`
    #[inline(always)]
    pub fn add_to<C: Contrib>(acc: &mut C::Adj, c: C) {
        c.add_to(acc);
    }

    // c = a b:  ā += ḡ b,  b̄ += a ḡ
    /// `c = a * b`: the contribution to `ā`.
    #[inline(always)]
    pub fn mul_lhs<L: Lane, A, B: Copy + AsLane<L>>(_a: &A, b: &B, g: &L) -> L {
        *g * (*b).lane()
    }

    /// `c = a * b`: the contribution to `b̄`.
    #[inline(always)]
    pub fn mul_rhs<L: Lane, A: Copy + AsLane<L>, B>(a: &A, _b: &B, g: &L) -> L {
        (*a).lane() * *g
    }

    // y = x / s:  x̄ += ḡ / s,  s̄ −= ḡ y / s (ḡ y² for x = 1)
    /// `y = x / s`: the contribution to `x̄`.
    #[inline(always)]
    pub fn div_lhs<L: Lane, X, S: Copy + AsLane<L>, Y>(_x: &X, s: &S, _y: &Y, g: &L) -> L {
        (L::splat(nalgebra::one()) / (*s).lane()) * *g
    }

    /// `y = x / s`: the contribution to `s̄`.
    #[inline(always)]
    pub fn div_rhs<L: Lane, X: Copy + AsLane<L>, S: Copy + AsLane<L>, Y: Copy + AsLane<L>>(
        _x: &X,
        s: &S,
        y: &Y,
        g: &L,
    ) -> L {
        -((*y).lane() * *g) / (*s).lane()
    }

    macro_rules! unary {
        ($($(#[$doc:meta])* $name:ident, $adj:ident: |$x:ident, $y:ident| $d:expr;)*) => {$(
            $(#[$doc])*
            #[inline(always)]
            pub fn $name<L: Lane>(x: L) -> L {
                x.$name()
            }
            #[doc = concat!("`y = ", stringify!($name), "(x)`: `x̄ += ḡ · ", stringify!($d), "`")]
            #[inline(always)]
            pub fn $adj<L: Lane>(x: &L, y: &L, g: &L) -> L {
                let ($x, $y) = (*x, *y);
                *g * $d
            }
        )*};
    }

    unary! {
        /// `eˣ`
        exp, exp_adj: |_x, y| y;
        /// `ln x`
        ln, ln_adj: |x, _y| x.recip();
        /// `tanh x`
        tanh, tanh_adj: |_x, y| L::splat(nalgebra::one()) - y * y;
        /// `√x`
        sqrt, sqrt_adj: |_x, y| (y + y).recip();
        /// `1/x`
        recip, recip_adj: |_x, y| -(y * y);
    }

    /// `xⁿ`
    #[inline(always)]
    pub fn powi<L: Lane>(x: L, n: i32) -> L {
        x.powi(n)
    }

    /// `y = xⁿ`: `x̄ += ḡ n xⁿ⁻¹` (0 for n = 0).
    #[inline(always)]
    pub fn powi_adj<L: Lane>(x: &L, n: &i32, _y: &L, g: &L) -> L {
        if *n == 0 {
            return L::splat(nalgebra::zero());
        }
        *g * (L::splat(nalgebra::convert(f64::from(*n))) * x.powi(*n - 1))
    }

    /// `|x|`
    #[inline(always)]
    pub fn abs<L: Lane>(x: L) -> L {
        x.abs()
    }

    // y = |x|:  x̄ += ḡ sign x (0 at 0): 1[x > 0] − 1[0 > x]
    /// `y = x.abs()`: the contribution to `x̄`.
    #[inline(always)]
    pub fn abs_adj<L: Lane>(x: &L, _y: &L, g: &L) -> L {
        let zero = L::splat(nalgebra::zero());
        *g * (x.gt_indicator(zero) - zero.gt_indicator(*x))
    }

    /// `max(x, c)`
    #[inline(always)]
    pub fn max<X: Operands<C>, C>(x: X, c: C) -> X::Lane {
        let (x, c) = x.lanes(c);
        x.max(c)
    }

    /// `min(x, c)`
    #[inline(always)]
    pub fn min<X: Operands<C>, C>(x: X, c: C) -> X::Lane {
        let (x, c) = x.lanes(c);
        x.min(c)
    }

    // y = max(x, c):  x̄ += ḡ 1[x > c],  c̄ += ḡ 1[x ≤ c] = ḡ (1 − 1[x > c])
    /// `y = max(x, c)`: the contribution to `x̄`.
    #[inline(always)]
    pub fn max_lhs_adj<L: Lane, X: Copy + AsLane<L>, C: Copy + AsLane<L>, Y>(x: &X, c: &C, _y: &Y, g: &L) -> L {
        *g * (*x).lane().gt_indicator((*c).lane())
    }

    /// `y = max(x, c)`: the contribution to `c̄`.
    #[inline(always)]
    pub fn max_rhs_adj<L: Lane, X: Copy + AsLane<L>, C: Copy + AsLane<L>, Y>(x: &X, c: &C, _y: &Y, g: &L) -> L {
        *g * (L::splat(nalgebra::one()) - (*x).lane().gt_indicator((*c).lane()))
    }

    // y = min(x, c):  x̄ += ḡ 1[x < c],  c̄ += ḡ 1[x ≥ c] = ḡ (1 − 1[c > x])
    /// `y = min(x, c)`: the contribution to `x̄`.
    #[inline(always)]
    pub fn min_lhs_adj<L: Lane, X: Copy + AsLane<L>, C: Copy + AsLane<L>, Y>(x: &X, c: &C, _y: &Y, g: &L) -> L {
        *g * (*c).lane().gt_indicator((*x).lane())
    }

    /// `y = min(x, c)`: the contribution to `c̄`.
    #[inline(always)]
    pub fn min_rhs_adj<L: Lane, X: Copy + AsLane<L>, C: Copy + AsLane<L>, Y>(x: &X, c: &C, _y: &Y, g: &L) -> L {
        *g * (L::splat(nalgebra::one()) - (*c).lane().gt_indicator((*x).lane()))
    }
}
