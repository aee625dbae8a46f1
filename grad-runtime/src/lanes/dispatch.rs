//! Lanes chosen at run time, by the CPU's features: where the build's lanes are narrower than
//! the CPU's vector registers (x86-64's default target is SSE2, two f64), a map over lanes runs
//! in a function compiled for AVX-512 (eight f64) or AVX2 and FMA (four), chosen once per call by
//! [pulp](https://docs.rs/pulp), which holds the `unsafe` of calling it.
//!
//! The lanes there are `Portable` arrays, with the kernels of the build's lanes (`kernel.rs`)
//! and FMA: within the same bound ([`ULPS`](super::ULPS)) of the scalar functions, and the
//! build's lanes' results bit for bit where those have FMA too.

use super::Level;

/// Fewer entries than this take the build's lanes, so that small fixed-size maps pay nothing
/// for the choice (not measured: a guess at where the wider lanes start to pay).
const MIN_LEN: usize = 64;

/// The levels wider than the build's lanes, widest first: AVX-512 unless the build has it, AVX2
/// with FMA unless the build has FMA.
const LEVELS: &[Level] = match (cfg!(target_feature = "avx512f"), cfg!(target_feature = "fma")) {
    (true, _) => &[],
    (false, true) => &[Level::Avx512],
    (false, false) => &[Level::Avx512, Level::Avx2],
};

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
