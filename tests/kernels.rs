//! The lane kernels (`matgrad::lanes`) against the scalar functions, entry by entry, over the
//! whole range of f64 and f32: ±0, ±∞, NaN, subnormals, the largest and smallest normals,
//! arguments that overflow and underflow, and a sweep of magnitudes in between. With the
//! `simd` feature a lane holds several entries and the kernels are within
//! [`matgrad::lanes::ULPS`] of the scalar function (which is within 1 ulp of the correctly rounded
//! value, so the kernels' own bound holds up to that); `sqrt`, `recip` and `powi` are the scalar
//! results bit for bit. Without `simd` a lane is the scalar: every kernel is the scalar function.

use matgrad::lanes::{Lane, Wide, ULPS};

/// Distance in units in the last place between two floats of the same sign class, via the
/// ordered integer representation; `None` when one is NaN and the other not.
fn ulps_f64(a: f64, b: f64) -> Option<u64> {
    if a.is_nan() || b.is_nan() {
        return (a.is_nan() && b.is_nan()).then_some(0);
    }
    let key = |x: f64| {
        let i = x.to_bits() as i64;
        if i < 0 {
            i64::MIN - i
        } else {
            i
        }
    };
    Some(key(a).abs_diff(key(b)))
}

fn ulps_f32(a: f32, b: f32) -> Option<u64> {
    if a.is_nan() || b.is_nan() {
        return (a.is_nan() && b.is_nan()).then_some(0);
    }
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        i64::from(if i < 0 { i32::MIN - i } else { i })
    };
    Some(key(a).abs_diff(key(b)))
}

/// Special values, and ±2ᵏ·m over every binary exponent for a few mantissas.
fn args_f64() -> Vec<f64> {
    let mut v = vec![0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MIN_POSITIVE, f64::MAX, f64::MIN];
    v.extend([5e-324, 1e-310, 2.2e-308, 709.78, 709.79, 710.0, -708.4, -744.0, -745.1, -746.0, 19.06, 19.07]);
    v.extend([1e-8, 5e-8, 1e-7, 0.5, 1.0, 1.5, 2.0, 0.1, 0.3, 0.693, 1e300]);
    for e in -1074..=1023 {
        for m in [1.0, 1.1, 1.37, 1.5, 1.999] {
            let x = m * 2f64.powi(e);
            if x.is_finite() && x != 0.0 {
                v.push(x);
            }
        }
    }
    for k in -4000..=4000 {
        v.push(f64::from(k) * 0.0123);
    }
    let n = v.len();
    for i in 0..n {
        v.push(-v[i]);
    }
    v
}

fn args_f32() -> Vec<f32> {
    let mut v = vec![0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MIN_POSITIVE, f32::MAX, f32::MIN];
    v.extend([1e-45, 1e-40, 1.1e-38, 88.72, 88.73, 89.0, -87.3, -103.0, -104.0, 9.01, 9.02, 2e-4, 1e-4]);
    for e in -149..=127 {
        for m in [1.0f32, 1.1, 1.37, 1.5, 1.999] {
            let x = m * 2f32.powi(e);
            if x.is_finite() && x != 0.0 {
                v.push(x);
            }
        }
    }
    for k in -4000..=4000 {
        v.push(k as f32 * 0.0123);
    }
    let n = v.len();
    for i in 0..n {
        v.push(-v[i]);
    }
    v
}

/// The lane function `lane` against the scalar `scalar` at every argument, each argument in
/// every position of a lane (the other entries other arguments); returns the largest distance.
fn check<T: matgrad::Real + core::fmt::Debug, L: Lane<Scalar = T>>(
    name: &str,
    args: &[T],
    lane: impl Fn(L) -> L,
    scalar: impl Fn(T) -> T,
    ulps: impl Fn(T, T) -> Option<u64>,
    bound: u64,
) -> u64 {
    let w = L::WIDTH;
    let mut worst = 0;
    let mut bad = Vec::new();
    for start in 0..w.min(args.len()) {
        for chunk in args[start..].chunks(w) {
            let mut out = vec![T::zero(); chunk.len()];
            lane(L::load(chunk)).store(&mut out);
            for (&x, &got) in chunk.iter().zip(&out) {
                let want = scalar(x);
                let d = ulps(got, want);
                if d.is_none_or(|d| d > bound) && bad.len() < 8 {
                    bad.push(format!(
                        "{name}({x:?}) = {got:?} by the lane kernel, {want:?} by the scalar ({d:?} ulps)"
                    ));
                }
                worst = worst.max(d.unwrap_or(u64::MAX));
            }
        }
    }
    println!("{name}: at most {worst} ulps from the scalar function");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    worst
}

/// The bound of the polynomial kernels: [`ULPS`] with lanes, 0 (the scalar function) without.
fn bound() -> u64 {
    if <Wide<f64> as Lane>::WIDTH == 1 {
        0
    } else {
        u64::from(ULPS)
    }
}

#[test]
fn f64_kernels_against_the_scalar_functions() {
    f64_kernels::<Wide<f64>>(bound());
}

#[test]
fn f32_kernels_against_the_scalar_functions() {
    f32_kernels::<Wide<f32>>(bound());
}

/// The f64 kernels of the lane type `L` against the scalar functions, the polynomial ones within
/// `b` ulps.
fn f64_kernels<L: Lane<Scalar = f64>>(b: u64) {
    let a = args_f64();
    check::<_, L>("exp", &a, Lane::exp, f64::exp, ulps_f64, b);
    check::<_, L>("ln", &a, Lane::ln, f64::ln, ulps_f64, b);
    check::<_, L>("tanh", &a, Lane::tanh, f64::tanh, ulps_f64, b);
    check::<_, L>("sqrt", &a, Lane::sqrt, f64::sqrt, ulps_f64, 0);
    check::<_, L>("recip", &a, Lane::recip, f64::recip, ulps_f64, 0);
    for n in [-7, -3, -2, -1, 0, 1, 2, 3, 4, 5, 8, 13] {
        check::<_, L>("powi", &a, |x| x.powi(n), |x| x.powi(n), ulps_f64, 0);
    }
    let logistic = |x: L| L::splat(1.0) / (L::splat(1.0) + (-x).exp());
    check::<_, L>("logistic", &a, logistic, |x| 1.0 / (1.0 + (-x).exp()), ulps_f64, b);
}

/// [`f64_kernels`] in f32.
fn f32_kernels<L: Lane<Scalar = f32>>(b: u64) {
    let a = args_f32();
    check::<_, L>("exp", &a, Lane::exp, f32::exp, ulps_f32, b);
    check::<_, L>("ln", &a, Lane::ln, f32::ln, ulps_f32, b);
    check::<_, L>("tanh", &a, Lane::tanh, f32::tanh, ulps_f32, b);
    check::<_, L>("sqrt", &a, Lane::sqrt, f32::sqrt, ulps_f32, 0);
    check::<_, L>("recip", &a, Lane::recip, f32::recip, ulps_f32, 0);
    for n in [-7, -3, -2, -1, 0, 1, 2, 3, 4, 5, 8, 13] {
        check::<_, L>("powi", &a, |x| x.powi(n), |x| x.powi(n), ulps_f32, 0);
    }
    let logistic = |x: L| L::splat(1.0) / (L::splat(1.0) + (-x).exp());
    check::<_, L>("logistic", &a, logistic, |x| 1.0 / (1.0 + (-x).exp()), ulps_f32, b);
}

/// A float type's bits, to compare results exactly (NaN payloads and the sign of zero included),
/// and the second arguments and adjoints the comparisons below pair every argument with: ±0, ±1,
/// ±∞, ±NaN, the extremes, a normal and a subnormal (rotated, so that a lane holds several).
trait Bits: matgrad::Real + core::fmt::Debug {
    fn bits(self) -> u64;
    fn specials() -> Vec<Self>;
}

macro_rules! bits {
    ($($t:ident: $sub:literal),*) => {$(
        impl Bits for $t {
            fn bits(self) -> u64 {
                u64::from(self.to_bits())
            }
            fn specials() -> Vec<$t> {
                let mut v = vec![0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, $t::INFINITY, $t::NEG_INFINITY];
                v.extend([$t::NAN, -$t::NAN, $t::MIN, $t::MAX, $t::MIN_POSITIVE, $sub, -$sub]);
                v
            }
        }
    )*};
}

bits!(f64: 5e-324, f32: 1e-45);

/// The lane function `lane` of `(x, c, g)` against the scalar path's `scalar` bit for bit, at
/// every argument `x`, each in every position of a lane and (`every_c`) with every `c` of
/// [`Bits::specials`], the entries of a lane paired with successive `c`s (and `g`s, shifted
/// against them).
fn check_bits<T: Bits, L: Lane<Scalar = T>>(
    name: &str,
    args: &[T],
    lane: impl Fn(L, L, L) -> L,
    scalar: impl Fn(T, T, T) -> T,
    every_c: bool,
) {
    let (w, sp) = (L::WIDTH, T::specials());
    let mut bad = Vec::new();
    let mut k = 0;
    // shift by shift, the c of the entry at p is specials[p + shift]; the lanes start at p = shift mod w
    for shift in 0..if every_c { sp.len().max(w) } else { w } {
        let start = shift % w;
        for (j, chunk) in args[start..].chunks(w).enumerate() {
            let cs: Vec<T> = (0..chunk.len()).map(|i| sp[(start + j * w + i + shift) % sp.len()]).collect();
            let gs: Vec<T> = (0..chunk.len()).map(|i| sp[(k / 3 + 2 * i) % sp.len()]).collect();
            k += 1;
            let mut out = vec![T::zero(); chunk.len()];
            lane(L::load(chunk), L::load(&cs), L::load(&gs)).store(&mut out);
            for (((&x, &c), &g), &got) in chunk.iter().zip(&cs).zip(&gs).zip(&out) {
                let want = scalar(x, c, g);
                if got.bits() != want.bits() && bad.len() < 8 {
                    bad.push(format!(
                        "{name}({x:?}, {c:?}; ḡ = {g:?}) = {got:?} over lanes, {want:?} by the scalar path"
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// `abs`, `max`, `min` and their adjoints over lanes against the scalar path
/// (`matgrad::__private`, what a closure without a lane form calls), bit for bit at every
/// argument: NaN (`max`/`min` give the other argument, the masks `1[x > c]`… are 0 at a NaN, and
/// ḡ · 0 is NaN for ḡ = ±∞ or NaN), ±0 (|x|′ = 0 at 0; at a tie of ±0 and ∓0, `max`/`min` give
/// `c`), ±∞ and subnormals.
fn abs_max_min_against_the_scalar_path<T: Bits, L: Lane<Scalar = T>>(args: &[T]) {
    use matgrad::__private as s;
    use matgrad::lanes::body as l;
    check_bits::<T, L>("abs", args, |x, _, _| l::abs(x), |x, _, _| s::abs(x), true);
    check_bits::<T, L>(
        "abs_adj",
        args,
        |x, _, g| l::abs_adj(&x, &l::abs(x), &g),
        |x, _, g| s::abs_adj(&x, &s::abs(x), &g),
        true,
    );
    check_bits::<T, L>("max", args, |x, c, _| l::max(x, c), |x, c, _| s::max(x, c), true);
    check_bits::<T, L>("min", args, |x, c, _| l::min(x, c), |x, c, _| s::min(x, c), true);
    let (max, min) = (|x: T, c: T| s::max(x, c), |x: T, c: T| s::min(x, c));
    let lmax = |x: L, c: L| l::max(x, c);
    let lmin = |x: L, c: L| l::min(x, c);
    check_bits::<T, L>(
        "max_lhs_adj",
        args,
        |x, c, g| l::max_lhs_adj(&x, &c, &lmax(x, c), &g),
        |x, c, g| s::max_lhs_adj(&x, &c, &max(x, c), &g),
        true,
    );
    check_bits::<T, L>(
        "max_rhs_adj",
        args,
        |x, c, g| l::max_rhs_adj(&x, &c, &lmax(x, c), &g),
        |x, c, g| s::max_rhs_adj(&x, &c, &max(x, c), &g),
        true,
    );
    check_bits::<T, L>(
        "min_lhs_adj",
        args,
        |x, c, g| l::min_lhs_adj(&x, &c, &lmin(x, c), &g),
        |x, c, g| s::min_lhs_adj(&x, &c, &min(x, c), &g),
        true,
    );
    check_bits::<T, L>(
        "min_rhs_adj",
        args,
        |x, c, g| l::min_rhs_adj(&x, &c, &lmin(x, c), &g),
        |x, c, g| s::min_rhs_adj(&x, &c, &min(x, c), &g),
        true,
    );
}

/// As [`abs_max_min_against_the_scalar_path`], with a constant `c` (a scalar of type `$t`, what a
/// literal or a constant capture is in the lane closure, broadcast) on either side.
macro_rules! constant_operands {
    ($t:ident, $l:ty, $args:expr) => {{
        use matgrad::__private as s;
        use matgrad::lanes::body as l;
        for c in <$t as Bits>::specials() {
            check_bits::<$t, $l>("max(x, c)", $args, |x, _, _| l::max(x, c), |x, _, _| s::max(x, c), false);
            check_bits::<$t, $l>("max(c, x)", $args, |x, _, _| l::max(c, x), |x, _, _| s::max(c, x), false);
            check_bits::<$t, $l>("min(x, c)", $args, |x, _, _| l::min(x, c), |x, _, _| s::min(x, c), false);
            check_bits::<$t, $l>("min(c, x)", $args, |x, _, _| l::min(c, x), |x, _, _| s::min(c, x), false);
            let y = |x: $t| s::max(x, c);
            check_bits::<$t, $l>(
                "max_lhs_adj(x, c)",
                $args,
                |x, _, g| l::max_lhs_adj(&x, &c, &x, &g),
                |x, _, g| s::max_lhs_adj(&x, &c, &y(x), &g),
                false,
            );
            check_bits::<$t, $l>(
                "max_rhs_adj(c, x)",
                $args,
                |x, _, g| l::max_rhs_adj(&c, &x, &x, &g),
                |x, _, g| s::max_rhs_adj(&c, &x, &y(x), &g),
                false,
            );
            check_bits::<$t, $l>(
                "min_lhs_adj(x, c)",
                $args,
                |x, _, g| l::min_lhs_adj(&x, &c, &x, &g),
                |x, _, g| s::min_lhs_adj(&x, &c, &y(x), &g),
                false,
            );
            check_bits::<$t, $l>(
                "min_rhs_adj(c, x)",
                $args,
                |x, _, g| l::min_rhs_adj(&c, &x, &x, &g),
                |x, _, g| s::min_rhs_adj(&c, &x, &y(x), &g),
                false,
            );
        }
    }};
}

/// The scalar path's `max`/`min`/`abs` and adjoints by their definitions: `f64::max`/`min` (the
/// argument that is not NaN; at the tie of ±0 and ∓0, where `f64::max` is unspecified, `c`),
/// `f64::abs`, `1[x > c]`, `1[x ≤ c]`, `1[x < c]`, `1[x ≥ c]`, sign x with 0 at 0 (ḡ = 1).
fn scalar_path_definitions<T: Bits>(args: &[T], std_max: fn(T, T) -> T, std_min: fn(T, T) -> T, std_abs: fn(T) -> T) {
    use matgrad::__private as s;
    let one = T::one();
    let ind = |b: bool| if b { one } else { T::zero() };
    for &x in args {
        assert_eq!(s::abs(x).bits(), std_abs(x).bits(), "abs({x:?})");
        let sign = if x > T::zero() {
            one
        } else if x < T::zero() {
            -one
        } else {
            T::zero()
        };
        assert_eq!(s::abs_adj(&x, &x, &one).bits(), sign.bits(), "abs′({x:?})");
        for c in T::specials() {
            let tie = x == T::zero() && c == T::zero() && x.is_sign_negative() != c.is_sign_negative();
            let (want_max, want_min) = if tie { (c, c) } else { (std_max(x, c), std_min(x, c)) };
            if x.partial_cmp(&x).is_none() && c.partial_cmp(&c).is_none() {
                // (which NaN `f64::max` returns is unspecified; the scalar path's is `x`)
                assert!(s::max(x, c).bits() == x.bits() && s::min(x, c).bits() == x.bits(), "max/min({x:?}, {c:?})");
            } else {
                assert_eq!(s::max(x, c).bits(), want_max.bits(), "max({x:?}, {c:?})");
                assert_eq!(s::min(x, c).bits(), want_min.bits(), "min({x:?}, {c:?})");
            }
            let y = s::max(x, c);
            assert_eq!(s::max_lhs_adj(&x, &c, &y, &one).bits(), ind(x > c).bits(), "∂max/∂x({x:?}, {c:?})");
            assert_eq!(
                s::max_rhs_adj(&x, &c, &y, &one).bits(),
                ind(x.partial_cmp(&c) != Some(core::cmp::Ordering::Greater)).bits(),
                "∂max/∂c({x:?}, {c:?})"
            );
            let y = s::min(x, c);
            assert_eq!(s::min_lhs_adj(&x, &c, &y, &one).bits(), ind(x < c).bits(), "∂min/∂x({x:?}, {c:?})");
            assert_eq!(
                s::min_rhs_adj(&x, &c, &y, &one).bits(),
                ind(x.partial_cmp(&c) != Some(core::cmp::Ordering::Less)).bits(),
                "∂min/∂c({x:?}, {c:?})"
            );
        }
    }
}

#[test]
fn f64_abs_max_min_over_lanes_are_the_scalar_path_bit_for_bit() {
    let a = args_f64();
    abs_max_min_against_the_scalar_path::<_, Wide<f64>>(&a);
    constant_operands!(f64, Wide<f64>, &a);
    scalar_path_definitions(&a, f64::max, f64::min, f64::abs);
}

#[test]
fn f32_abs_max_min_over_lanes_are_the_scalar_path_bit_for_bit() {
    let a = args_f32();
    abs_max_min_against_the_scalar_path::<_, Wide<f32>>(&a);
    constant_operands!(f32, Wide<f32>, &a);
    scalar_path_definitions(&a, f32::max, f32::min, f32::abs);
}

/// The lanes chosen at run time (`dispatch`): the value maps' kernels as they run, at the widest
/// level the CPU has, against the scalar functions over the same arguments, each argument in
/// every position of a lane (the storage shifted by one entry at a time) and in the padded last
/// lane; and both levels' lane types, computed as built (the same operations, fused
/// multiply-adds included, give the same bits in the function compiled for the level).
#[cfg(all(feature = "dispatch", target_arch = "x86_64"))]
mod dispatched {
    use super::*;
    use matgrad::__private::{map_exp, map_tanh};
    use nalgebra::DMatrix;

    fn check_map<T: matgrad::Real + core::fmt::Debug + matgrad::lanes::Lanes>(
        name: &str,
        args: &[T],
        map: impl Fn(DMatrix<T>) -> DMatrix<T>,
        scalar: impl Fn(T) -> T,
        ulps: impl Fn(T, T) -> Option<u64>,
    ) {
        let mut worst = 0;
        let mut bad = Vec::new();
        for start in 0..16.min(args.len()) {
            let xs = &args[start..];
            let out = map(DMatrix::from_column_slice(xs.len(), 1, xs));
            for (&x, &got) in xs.iter().zip(out.iter()) {
                let want = scalar(x);
                let d = ulps(got, want);
                if d.is_none_or(|d| d > u64::from(ULPS)) && bad.len() < 8 {
                    bad.push(format!(
                        "{name}({x:?}) = {got:?} in lanes chosen at run time, {want:?} by the scalar ({d:?} ulps)"
                    ));
                }
                worst = worst.max(d.unwrap_or(u64::MAX));
            }
        }
        println!("{name}: at most {worst} ulps from the scalar function");
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn value_maps_at_the_widest_level_against_the_scalar_functions() {
        let (a, a32) = (args_f64(), args_f32());
        check_map("tanh", &a, map_tanh, f64::tanh, ulps_f64);
        check_map("exp", &a, map_exp, f64::exp, ulps_f64);
        check_map("tanh", &a32, map_tanh, f32::tanh, ulps_f32);
        check_map("exp", &a32, map_exp, f32::exp, ulps_f32);
    }

    /// The lanes of the closures over lanes chosen at run time (`Avx2<T>`, `Avx512<T>`: arrays
    /// of 4 or 8 f64, 8 or 16 f32), every kernel and `abs`/`max`/`min` as for the build's lanes.
    #[test]
    fn the_lanes_of_each_level_against_the_scalar_functions() {
        use matgrad::lanes::{Avx2, Avx512};
        let b = u64::from(ULPS);
        f64_kernels::<Avx2<f64>>(b);
        f64_kernels::<Avx512<f64>>(b);
        f32_kernels::<Avx2<f32>>(b);
        f32_kernels::<Avx512<f32>>(b);
        let (a, a32) = (args_f64(), args_f32());
        abs_max_min_against_the_scalar_path::<_, Avx2<f64>>(&a);
        abs_max_min_against_the_scalar_path::<_, Avx512<f64>>(&a);
        abs_max_min_against_the_scalar_path::<_, Avx512<f32>>(&a32);
        constant_operands!(f64, Avx512<f64>, &a);
        constant_operands!(f32, Avx2<f32>, &a32);
    }

    /// With FMA in the build (`-C target-cpu=x86-64-v3` or `native`), the build's lanes compute
    /// the same operations as those chosen at run time: the same bits.
    #[test]
    fn with_fma_in_the_build_the_levels_agree_with_its_lanes_bit_for_bit() {
        if !cfg!(target_feature = "fma") {
            return;
        }
        let a = args_f64();
        type Map = fn(DMatrix<f64>) -> DMatrix<f64>;
        for (name, map, lane) in
            [("tanh", map_tanh as Map, Lane::tanh as fn(Wide<f64>) -> Wide<f64>), ("exp", map_exp as Map, Lane::exp)]
        {
            let got = map(DMatrix::from_column_slice(a.len(), 1, &a));
            let w = <Wide<f64> as Lane>::WIDTH;
            for (chunk, g) in a.chunks(w).zip(got.as_slice().chunks(w)) {
                let mut want = vec![0.0; chunk.len()];
                lane(Wide::<f64>::load(chunk)).store(&mut want);
                for ((x, w), g) in chunk.iter().zip(&want).zip(g) {
                    assert_eq!(w.to_bits(), g.to_bits(), "{name}({x:?}): {g:?}, the build's lanes {w:?}");
                }
            }
        }
    }
}
