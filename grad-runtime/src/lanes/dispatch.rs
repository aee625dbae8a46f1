//! Lanes chosen at run time, by the CPU's features, for the maps whose closure is one kernel
//! (`x.map(|v| v.tanh())`, `exp`: the runtime's value maps): where the build's lanes are
//! narrower than the CPU's vector registers (x86-64's default target is SSE2, two f64), the
//! kernel runs in a function compiled for AVX-512 (eight f64) or AVX2 and FMA (four), chosen
//! once per call by [pulp](https://docs.rs/pulp), which holds the `unsafe` of calling it.
//!
//! The kernels are those of the compile-time lanes (`lanes/kernel.rs`), over `Portable`
//! arrays, with FMA: within the same bound ([`ULPS`](super::ULPS)) of the scalar functions, and
//! the compile-time lanes' results bit for bit where those have FMA too.

use core::marker::PhantomData;

use super::kernel::{self, Kernel, Portable};
pub use super::Fun;

pub use super::Level;

/// Fewer entries than this take the build's lanes, so that small fixed-size maps pay nothing
/// for the choice (not measured: a guess at where the wider lanes start to pay).
const MIN_LEN: usize = 64;

/// A kernel, as a type.
trait Apply {
    fn apply<K: Kernel>(x: K) -> K;
}

struct Tanh;
struct Exp;

impl Apply for Tanh {
    #[inline(always)]
    fn apply<K: Kernel>(x: K) -> K {
        kernel::tanh(x)
    }
}

impl Apply for Exp {
    #[inline(always)]
    fn apply<K: Kernel>(x: K) -> K {
        kernel::exp(x)
    }
}

/// `F` applied to `xs` in place, `N` entries at a time (the last partial lane padded with zeros),
/// in the function that pulp compiles for the level it is run at.
struct Sweep<'a, T, const N: usize, F>(&'a mut [T], PhantomData<F>);

impl<T: Copy + Default, const N: usize, F: Apply> pulp::WithSimd for Sweep<'_, T, N, F>
where
    Portable<T, N>: Kernel,
{
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let (lanes, rest) = self.0.as_chunks_mut::<N>();
        for lane in lanes {
            // (the lane's address hidden from LLVM: else it vectorises the loop across lanes,
            // entry k of eight lanes at a time by gathers, instead of each lane's operations)
            let lane = core::hint::black_box(lane);
            *lane = F::apply(Portable(*lane)).0;
        }
        if !rest.is_empty() {
            let mut last = [T::default(); N];
            last[..rest.len()].copy_from_slice(rest);
            let y = F::apply(Portable(last)).0;
            rest.copy_from_slice(&y[..rest.len()]);
        }
    }
}

/// Applies `fun` to `xs` at `level` (`N4`, `N8`: the lane widths for AVX2 and AVX-512); false
/// when the CPU has no such instructions.
#[inline]
fn run<T: Copy + Default, const N4: usize, const N8: usize>(level: Level, xs: &mut [T], fun: Fun) -> bool
where
    Portable<T, N4>: Kernel,
    Portable<T, N8>: Kernel,
{
    use pulp::Simd;
    match level {
        Level::Avx512 => {
            let Some(simd) = pulp::x86::V4::try_new() else { return false };
            match fun {
                Fun::Tanh => Simd::vectorize(simd, Sweep::<T, N8, Tanh>(xs, PhantomData)),
                Fun::Exp => Simd::vectorize(simd, Sweep::<T, N8, Exp>(xs, PhantomData)),
            }
        }
        Level::Avx2 => {
            let Some(simd) = pulp::x86::V3::try_new() else { return false };
            match fun {
                Fun::Tanh => Simd::vectorize(simd, Sweep::<T, N4, Tanh>(xs, PhantomData)),
                Fun::Exp => Simd::vectorize(simd, Sweep::<T, N4, Exp>(xs, PhantomData)),
            }
        }
    }
    true
}

/// Applies `fun` to `xs` at `level`, whatever the build's lanes: false when the CPU lacks
/// `level`'s instructions. For tests of each level's kernels.
#[doc(hidden)]
pub fn f64_at(level: Level, xs: &mut [f64], fun: Fun) -> bool {
    run::<f64, 4, 8>(level, xs, fun)
}

/// [`f64_at`] for f32.
#[doc(hidden)]
pub fn f32_at(level: Level, xs: &mut [f32], fun: Fun) -> bool {
    run::<f32, 8, 16>(level, xs, fun)
}

/// The levels wider than the build's lanes, widest first: AVX-512 unless the build has it, AVX2
/// with FMA unless the build has FMA.
const LEVELS: &[Level] = match (cfg!(target_feature = "avx512f"), cfg!(target_feature = "fma")) {
    (true, _) => &[],
    (false, true) => &[Level::Avx512],
    (false, false) => &[Level::Avx512, Level::Avx2],
};

/// Applies `fun` to `xs` in lanes wider than the build's where the CPU has them and `xs` is
/// long enough to gain from them; false when it did not (the build's lanes are then taken).
#[inline]
pub(crate) fn f64s(xs: &mut [f64], fun: Fun) -> bool {
    xs.len() >= MIN_LEN && LEVELS.iter().any(|&l| f64_at(l, xs, fun))
}

/// [`f64s`] for f32.
#[inline]
pub(crate) fn f32s(xs: &mut [f32], fun: Fun) -> bool {
    xs.len() >= MIN_LEN && LEVELS.iter().any(|&l| f32_at(l, xs, fun))
}

/// `f()` compiled for the CPU's widest vector instructions (pulp's `Arch::dispatch`: LLVM
/// vectorises its loops for them) where they are wider than the build's and `len` entries gain
/// from them, else `f()` as built. For elementwise passes of arithmetic alone, whose results are
/// the same bits at every width.
#[inline]
pub(crate) fn widest<R>(len: usize, f: impl FnOnce() -> R) -> R {
    if len < MIN_LEN || LEVELS.is_empty() {
        return f();
    }
    pulp::Arch::new().dispatch(f)
}

/// The widest level the CPU has beyond the build's lanes, for `len` entries (64 or more).
#[inline]
pub(crate) fn level(len: usize) -> Option<Level> {
    if len < MIN_LEN {
        return None;
    }
    LEVELS.iter().copied().find(|l| match l {
        Level::Avx512 => pulp::x86::V4::try_new().is_some(),
        Level::Avx2 => pulp::x86::V3::try_new().is_some(),
    })
}

/// Code run in a function compiled for a level (see [`super::AtLevel`]).
struct Call<C>(C);

impl<C: super::AtLevel> pulp::WithSimd for Call<C> {
    type Output = C::Output;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> C::Output {
        self.0.run()
    }
}

/// `code` run in the function compiled for `level`, or as built where the CPU lacks it.
#[inline(always)]
pub(crate) fn at<C: super::AtLevel>(level: Level, code: C) -> C::Output {
    use pulp::Simd;
    match level {
        Level::Avx512 => match pulp::x86::V4::try_new() {
            Some(simd) => Simd::vectorize(simd, Call(code)),
            None => code.run(),
        },
        Level::Avx2 => match pulp::x86::V3::try_new() {
            Some(simd) => Simd::vectorize(simd, Call(code)),
            None => code.run(),
        },
    }
}
