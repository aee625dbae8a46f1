//! Ops that forward mode's tangent programs compute for linear algebra (the cofactor matrix,
//! the tangent of a matrix power, the gradient of an lp norm, the Fréchet derivative of the
//! matrix exponential, …), each with the adjoint rules that `_hvp` (the reverse pass of the
//! tangent program) needs. Sources: M. Giles (2008) §2–3; Al-Mohy & Higham (2009) for the
//! block form of Fréchet derivatives; I. Murray (2016) for the Cholesky factor's tangent.

use crate::rules::linalg::{cofactors, DetRule};
use crate::rules::scalar::exp_frechet;
use crate::value::Real;
use nalgebra::allocator::Allocator;
use nalgebra::{Cholesky, ComplexField, DefaultAllocator, Dim, DimMin, Matrix, OMatrix, Storage, LU};

fn zeros_of<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(x: &Matrix<T, R, C, S>) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let (r, c) = x.shape_generic();
    OMatrix::zeros_generic(r, c)
}

// ----- the determinant: ḋ = ⟨cof(A), Ȧ⟩ -----

/// The cofactor matrix `cof(A) = ∂det(A)/∂A` of a matrix or of a factorization (`lu()`,
/// `cholesky()`), and the adjoint of `A ↦ cof(A)`.
#[diagnostic::on_unimplemented(
    message = "matgrad has no forward rule of `determinant` for `{Self}`",
    note = "`determinant()` is differentiated on square matrices and on `cholesky()` and `lu()` factorizations"
)]
pub trait CofactorRule: DetRule {
    /// `cof(A)` (`d A⁻ᵀ` where A is invertible, continuous where it is not).
    fn cofactor_of(&self) -> Self::Adj;
    /// `Ā = ∇_A ⟨Ḡ, cof(A)⟩`.
    fn cofactor_adj_of(&self, g: &Self::Adj) -> Self::Adj;
}

// C = cof(A) = d A⁻ᵀ          (d = det A)
// Ā += ⟨Ḡ, A⁻ᵀ⟩ C − d A⁻ᵀ Ḡᵀ A⁻ᵀ
// At a singular A, and where A is so close to one that the first form loses its digits
// (|d| ≤ √ε Πⱼ ‖aⱼ‖, Hadamard's bound): cof(A)ᵢⱼ = det(Bᵢⱼ), Bᵢⱼ = A with row i replaced by eⱼᵀ,
// so Ā += Σᵢⱼ Ḡᵢⱼ cof(Bᵢⱼ) with row i zeroed (row i of Bᵢⱼ does not depend on A); a polynomial
// in A, exact at every A (n⁴ determinants).
fn cofactor_adj_matrix<T: Real, D: DimMin<D, Output = D>, S: Storage<T, D, D>>(
    a: &Matrix<T, D, D, S>,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    let zero = nalgebra::zero::<T>();
    let d = a.determinant();
    let hadamard = a.column_iter().fold(nalgebra::one::<T>(), |p, c| p * c.norm());
    if ComplexField::abs(d) > ComplexField::sqrt(T::default_epsilon()) * hadamard {
        if let Some(inv) = a.clone_owned().try_inverse() {
            let it = inv.transpose();
            let s = g.dot(&it);
            return &it * (s * d) - (&it * g.transpose() * &it) * d;
        }
    }
    let mut out = zeros_of(a);
    let mut work = a.clone_owned();
    let n = a.nrows();
    for i in 0..n {
        for j in 0..n {
            if g[(i, j)] == zero {
                continue;
            }
            work.copy_from(a);
            work.row_mut(i).fill(zero);
            work[(i, j)] = nalgebra::one::<T>();
            let mut c = cofactors(&work);
            c.row_mut(i).fill(zero);
            out += c * g[(i, j)];
        }
    }
    out
}

impl<T: Real, D: DimMin<D, Output = D>, S: Storage<T, D, D>> CofactorRule for Matrix<T, D, D, S>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    fn cofactor_of(&self) -> OMatrix<T, D, D> {
        self.det_adj(self.determinant(), nalgebra::one::<T>())
    }
    fn cofactor_adj_of(&self, g: &OMatrix<T, D, D>) -> OMatrix<T, D, D> {
        cofactor_adj_matrix(self, g)
    }
}

impl<T: Real, D: DimMin<D, Output = D>> CofactorRule for LU<T, D, D>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    fn cofactor_of(&self) -> OMatrix<T, D, D> {
        self.det_adj(self.determinant(), nalgebra::one::<T>())
    }
    fn cofactor_adj_of(&self, g: &OMatrix<T, D, D>) -> OMatrix<T, D, D> {
        let mut a = self.l() * self.u();
        self.p().inv_permute_rows(&mut a);
        cofactor_adj_matrix(&a, g)
    }
}

// C = d S⁻¹                    (S = L Lᵀ symmetric positive definite, d = det S)
// S̄ += sym(d ⟨Ḡ, S⁻¹⟩ S⁻¹ − d S⁻¹ Ḡ S⁻¹)   (the symmetric gradient, as every Cholesky rule)
impl<T: Real, D: Dim> CofactorRule for Cholesky<T, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    fn cofactor_of(&self) -> OMatrix<T, D, D> {
        self.inverse() * self.determinant()
    }
    fn cofactor_adj_of(&self, g: &OMatrix<T, D, D>) -> OMatrix<T, D, D> {
        let (inv, d) = (self.inverse(), self.determinant());
        let s = g.dot(&inv);
        let m = &inv * (s * d) - (&inv * g * &inv) * d;
        (&m + m.transpose()) * nalgebra::convert::<f64, T>(0.5)
    }
}

/// `cof(A)`: the gradient of `det` at `A`, the tangent program's `ḋ = ⟨cof(A), Ȧ⟩`.
pub fn cofactor<V: CofactorRule + ?Sized>(a: &V) -> V::Adj {
    a.cofactor_of()
}

/// `c = cof(a)`: the contribution to `ā`.
pub fn cofactor_adj<V: CofactorRule + ?Sized>(a: &V, g: &V::Adj) -> V::Adj {
    a.cofactor_adj_of(g)
}

// ----- matrix powers: (Aᵏ)˙ = Σⱼ Aʲ Ȧ Aᵏ⁻¹⁻ʲ -----

/// `Aⁿ` (`I` for n = 0).
fn power<T: Real, D: Dim, S: Storage<T, D, D>>(a: &Matrix<T, D, D, S>, n: usize) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let mut p = zeros_of(a);
    p.fill_with_identity();
    for _ in 0..n {
        p = &p * a;
    }
    p
}

/// `T = Σⱼ₌₀ᵏ⁻¹ Aʲ E Aᵏ⁻¹⁻ʲ`, the tangent of `A.pow(k)` along `E = Ȧ`.
pub fn pow_tangent<T: Real, D: Dim, SA, SE>(
    a: &Matrix<T, D, D, SA>,
    e: &Matrix<T, D, D, SE>,
    k: u32,
) -> OMatrix<T, D, D>
where
    SA: Storage<T, D, D>,
    SE: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D>,
{
    let k = k as usize;
    let mut out = zeros_of(a);
    for j in 0..k {
        out += power(a, j) * e * power(a, k - 1 - j);
    }
    out
}

// T = Σⱼ Aʲ E Aᵏ⁻¹⁻ʲ: each term a word of k factors, E at place j and A elsewhere
// Ā += Σⱼ Σ_{p≠j} (W_{<p})ᵀ Ḡ (W_{>p})ᵀ   (W_{<p}, W_{>p} the factors before and after place p)
/// `t = pow_tangent(a, e, k)`: the contribution to `ā`.
pub fn pow_tangent_lhs<T: Real, D: Dim, SA, SE>(
    a: &Matrix<T, D, D, SA>,
    e: &Matrix<T, D, D, SE>,
    k: &u32,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, D>
where
    SA: Storage<T, D, D>,
    SE: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D>,
{
    let k = *k as usize;
    let mut out = zeros_of(a);
    for j in 0..k {
        for p in (0..k).filter(|&p| p != j) {
            let (before, after) = if p < j {
                (power(a, p), power(a, j - p - 1) * e * power(a, k - 1 - j))
            } else {
                (power(a, j) * e * power(a, p - 1 - j), power(a, k - 1 - p))
            };
            out += before.tr_mul(g) * after.transpose();
        }
    }
    out
}

// Ē += Σⱼ (Aᵀ)ʲ Ḡ (Aᵀ)ᵏ⁻¹⁻ʲ   (T is linear in E; the same sum as the reverse rule of `pow`)
/// `t = pow_tangent(a, e, k)`: the contribution to `ē`.
pub fn pow_tangent_rhs<T: Real, D, SA, SE>(
    a: &Matrix<T, D, D, SA>,
    _e: &Matrix<T, D, D, SE>,
    k: &u32,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, D>
where
    D: DimMin<D, Output = D>,
    SA: Storage<T, D, D>,
    SE: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    crate::rules::structure::pow_adj(a, k, g)
}

// ----- lp norms: ṡ = ⟨∇s, ẋ⟩ -----

/// `∇‖x‖_p = sign(x) ⊙ |x|^(p−1) / s^(p−1)` (0 at x = 0), the tangent program's
/// `ṡ = ⟨∇s, ẋ⟩`.
pub fn lp_norm_grad<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(x: &Matrix<T, R, C, S>, p: i32) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let s = x.lp_norm(p);
    crate::rules::vector::lp_norm_adj(x, &p, &s, &nalgebra::one::<T>())
}

// G = ∇s,  s = ‖x‖_p
// x̄ += H Ḡ, H = (p − 1) (Diag(|x|^(p−2)) / s^(p−1) − G Gᵀ / s) the (symmetric) Hessian of s
// (0 for p = 1, where s is piecewise linear, and at x = 0)
/// `g = lp_norm_grad(x, p)`: the contribution to `x̄`.
pub fn lp_norm_grad_adj<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>>(
    x: &Matrix<T, R, C, S>,
    p: &i32,
    g: &OMatrix<T, R, C>,
) -> OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let zero = nalgebra::zero::<T>();
    let s = x.lp_norm(*p);
    if *p == 1 || s == zero {
        return zeros_of(x);
    }
    let grad = lp_norm_grad(x, *p);
    let q = nalgebra::convert::<f64, T>(f64::from(*p - 1));
    let inner = grad.dot(g) / s;
    let scale = q / ComplexField::powi(s, *p - 1);
    let mut out = x.zip_map(g, |v, gv| ComplexField::powi(ComplexField::abs(v), *p - 2) * gv * scale);
    out.zip_apply(&grad, |o, gr| *o -= q * gr * inner);
    out
}

// ----- Cholesky's factor: L̇ = L Φ(L⁻¹ sym(Ṡ) L⁻ᵀ) -----

/// `Φ(sym(M))`: the lower triangle of `(M + Mᵀ)/2` with its diagonal halved (the tangent of
/// Cholesky's `L` is `L Φ(L⁻¹ Ṡ L⁻ᵀ)`; the symmetric part is the one a Cholesky rule reads).
pub fn chol_phi<T: Real, D: Dim, S: Storage<T, D, D>>(m: &Matrix<T, D, D, S>) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let half = nalgebra::convert::<f64, T>(0.5);
    let mut out = zeros_of(m);
    let n = m.nrows();
    for j in 0..n {
        out[(j, j)] = m[(j, j)] * half;
        for i in j + 1..n {
            out[(i, j)] = (m[(i, j)] + m[(j, i)]) * half;
        }
    }
    out
}

// Y = Φ(sym(M)), linear
// M̄ += ½ copyltu(Ḡ),  copyltu(G) = tril(G) + tril(G, −1)ᵀ
/// `y = chol_phi(m)`: the contribution to `m̄`.
pub fn chol_phi_adj<T: Real, D: Dim, S: Storage<T, D, D>>(
    m: &Matrix<T, D, D, S>,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let half = nalgebra::convert::<f64, T>(0.5);
    let mut out = zeros_of(m);
    let n = m.nrows();
    for j in 0..n {
        out[(j, j)] = g[(j, j)] * half;
        for i in j + 1..n {
            out[(i, j)] = g[(i, j)] * half;
            out[(j, i)] = g[(i, j)] * half;
        }
    }
    out
}

// Y = tril(X), triu(X): linear masks
// X̄ += tril(Ḡ), triu(Ḡ)
/// `y = x.lower_triangle()`: the contribution to `x̄`.
pub fn lower_triangle_adj<T: Real, D: Dim, S: Storage<T, D, D>>(
    _x: &Matrix<T, D, D, S>,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    g.lower_triangle()
}

/// `y = x.upper_triangle()`: the contribution to `x̄`.
pub fn upper_triangle_adj<T: Real, D: Dim, S: Storage<T, D, D>>(
    _x: &Matrix<T, D, D, S>,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    g.upper_triangle()
}

// ----- exp and abs outside `map` closures: scalars, or matrices -----

/// The second Fréchet derivative `L²(A; E, F)` of the matrix exponential (the derivative of
/// `L(A, E)` along `A`'s direction `F`), by the scaling and squaring of [`exp_frechet`].
fn exp_frechet2<T: Real, D: Dim>(a: &OMatrix<T, D, D>, e: &OMatrix<T, D, D>, f: &OMatrix<T, D, D>) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    // Taylor series at X = A/2ˢ: Pₖ = Xᵏ/k!, Qₖ (one E), Rₖ (one F), Wₖ (one E and one F):
    // Qₖ = (Qₖ₋₁ X + Pₖ₋₁ E)/k, Rₖ = (Rₖ₋₁ X + Pₖ₋₁ F)/k, Wₖ = (Wₖ₋₁ X + Qₖ₋₁ F + Rₖ₋₁ E)/k.
    // Each squaring exp(2X) = exp(X)² maps (F, L_E, L_F, W) to
    // (F², F L_E + L_E F, F L_F + L_F F, F W + W F + L_E L_F + L_F L_E).
    let half = T::from_subset(&0.5);
    let (mut s, mut scale) = (0, nalgebra::one::<T>());
    let mut bound = a.iter().fold(nalgebra::zero::<T>(), |m, v| m + ComplexField::abs(*v));
    while bound > half && s < 64 {
        bound *= half;
        scale *= half;
        s += 1;
    }
    let (x, ex, fx) = (a * scale, e * scale, f * scale);
    let (r, c) = a.shape_generic();
    let mut p = OMatrix::<T, D, D>::identity_generic(r, c);
    let mut q = OMatrix::<T, D, D>::zeros_generic(r, c);
    let (mut qf, mut w) = (q.clone(), q.clone());
    let (mut ef, mut le, mut lf, mut lw) = (p.clone(), q.clone(), q.clone(), q.clone());
    for k in 1..=24 {
        let kf = T::from_subset(&f64::from(k));
        w = (&w * &x + &q * &fx + &qf * &ex) / kf;
        q = (&q * &x + &p * &ex) / kf;
        qf = (&qf * &x + &p * &fx) / kf;
        p = (&p * &x) / kf;
        ef += &p;
        le += &q;
        lf += &qf;
        lw += &w;
    }
    for _ in 0..s {
        lw = &ef * &lw + &lw * &ef + &le * &lf + &lf * &le;
        le = &ef * &le + &le * &ef;
        lf = &ef * &lf + &lf * &ef;
        ef = &ef * &ef;
    }
    lw
}

/// What `exp()` outside a `map` closure applies to in a tangent program: a scalar (`ẏ = y ẋ`)
/// or a square matrix (`Ẏ = L(X, Ẋ)`, the Fréchet derivative of the matrix exponential).
pub trait ExpTangent<E: ?Sized> {
    /// The value's (and the tangent's) owned type.
    type Out;
    /// `ẏ` given `y = exp(x)` and `ẋ`.
    fn exp_tangent_of(&self, y: &Self::Out, dx: &E) -> Self::Out;
    /// The contributions of `ẏ`'s adjoint `ḡ` to `x̄`, `ȳ` and the adjoint of `ẋ`.
    fn exp_tangent_adj_of(&self, y: &Self::Out, dx: &E, g: &Self::Out) -> [Self::Out; 3];
}

// ẏ = y ẋ
// x̄ += 0, ȳ += ḡ ẋ, ẋ̄ += ḡ y
impl<T: Real> ExpTangent<T> for T {
    type Out = T;
    fn exp_tangent_of(&self, y: &T, dx: &T) -> T {
        *y * *dx
    }
    fn exp_tangent_adj_of(&self, y: &T, dx: &T, g: &T) -> [T; 3] {
        [nalgebra::zero::<T>(), *g * *dx, *g * *y]
    }
}

// Ẏ = L(X, Ẋ)
// X̄ += L²(Xᵀ; Ẋᵀ, Ḡ), Ȳ += 0, Ẋ̄ += L(Xᵀ, Ḡ)
impl<T: Real, D: Dim, S: Storage<T, D, D>, SE: Storage<T, D, D>> ExpTangent<Matrix<T, D, D, SE>> for Matrix<T, D, D, S>
where
    DefaultAllocator: Allocator<D, D>,
{
    type Out = OMatrix<T, D, D>;
    fn exp_tangent_of(&self, _y: &OMatrix<T, D, D>, dx: &Matrix<T, D, D, SE>) -> OMatrix<T, D, D> {
        exp_frechet(&self.clone_owned(), &dx.clone_owned())
    }
    fn exp_tangent_adj_of(
        &self,
        _y: &OMatrix<T, D, D>,
        dx: &Matrix<T, D, D, SE>,
        g: &OMatrix<T, D, D>,
    ) -> [OMatrix<T, D, D>; 3] {
        let xt = self.transpose();
        [exp_frechet2(&xt, &dx.transpose(), g), zeros_of(self), exp_frechet(&xt, g)]
    }
}

/// The operands of [`exp_tangent`] as generated code passes them: scalars by value, matrices
/// by reference.
pub trait ExpTangentArg<Y, E> {
    /// The tangent's owned type.
    type Out;
    /// `ẏ` given `y = exp(x)` and `ẋ`.
    fn exp_tangent_arg(self, y: Y, dx: E) -> Self::Out;
}

impl<T: Real> ExpTangentArg<T, T> for T {
    type Out = T;
    fn exp_tangent_arg(self, y: T, dx: T) -> T {
        self.exp_tangent_of(&y, &dx)
    }
}

impl<T: Real, D: Dim, S, SY, SE> ExpTangentArg<&Matrix<T, D, D, SY>, &Matrix<T, D, D, SE>> for &Matrix<T, D, D, S>
where
    S: Storage<T, D, D>,
    SY: Storage<T, D, D>,
    SE: Storage<T, D, D>,
    DefaultAllocator: Allocator<D, D>,
{
    type Out = OMatrix<T, D, D>;
    fn exp_tangent_arg(self, _y: &Matrix<T, D, D, SY>, dx: &Matrix<T, D, D, SE>) -> OMatrix<T, D, D> {
        exp_frechet(&self.clone_owned(), &dx.clone_owned())
    }
}

/// The tangent of `y = x.exp()` outside a `map` closure (a scalar, or the matrix exponential).
#[inline(always)]
pub fn exp_tangent<X: ExpTangentArg<Y, E>, Y, E>(x: X, y: Y, dx: E) -> X::Out {
    x.exp_tangent_arg(y, dx)
}

/// `t = exp_tangent(x, y, ẋ)`: the contribution to `x̄`.
#[inline(always)]
pub fn exp_tangent_x_adj<X: ExpTangent<E> + ?Sized, E: ?Sized>(x: &X, y: &X::Out, dx: &E, g: &X::Out) -> X::Out {
    let [a, _, _] = x.exp_tangent_adj_of(y, dx, g);
    a
}

/// `t = exp_tangent(x, y, ẋ)`: the contribution to `ȳ`.
#[inline(always)]
pub fn exp_tangent_y_adj<X: ExpTangent<E> + ?Sized, E: ?Sized>(x: &X, y: &X::Out, dx: &E, g: &X::Out) -> X::Out {
    let [_, b, _] = x.exp_tangent_adj_of(y, dx, g);
    b
}

/// `t = exp_tangent(x, y, ẋ)`: the contribution to the adjoint of `ẋ`.
#[inline(always)]
pub fn exp_tangent_dx_adj<X: ExpTangent<E> + ?Sized, E: ?Sized>(x: &X, y: &X::Out, dx: &E, g: &X::Out) -> X::Out {
    let [_, _, c] = x.exp_tangent_adj_of(y, dx, g);
    c
}

// ẏ = sign(x) ⊙ ẋ     (sign piecewise constant: x̄ += 0)
// ẋ̄ += sign(x) ⊙ ḡ
/// What `abs()` outside a `map` closure applies to in a tangent program: a scalar or a matrix
/// (entrywise): `ẏ = sign(x) ⊙ ẋ`, 0 at 0 as the reverse rule.
pub trait AbsTangent<E: ?Sized> {
    /// The tangent's owned type.
    type Out;
    /// `sign(x) ⊙ e`.
    fn signed(&self, e: &E) -> Self::Out;
    /// Zeros of the shape of `x`'s adjoint.
    fn zero_adj(&self) -> Self::Out;
}

impl<T: Real> AbsTangent<T> for T {
    type Out = T;
    fn signed(&self, e: &T) -> T {
        crate::forward::sign0(self) * *e
    }
    fn zero_adj(&self) -> T {
        nalgebra::zero::<T>()
    }
}

impl<T: Real, R: Dim, C: Dim, S: Storage<T, R, C>, SE: Storage<T, R, C>> AbsTangent<Matrix<T, R, C, SE>>
    for Matrix<T, R, C, S>
where
    DefaultAllocator: Allocator<R, C>,
{
    type Out = OMatrix<T, R, C>;
    fn signed(&self, e: &Matrix<T, R, C, SE>) -> OMatrix<T, R, C> {
        let mut out = e.clone_owned();
        out.zip_apply(self, |o, x| *o *= crate::forward::sign0(&x));
        out
    }
    fn zero_adj(&self) -> OMatrix<T, R, C> {
        zeros_of(self)
    }
}

/// The operands of [`abs_tangent`] as generated code passes them: scalars by value, matrices
/// by reference.
#[diagnostic::on_unimplemented(
    message = "forward mode (`_jvp`, `_hvp`) differentiates `abs()` of f32/f64 scalars and of matrices, not `{Self}`"
)]
pub trait AbsTangentArg<E> {
    /// The tangent's owned type.
    type Out;
    /// `sign(x) ⊙ ẋ`.
    fn abs_tangent_arg(self, dx: E) -> Self::Out;
}

impl<T: Real> AbsTangentArg<T> for T {
    type Out = T;
    fn abs_tangent_arg(self, dx: T) -> T {
        self.signed(&dx)
    }
}

impl<T: Real, R: Dim, C: Dim, S, SE> AbsTangentArg<&Matrix<T, R, C, SE>> for &Matrix<T, R, C, S>
where
    S: Storage<T, R, C>,
    SE: Storage<T, R, C>,
    DefaultAllocator: Allocator<R, C>,
{
    type Out = OMatrix<T, R, C>;
    fn abs_tangent_arg(self, dx: &Matrix<T, R, C, SE>) -> OMatrix<T, R, C> {
        self.signed(dx)
    }
}

/// The tangent of `y = x.abs()` outside a `map` closure (a scalar, or a matrix entrywise).
#[inline(always)]
pub fn abs_tangent<X: AbsTangentArg<E>, E>(x: X, dx: E) -> X::Out {
    x.abs_tangent_arg(dx)
}

/// `t = abs_tangent(x, ẋ)`: the contribution to `x̄` (zero).
#[inline(always)]
pub fn abs_tangent_x_adj<X: AbsTangent<E> + ?Sized, E: ?Sized>(x: &X, _dx: &E, _g: &X::Out) -> X::Out {
    x.zero_adj()
}

/// `t = abs_tangent(x, ẋ)`: the contribution to the adjoint of `ẋ`.
#[inline(always)]
pub fn abs_tangent_dx_adj<X: AbsTangent<E> + AbsTangent<G> + ?Sized, E: ?Sized, G>(
    x: &X,
    _dx: &E,
    g: &G,
) -> <X as AbsTangent<G>>::Out {
    x.signed(g)
}

// ----- symmetric eigenvectors: U̇ = U (F ⊙ sym(Uᵀ Ṡ U)) -----

/// `Fᵢⱼ = 1/(λⱼ − λᵢ)` for i ≠ j, 0 on the diagonal (infinite at a repeated eigenvalue).
fn eigen_gaps<T: Real, D: Dim, S: Storage<T, D, D>, SL: Storage<T, D, nalgebra::U1>>(
    lam: &Matrix<T, D, nalgebra::U1, SL>,
    like: &Matrix<T, D, D, S>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let mut f = zeros_of(like);
    let n = lam.len();
    for j in 0..n {
        for i in (0..n).filter(|&i| i != j) {
            f[(i, j)] = nalgebra::one::<T>() / (lam[j] - lam[i]);
        }
    }
    f
}

/// `K = F(λ) ⊙ sym(M)`: the eigenvectors' tangent is `U K` with `M = Uᵀ Ṡ U` (Giles 2008 §3.1;
/// the symmetric part, as every rule of a symmetric matrix reads). At a repeated eigenvalue the
/// vectors have no derivative: `K` is infinite or NaN there, as the reverse rule's gradient.
pub fn eigenvector_tangent<T: Real, D: Dim, S: Storage<T, D, D>, SL: Storage<T, D, nalgebra::U1>>(
    lam: &Matrix<T, D, nalgebra::U1, SL>,
    m: &Matrix<T, D, D, S>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let half = nalgebra::convert::<f64, T>(0.5);
    let mut k = eigen_gaps(lam, m);
    k.zip_apply(&((m + m.transpose()) * half), |f, s| *f *= s);
    k
}

// K = F(λ) ⊙ sym(M), Fᵢⱼ = 1/(λⱼ − λᵢ): ∂Fᵢⱼ/∂λⱼ = −Fᵢⱼ², ∂Fᵢⱼ/∂λᵢ = Fᵢⱼ²
// λ̄ₖ += Σⱼ Ḡₖⱼ sym(M)ₖⱼ Fₖⱼ² − Σᵢ Ḡᵢₖ sym(M)ᵢₖ Fᵢₖ²
/// `k = eigenvector_tangent(λ, m)`: the contribution to `λ̄`.
pub fn eigenvector_tangent_lhs<T: Real, D: Dim, S: Storage<T, D, D>, SL: Storage<T, D, nalgebra::U1>>(
    lam: &Matrix<T, D, nalgebra::U1, SL>,
    m: &Matrix<T, D, D, S>,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, nalgebra::U1>
where
    DefaultAllocator: Allocator<D, D> + Allocator<D>,
{
    let half = nalgebra::convert::<f64, T>(0.5);
    let f = eigen_gaps(lam, m);
    let n = lam.len();
    let mut out = lam.clone_owned();
    out.fill(nalgebra::zero::<T>());
    for j in 0..n {
        for i in (0..n).filter(|&i| i != j) {
            let w = g[(i, j)] * (m[(i, j)] + m[(j, i)]) * half * f[(i, j)] * f[(i, j)];
            out[i] += w;
            out[j] -= w;
        }
    }
    out
}

// M̄ += sym(F ⊙ Ḡ)
/// `k = eigenvector_tangent(λ, m)`: the contribution to `m̄`.
pub fn eigenvector_tangent_rhs<T: Real, D: Dim, S: Storage<T, D, D>, SL: Storage<T, D, nalgebra::U1>>(
    lam: &Matrix<T, D, nalgebra::U1, SL>,
    m: &Matrix<T, D, D, S>,
    g: &OMatrix<T, D, D>,
) -> OMatrix<T, D, D>
where
    DefaultAllocator: Allocator<D, D>,
{
    let half = nalgebra::convert::<f64, T>(0.5);
    let mut f = eigen_gaps(lam, m);
    f.zip_apply(g, |f, g| *f *= g);
    (&f + f.transpose()) * half
}

// ----- singular vectors (thin SVD A = U Σ Vᵀ, Townsend 2016) -----
// U̇ = U (F ⊙ (P Σ + Σ Pᵀ)) + (Ȧ V − U P) Σ⁻¹,  V̇ = V (F ⊙ (Σ P + Pᵀ Σ)) + (Ȧᵀ U − V Pᵀ) Σ⁻¹,
// P = Uᵀ Ȧ V, Fᵢⱼ = 1/(σⱼ² − σᵢ²) (i ≠ j), 0 on the diagonal. Infinite or NaN at a repeated
// singular value and at σ = 0, as the reverse rules' gradients.

/// `Bᵢⱼ = Pᵢⱼ σⱼ + σᵢ Pⱼᵢ` (`left`: the `U` side) or `σᵢ Pᵢⱼ + Pⱼᵢ σⱼ` (the `V` side), and its
/// partials `∂Bᵢⱼ/∂σᵢ`, `∂Bᵢⱼ/∂σⱼ`.
fn svd_b<T: Real>(p: T, pt: T, si: T, sj: T, left: bool) -> (T, T, T) {
    if left {
        (p * sj + si * pt, pt, p)
    } else {
        (si * p + pt * sj, p, pt)
    }
}

fn svd_gap<T: Real>(si: T, sj: T) -> T {
    nalgebra::one::<T>() / (sj * sj - si * si)
}

/// `K = F ⊙ (P Σ + Σ Pᵀ)` (`left`, the `U` side) or `F ⊙ (Σ P + Pᵀ Σ)` (the `V` side).
pub fn svd_vector_tangent<T: Real, K: Dim, S: Storage<T, K, K>, SS: Storage<T, K, nalgebra::U1>>(
    sigma: &Matrix<T, K, nalgebra::U1, SS>,
    p: &Matrix<T, K, K, S>,
    left: bool,
) -> OMatrix<T, K, K>
where
    DefaultAllocator: Allocator<K, K>,
{
    let mut k = zeros_of(p);
    let n = sigma.len();
    for j in 0..n {
        for i in (0..n).filter(|&i| i != j) {
            let (b, _, _) = svd_b(p[(i, j)], p[(j, i)], sigma[i], sigma[j], left);
            k[(i, j)] = svd_gap(sigma[i], sigma[j]) * b;
        }
    }
    k
}

// Kᵢⱼ = Fᵢⱼ Bᵢⱼ, ∂Fᵢⱼ/∂σⱼ = −2σⱼ Fᵢⱼ², ∂Fᵢⱼ/∂σᵢ = 2σᵢ Fᵢⱼ²
// σ̄ᵢ += Ḡᵢⱼ (Fᵢⱼ ∂Bᵢⱼ/∂σᵢ + 2σᵢ Fᵢⱼ² Bᵢⱼ), σ̄ⱼ += Ḡᵢⱼ (Fᵢⱼ ∂Bᵢⱼ/∂σⱼ − 2σⱼ Fᵢⱼ² Bᵢⱼ)
/// `k = svd_vector_tangent(σ, p, left)`: the contribution to `σ̄`.
pub fn svd_vector_tangent_sigma<T: Real, K: Dim, S: Storage<T, K, K>, SS: Storage<T, K, nalgebra::U1>>(
    sigma: &Matrix<T, K, nalgebra::U1, SS>,
    p: &Matrix<T, K, K, S>,
    left: &bool,
    g: &OMatrix<T, K, K>,
) -> OMatrix<T, K, nalgebra::U1>
where
    DefaultAllocator: Allocator<K, K> + Allocator<K>,
{
    let two = nalgebra::convert::<f64, T>(2.0);
    let mut out = sigma.clone_owned();
    out.fill(nalgebra::zero::<T>());
    let n = sigma.len();
    for j in 0..n {
        for i in (0..n).filter(|&i| i != j) {
            let (si, sj) = (sigma[i], sigma[j]);
            let (b, db_i, db_j) = svd_b(p[(i, j)], p[(j, i)], si, sj, *left);
            let f = svd_gap(si, sj);
            out[i] += g[(i, j)] * (f * db_i + two * si * f * f * b);
            out[j] += g[(i, j)] * (f * db_j - two * sj * f * f * b);
        }
    }
    out
}

// U side: Kᵢⱼ = Fᵢⱼ (Pᵢⱼ σⱼ + σᵢ Pⱼᵢ): P̄ᵢⱼ += Ḡᵢⱼ Fᵢⱼ σⱼ + Ḡⱼᵢ Fⱼᵢ σⱼ
// V side: Kᵢⱼ = Fᵢⱼ (σᵢ Pᵢⱼ + Pⱼᵢ σⱼ): P̄ᵢⱼ += Ḡᵢⱼ Fᵢⱼ σᵢ + Ḡⱼᵢ Fⱼᵢ σᵢ
/// `k = svd_vector_tangent(σ, p, left)`: the contribution to `p̄`.
pub fn svd_vector_tangent_p<T: Real, K: Dim, S: Storage<T, K, K>, SS: Storage<T, K, nalgebra::U1>>(
    sigma: &Matrix<T, K, nalgebra::U1, SS>,
    p: &Matrix<T, K, K, S>,
    left: &bool,
    g: &OMatrix<T, K, K>,
) -> OMatrix<T, K, K>
where
    DefaultAllocator: Allocator<K, K>,
{
    let mut out = zeros_of(p);
    let n = sigma.len();
    for j in 0..n {
        for i in (0..n).filter(|&i| i != j) {
            let s = if *left { sigma[j] } else { sigma[i] };
            out[(i, j)] = (g[(i, j)] * svd_gap(sigma[i], sigma[j]) + g[(j, i)] * svd_gap(sigma[j], sigma[i])) * s;
        }
    }
    out
}

/// `M Σ⁻¹`: column j of `m` divided by `σⱼ`.
pub fn div_columns<T: Real, R: Dim, K: Dim, S: Storage<T, R, K>, SS: Storage<T, K, nalgebra::U1>>(
    m: &Matrix<T, R, K, S>,
    sigma: &Matrix<T, K, nalgebra::U1, SS>,
) -> OMatrix<T, R, K>
where
    DefaultAllocator: Allocator<R, K>,
{
    let mut out = m.clone_owned();
    for (j, mut col) in out.column_iter_mut().enumerate() {
        col /= sigma[j];
    }
    out
}

// Y = M Σ⁻¹
// M̄ += Ḡ Σ⁻¹
/// `y = div_columns(m, σ)`: the contribution to `m̄`.
pub fn div_columns_lhs<T: Real, R: Dim, K: Dim, S: Storage<T, R, K>, SS: Storage<T, K, nalgebra::U1>>(
    _m: &Matrix<T, R, K, S>,
    sigma: &Matrix<T, K, nalgebra::U1, SS>,
    g: &OMatrix<T, R, K>,
) -> OMatrix<T, R, K>
where
    DefaultAllocator: Allocator<R, K>,
{
    div_columns(g, sigma)
}

// σ̄ⱼ −= Σᵢ Ḡᵢⱼ Mᵢⱼ / σⱼ²
/// `y = div_columns(m, σ)`: the contribution to `σ̄`.
pub fn div_columns_rhs<T: Real, R: Dim, K: Dim, S: Storage<T, R, K>, SS: Storage<T, K, nalgebra::U1>>(
    m: &Matrix<T, R, K, S>,
    sigma: &Matrix<T, K, nalgebra::U1, SS>,
    g: &OMatrix<T, R, K>,
) -> OMatrix<T, K, nalgebra::U1>
where
    DefaultAllocator: Allocator<R, K> + Allocator<K>,
{
    let mut out = sigma.clone_owned();
    for j in 0..sigma.len() {
        out[j] = -g.column(j).dot(&m.column(j)) / (sigma[j] * sigma[j]);
    }
    out
}
