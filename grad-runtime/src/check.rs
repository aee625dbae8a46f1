//! Checks along random directions, in the spirit of JAX's `check_grads`: every parameter at
//! once (a tuple of them), `⟨∇f, v⟩` against a central difference of `f` along `v` for several
//! seeded random directions `v`, and `⟨u, J v⟩ = ⟨Jᵀu, v⟩` for a vector-Jacobian product.

use core::fmt;

use nalgebra::allocator::Allocator;
use nalgebra::{ComplexField, DefaultAllocator, Dim, OMatrix};

use crate::value::Real;

/// A point of a parameter space, read as its coordinates: an `f32`/`f64`, an owned nalgebra
/// matrix, or a tuple of those (all parameters of a function at once), with its gradient type.
pub trait Point: Clone {
    /// The scalar of the coordinates.
    type Scalar: Real;
    /// A gradient (or adjoint) at this point: a value of the same shape.
    type Grad;
    /// The number of coordinates.
    fn dim(&self) -> usize;
    /// Coordinate `k` (matrices column-major, a tuple's parts in order).
    fn coord(&self, k: usize) -> Self::Scalar;
    /// Sets coordinate `k`.
    fn set_coord(&mut self, k: usize, v: Self::Scalar);
    /// Coordinate `k` of a gradient at this point.
    fn grad_coord(&self, grad: &Self::Grad, k: usize) -> Self::Scalar;
}

macro_rules! scalar_point {
    ($($t:ty),*) => {$(
        impl Point for $t {
            type Scalar = $t;
            type Grad = $t;
            fn dim(&self) -> usize {
                1
            }
            fn coord(&self, _: usize) -> $t {
                *self
            }
            fn set_coord(&mut self, _: usize, v: $t) {
                *self = v;
            }
            fn grad_coord(&self, grad: &$t, _: usize) -> $t {
                *grad
            }
        }
    )*};
}
scalar_point!(f32, f64);

impl<T: Real, R: Dim, C: Dim> Point for OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Scalar = T;
    type Grad = OMatrix<T, R, C>;
    fn dim(&self) -> usize {
        self.len()
    }
    fn coord(&self, k: usize) -> T {
        self[k]
    }
    fn set_coord(&mut self, k: usize, v: T) {
        self[k] = v;
    }
    fn grad_coord(&self, grad: &Self::Grad, k: usize) -> T {
        grad[k]
    }
}

macro_rules! tuple_point {
    ($(($($p:ident $i:tt),+)),*) => {$(
        impl<A: Point, $($p: Point<Scalar = A::Scalar>),+> Point for (A, $($p),+) {
            type Scalar = A::Scalar;
            type Grad = (A::Grad, $($p::Grad),+);
            fn dim(&self) -> usize {
                self.0.dim() $(+ self.$i.dim())+
            }
            fn coord(&self, k: usize) -> A::Scalar {
                let mut k = k;
                if k < self.0.dim() {
                    return self.0.coord(k);
                }
                k -= self.0.dim();
                $(
                    if k < self.$i.dim() {
                        return self.$i.coord(k);
                    }
                    k -= self.$i.dim();
                )+
                panic!("coordinate {} out of range", k)
            }
            fn set_coord(&mut self, k: usize, v: A::Scalar) {
                let mut k = k;
                if k < self.0.dim() {
                    return self.0.set_coord(k, v);
                }
                k -= self.0.dim();
                $(
                    if k < self.$i.dim() {
                        return self.$i.set_coord(k, v);
                    }
                    k -= self.$i.dim();
                )+
                panic!("coordinate {} out of range", k)
            }
            fn grad_coord(&self, grad: &Self::Grad, k: usize) -> A::Scalar {
                let mut k = k;
                if k < self.0.dim() {
                    return self.0.grad_coord(&grad.0, k);
                }
                k -= self.0.dim();
                $(
                    if k < self.$i.dim() {
                        return self.$i.grad_coord(&grad.$i, k);
                    }
                    k -= self.$i.dim();
                )+
                panic!("coordinate {} out of range", k)
            }
        }
    )*};
}
tuple_point!((B 1), (B 1, C 2), (B 1, C 2, D 3), (B 1, C 2, D 3, E 4), (B 1, C 2, D 3, E 4, F 5));

/// The result of [`check_gradients`] and [`check_vjp`]: the worst of the directions tried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirectionalCheck<T> {
    /// How many directions were tried.
    pub directions: usize,
    /// The seed that drew them.
    pub seed: u64,
    /// The direction (`0..directions`) with the largest relative error.
    pub worst_direction: usize,
    /// In that direction: the value from the gradient (`⟨∇f, v⟩`, or `⟨Jᵀu, v⟩`) …
    pub analytic: T,
    /// … and from central differences (`(f(x + hv) − f(x − hv)) / 2h`, or `⟨u, J v⟩` so).
    pub numeric: T,
    /// The step `h` of that direction.
    pub step: T,
    /// `|analytic − numeric| / max(|analytic|, |numeric|, 1)`, the largest over the directions.
    pub rel_error: T,
    /// The tolerance asked for.
    pub tol: T,
    /// Whether every direction is within `tol` (a NaN fails).
    pub ok: bool,
}

impl<T: fmt::Display + fmt::LowerExp> fmt::Display for DirectionalCheck<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok { "ok" } else { "FAILED" };
        write!(
            f,
            "{verdict}: {} random directions (seed {}); worst is direction {}: gradient {:e}, central difference {:e} (step {:e}), relative error {:e}, tolerance {:e}",
            self.directions, self.seed, self.worst_direction, self.analytic, self.numeric, self.step, self.rel_error, self.tol
        )
    }
}

/// SplitMix64: a small seeded generator, so that a check is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [−1, 1).
    fn uniform<T: Real>(&mut self) -> T {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        nalgebra::convert::<f64, T>(2.0 * u - 1.0)
    }
}

/// A random direction shaped like `x`, of unit length.
fn direction<P: Point>(x: &P, rng: &mut Rng) -> P {
    let mut v = x.clone();
    let mut norm2 = nalgebra::zero::<P::Scalar>();
    for k in 0..x.dim() {
        let c: P::Scalar = rng.uniform();
        norm2 += c * c;
        v.set_coord(k, c);
    }
    let norm = ComplexField::sqrt(norm2);
    if norm > nalgebra::zero() {
        for k in 0..v.dim() {
            v.set_coord(k, v.coord(k) / norm);
        }
    }
    v
}

/// The step along `v` from `x`: ε^⅓ (balancing truncation and rounding errors) scaled by the
/// size of the coordinates `v` moves, at least 1.
fn step<P: Point>(x: &P, v: &P) -> P::Scalar {
    let (mut weighted, mut weight) = (nalgebra::zero::<P::Scalar>(), nalgebra::zero::<P::Scalar>());
    for k in 0..x.dim() {
        let w = ComplexField::abs(v.coord(k));
        weighted += w * ComplexField::abs(x.coord(k));
        weight += w;
    }
    let one = nalgebra::one::<P::Scalar>();
    let scale = if weight > nalgebra::zero() { weighted / weight } else { one };
    ComplexField::cbrt(epsilon::<P::Scalar>()) * nalgebra::RealField::max(scale, one)
}

/// The machine epsilon of `T`: the gap between 1 and the next float.
fn epsilon<T: Real>() -> T {
    let (one, two) = (nalgebra::one::<T>(), nalgebra::convert::<f64, T>(2.0));
    let mut e = one;
    while one + e / two > one {
        e /= two;
    }
    e
}

/// `x + t v`.
fn moved<P: Point>(x: &P, v: &P, t: P::Scalar) -> P {
    let mut y = x.clone();
    for k in 0..x.dim() {
        y.set_coord(k, x.coord(k) + t * v.coord(k));
    }
    y
}

/// `⟨a, b⟩` over coordinates.
fn inner<P: Point>(a: &P, b: &P) -> P::Scalar {
    (0..a.dim()).fold(nalgebra::zero(), |s, k| s + a.coord(k) * b.coord(k))
}

/// The worst of the directions tried, as a report.
struct Worst<T> {
    check: DirectionalCheck<T>,
}

impl<T: Real> Worst<T> {
    fn new(directions: usize, seed: u64, tol: T) -> Self {
        let zero = nalgebra::zero();
        let check = DirectionalCheck {
            directions,
            seed,
            worst_direction: 0,
            analytic: zero,
            numeric: zero,
            step: zero,
            rel_error: zero,
            tol,
            ok: true,
        };
        Worst { check }
    }

    fn record(&mut self, d: usize, analytic: T, numeric: T, step: T) {
        let one = nalgebra::one::<T>();
        let scale = nalgebra::RealField::max(
            nalgebra::RealField::max(ComplexField::abs(analytic), ComplexField::abs(numeric)),
            one,
        );
        let rel = ComplexField::abs(analytic - numeric) / scale;
        // NaN compares false everywhere: it is the worst error and fails the check.
        let finite = rel.partial_cmp(&self.check.tol).is_some();
        if rel > self.check.rel_error || !finite || d == 0 {
            let c = &mut self.check;
            (c.worst_direction, c.analytic, c.numeric, c.step, c.rel_error) = (d, analytic, numeric, step, rel);
        }
        if !finite || rel > self.check.tol {
            self.check.ok = false;
        }
    }
}

/// Checks `grad`, the gradient of `f` at `x` with respect to every coordinate of `x` (a tuple
/// holds several parameters), along `directions` random unit directions `v` drawn from `seed`:
/// `⟨grad, v⟩` must agree with `(f(x + hv) − f(x − hv)) / 2h` within `tol`, relative to the
/// larger of the two and 1; the step `h` is chosen per direction.
///
/// ```
/// # extern crate matgrad_runtime as matgrad;
/// use nalgebra::DMatrix;
/// // f(A, B) = ⟨A, B⟩ + ‖A‖²: ∂f/∂A = B + 2A, ∂f/∂B = A.
/// let f = |(a, b): &(DMatrix<f64>, DMatrix<f64>)| a.dot(b) + a.norm_squared();
/// let a = DMatrix::from_row_slice(2, 2, &[1.0, -2.0, 0.5, 3.0]);
/// let b = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, 2.0, -1.0]);
/// let grad = (&b + &a * 2.0, a.clone());
/// let check = matgrad::check_gradients(f, &(a, b), &grad, 8, 0, 1e-6);
/// assert!(check.ok, "{check}");
/// ```
pub fn check_gradients<P, F>(
    mut f: F,
    x: &P,
    grad: &P::Grad,
    directions: usize,
    seed: u64,
    tol: P::Scalar,
) -> DirectionalCheck<P::Scalar>
where
    P: Point,
    F: FnMut(&P) -> P::Scalar,
{
    let mut rng = Rng(seed);
    let mut worst = Worst::new(directions, seed, tol);
    for d in 0..directions {
        let v = direction(x, &mut rng);
        let h = step(x, &v);
        let numeric = (f(&moved(x, &v, h)) - f(&moved(x, &v, -h))) / (h + h);
        let analytic = (0..x.dim()).fold(nalgebra::zero(), |s, k| s + x.grad_coord(grad, k) * v.coord(k));
        worst.record(d, analytic, numeric, h);
    }
    worst.check
}

/// Checks `vjp`, the vector-Jacobian product of a (matrix-valued) `f` at `x`: for random unit
/// directions `v` (like `x`) and `u` (like `f(x)`), drawn from `seed`, `⟨vjp(x, u), v⟩ = ⟨Jᵀu, v⟩`
/// must agree with `⟨u, J v⟩`, `J v` by central differences of `f` along `v`, within `tol` as
/// for [`check_gradients`]. For a generated `f_vjp`, `vjp` is `|x, u| f_vjp(x, u.clone()).1`.
///
/// ```
/// # extern crate matgrad_runtime as matgrad;
/// use nalgebra::DMatrix;
/// // F(A) = A B: Jᵀ U = U Bᵀ.
/// let b = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 2.0, -1.0, 0.5, 1.0]);
/// let f = |a: &DMatrix<f64>| a * &b;
/// let vjp = |_: &DMatrix<f64>, u: &DMatrix<f64>| u * b.transpose();
/// let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
/// assert!(matgrad::check_vjp(f, vjp, &a, 8, 0, 1e-6).ok);
/// ```
pub fn check_vjp<P, Y, F, V>(
    mut f: F,
    mut vjp: V,
    x: &P,
    directions: usize,
    seed: u64,
    tol: P::Scalar,
) -> DirectionalCheck<P::Scalar>
where
    P: Point,
    Y: Point<Scalar = P::Scalar>,
    F: FnMut(&P) -> Y,
    V: FnMut(&P, &Y) -> P::Grad,
{
    let mut rng = Rng(seed);
    let mut worst = Worst::new(directions, seed, tol);
    let y = f(x);
    for d in 0..directions {
        let v = direction(x, &mut rng);
        let u = direction(&y, &mut rng);
        let h = step(x, &v);
        let (yp, ym) = (f(&moved(x, &v, h)), f(&moved(x, &v, -h)));
        let numeric = (inner(&u, &yp) - inner(&u, &ym)) / (h + h);
        let g = vjp(x, &u);
        let analytic = (0..x.dim()).fold(nalgebra::zero(), |s, k| s + x.grad_coord(&g, k) * v.coord(k));
        worst.record(d, analytic, numeric, h);
    }
    worst.check
}
