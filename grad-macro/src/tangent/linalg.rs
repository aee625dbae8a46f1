//! The tangent rules of the determinant, matrix powers, `lp_norm`, Cholesky's factor, the
//! triangular solves, the symmetric eigenvalues and eigenvectors, the singular values and vectors, and of `exp` and `abs`
//! outside `map` closures (where they may apply to matrices). Each is written with ops that have
//! adjoint rules — nalgebra's, or the ones below, whose runtime functions and adjoints are in
//! the runtime's `rules/tangent.rs` — so that `_hvp` differentiates the tangent program.

use proc_macro2::Span;
use quote::quote;

use super::rules::known;
use super::Tx;
use crate::ir::{Kind, ValueId};
use crate::symbol::{self, Adj, Fwd, Note, Rule};

/// `cof(A) = ∂det(A)/∂A` of a matrix or a factorization: `ḋ = ⟨cof(A), Ȧ⟩`.
static COFACTOR: Rule =
    Rule::new("cofactor", Fwd::Runtime("cofactor"), &[Adj::Rule("cofactor_adj")], false, Note::new("cof({0})", &[]));
/// `Σⱼ Aʲ E Aᵏ⁻¹⁻ʲ`, the tangent of `A.pow(k)` along `E`.
static POW_TANGENT: Rule = Rule::new(
    "pow_tangent",
    Fwd::Runtime("pow_tangent"),
    &[Adj::Rule("pow_tangent_lhs"), Adj::Rule("pow_tangent_rhs"), Adj::Constant],
    false,
    Note::new("Σⱼ $0ʲ $1 $0^({2} − 1 − j)", &[]),
);
/// `∇‖x‖_p`: `ṡ = ⟨∇s, ẋ⟩`.
static LP_NORM_GRAD: Rule = Rule::new(
    "lp_norm_grad",
    Fwd::Runtime("lp_norm_grad"),
    &[Adj::Rule("lp_norm_grad_adj"), Adj::Constant],
    false,
    Note::new("∇‖{0}‖_{1}", &[]),
);
/// `Φ(sym(M))`, the lower triangle of the symmetric part with its diagonal halved.
static CHOL_PHI: Rule =
    Rule::new("chol_phi", Fwd::Runtime("chol_phi"), &[Adj::Rule("chol_phi_adj")], false, Note::new("Φ({0})", &[]));
/// `tril(X)`, `triu(X)`: the triangle a triangular solve reads.
static LOWER_TRIANGLE: Rule = Rule::new(
    "lower_triangle",
    Fwd::Method("lower_triangle"),
    &[Adj::Rule("lower_triangle_adj")],
    false,
    Note::new("tril({0})", &["tril({g})"]),
);
static UPPER_TRIANGLE: Rule = Rule::new(
    "upper_triangle",
    Fwd::Method("upper_triangle"),
    &[Adj::Rule("upper_triangle_adj")],
    false,
    Note::new("triu({0})", &["triu({g})"]),
);
/// `F(λ) ⊙ sym(M)`, `Fᵢⱼ = 1/(λⱼ − λᵢ)` (0 on the diagonal): `U̇ = U K` for `M = Uᵀ Ṡ U`.
static EIGENVECTOR_TANGENT: Rule = Rule::new(
    "eigenvector_tangent",
    Fwd::Runtime("eigenvector_tangent"),
    &[Adj::Rule("eigenvector_tangent_lhs"), Adj::Rule("eigenvector_tangent_rhs")],
    false,
    Note::new("F({0}) ⊙ sym({1})", &[]),
);
/// `F ⊙ (P Σ + Σ Pᵀ)` (the `U` side, its last operand `true`) or `F ⊙ (Σ P + Pᵀ Σ)` (`V`),
/// `Fᵢⱼ = 1/(σⱼ² − σᵢ²)`, for `P = Uᵀ Ȧ V`.
static SVD_VECTOR_TANGENT: Rule = Rule::new(
    "svd_vector_tangent",
    Fwd::Runtime("svd_vector_tangent"),
    &[Adj::Rule("svd_vector_tangent_sigma"), Adj::Rule("svd_vector_tangent_p"), Adj::Constant],
    false,
    Note::new("F({0}) ⊙ sym({1})", &[]),
);
/// `M Σ⁻¹`.
static DIV_COLUMNS: Rule = Rule::new(
    "div_columns",
    Fwd::Runtime("div_columns"),
    &[Adj::Rule("div_columns_lhs"), Adj::Rule("div_columns_rhs")],
    false,
    Note::new("{0} Diag({1})⁻¹", &[]),
);
/// `ẏ` of `y = exp(x)` outside a closure: `y ẋ` for a scalar, `L(X, Ẋ)` for a matrix.
static EXP_TANGENT: Rule = Rule::new(
    "exp_tangent",
    Fwd::Runtime("exp_tangent"),
    &[Adj::Rule("exp_tangent_x_adj"), Adj::Rule("exp_tangent_y_adj"), Adj::Rule("exp_tangent_dx_adj")],
    false,
    Note::new("exp′({0}; {2})", &[]),
);
/// `ẏ` of `y = |x|` outside a closure: `sign(x) ⊙ ẋ`.
static ABS_TANGENT: Rule = Rule::new(
    "abs_tangent",
    Fwd::Runtime("abs_tangent"),
    &[Adj::Rule("abs_tangent_x_adj"), Adj::Rule("abs_tangent_dx_adj")],
    false,
    Note::new("sign({0}) ⊙ {1}", &[]),
);

impl Tx<'_> {
    /// Linear algebra beyond inverses, solves and `ln_determinant` (see `rules.rs`).
    pub(super) fn linalg_more(
        &mut self,
        rule: &'static Rule,
        name: &str,
        args: &[ValueId],
        ta: &[Option<ValueId>],
        y: ValueId,
        span: Span,
    ) -> Option<ValueId> {
        match name {
            // d = det A (of a matrix, an LU or a Cholesky factorization): ḋ = ⟨cof(A), Ȧ⟩
            // (= d tr(A⁻¹ Ȧ) where A is invertible; the cofactor matrix keeps it finite where not)
            "determinant" => {
                let da = ta[0]?;
                let c = self.rule(&COFACTOR, vec![args[0]], span);
                Some(self.rule(known("dot", 1), vec![c, da], span))
            }
            // Y = Aᵏ: Ẏ = Σⱼ Aʲ Ȧ Aᵏ⁻¹⁻ʲ
            "pow" => {
                let da = ta[0]?;
                Some(self.rule(&POW_TANGENT, vec![args[0], da, args[1]], span))
            }
            // s = ‖x‖_p: ṡ = ⟨sign(x) ⊙ |x|^(p−1) / s^(p−1), ẋ⟩
            "lp_norm" => {
                let dx = ta[0]?;
                let g = self.rule(&LP_NORM_GRAD, vec![args[0], args[1]], span);
                Some(self.rule(known("dot", 1), vec![g, dx], span))
            }
            // L = chol(S): L̇ = L Φ(L⁻¹ sym(Ṡ) L⁻ᵀ), Φ the lower triangle with the diagonal halved
            "l" => {
                let ds = ta[0]?;
                let solve = symbol::unwrapped("solve_lower_triangular", 1).expect("a triangular solve");
                let x = self.rule(solve, vec![y, ds], span);
                let xt = self.rule(known("transpose", 0), vec![x], span);
                let z = self.rule(solve, vec![y, xt], span);
                let p = self.rule(&CHOL_PHI, vec![z], span);
                Some(self.mul(y, p, span))
            }
            // X = L⁻¹ B (U⁻¹ B), reading L's lower (U's upper) triangle: Ẋ = L⁻¹ (Ḃ − tril(L̇) X)
            "solve_lower_triangular" | "solve_upper_triangular" => {
                let tri = if name == "solve_lower_triangular" { &LOWER_TRIANGLE } else { &UPPER_TRIANGLE };
                let lx = ta[0].map(|dl| {
                    let t = self.rule(tri, vec![dl], span);
                    self.mul(t, y, span)
                });
                let rhs = match (ta[1], lx) {
                    (Some(db), Some(lx)) => self.rule(&symbol::SUB, vec![db, lx], span),
                    (Some(db), None) => db,
                    (None, Some(lx)) => self.neg(lx, span),
                    (None, None) => return None,
                };
                Some(self.rule(rule, vec![args[0], rhs], span))
            }
            "symmetric_eigenvalues" => self.eigenvalues(args[0], ta[0]?, span),
            "singular_values" => self.singular_values(args[0], ta[0]?, span),
            _ => {
                self.unsupported(span, &format!("`{name}`"));
                None
            }
        }
    }

    /// A field of a decomposition (`s.symmetric_eigen().eigenvalues`, `a.svd(u, v).singular_values`).
    pub(super) fn decomposition(
        &mut self,
        name: &str,
        field: &str,
        args: &[ValueId],
        ta: &[Option<ValueId>],
        y: ValueId,
        span: Span,
    ) -> Option<ValueId> {
        match (name, field) {
            ("symmetric_eigen", "eigenvalues") => self.eigenvalues(args[0], ta[0]?, span),
            // U = eigenvectors of S: U̇ = U (F ⊙ sym(Uᵀ Ṡ U)), Fᵢⱼ = 1/(λⱼ − λᵢ)
            ("symmetric_eigen", "eigenvectors") => {
                let ds = ta[0]?;
                let values = symbol::decomposition_field("symmetric_eigen", 0, "eigenvalues").expect("eigenvalues");
                let lam = self.rule(values, vec![args[0]], span);
                let us = self.rule(known("tr_mul", 1), vec![y, ds], span);
                let usu = self.mul(us, y, span);
                let k = self.rule(&EIGENVECTOR_TANGENT, vec![lam, usu], span);
                Some(self.mul(y, k, span))
            }
            ("svd", "singular_values") => self.singular_values(args[0], ta[0]?, span),
            ("svd", "u" | "v_t") => self.singular_vectors(field == "u", args[0], ta[0]?, y, span),
            _ => {
                self.unsupported(span, &format!("`{name}().{field}`"));
                None
            }
        }
    }

    /// λ = eigenvalues of S (symmetric, S = U diag(λ) Uᵀ): λ̇ᵢ = uᵢᵀ Ṡ uᵢ, `diag(Uᵀ Ṡ U)`.
    fn eigenvalues(&mut self, s: ValueId, ds: ValueId, span: Span) -> Option<ValueId> {
        let vectors = symbol::decomposition_field("symmetric_eigen", 0, "eigenvectors").expect("eigenvectors");
        let u = self.rule(vectors, vec![s], span);
        let us = self.rule(known("tr_mul", 1), vec![u, ds], span);
        let usu = self.mul(us, u, span);
        Some(self.rule(known("diagonal", 0), vec![usu], span))
    }

    /// σ = singular values of A (A = U diag(σ) Vᵀ, thin): σ̇ᵢ = uᵢᵀ Ȧ vᵢ, `diag(Uᵀ Ȧ V)`.
    fn singular_values(&mut self, a: ValueId, da: ValueId, span: Span) -> Option<ValueId> {
        let yes = self.fresh("c", Kind::Inline(quote!(true)), span);
        self.values[yes].active = false;
        let field = |f: &str| symbol::decomposition_field_unwrapped("svd", 2, f).expect("singular vectors");
        let u = self.rule(field("u"), vec![a, yes, yes], span);
        let v_t = self.rule(field("v_t"), vec![a, yes, yes], span);
        let ua = self.rule(known("tr_mul", 1), vec![u, da], span);
        let v = self.rule(known("transpose", 0), vec![v_t], span);
        let uav = self.mul(ua, v, span);
        Some(self.rule(known("diagonal", 0), vec![uav], span))
    }

    /// U (`left`) or Vᵀ of the thin SVD A = U Σ Vᵀ (Townsend 2016), with P = Uᵀ Ȧ V:
    /// U̇ = U (F ⊙ (P Σ + Σ Pᵀ)) + (Ȧ V − U P) Σ⁻¹, V̇ = V (F ⊙ (Σ P + Pᵀ Σ)) + (Ȧᵀ U − V Pᵀ) Σ⁻¹.
    fn singular_vectors(&mut self, left: bool, a: ValueId, da: ValueId, y: ValueId, span: Span) -> Option<ValueId> {
        let yes = self.fresh("c", Kind::Inline(quote!(true)), span);
        self.values[yes].active = false;
        let side = self.fresh("c", Kind::Inline(if left { quote!(true) } else { quote!(false) }), span);
        self.values[side].active = false;
        let field = |f: &str| symbol::decomposition_field_unwrapped("svd", 2, f).expect("singular vectors");
        let (transpose, tr_mul) = (known("transpose", 0), known("tr_mul", 1));
        let (u, v) = match left {
            true => {
                let v_t = self.rule(field("v_t"), vec![a, yes, yes], span);
                (y, self.rule(transpose, vec![v_t], span))
            }
            false => (self.rule(field("u"), vec![a, yes, yes], span), self.rule(transpose, vec![y], span)),
        };
        let sigma = self.rule(known("singular_values", 0), vec![a], span);
        let ua = self.rule(tr_mul, vec![u, da], span);
        let p = self.mul(ua, v, span);
        let k = self.rule(&SVD_VECTOR_TANGENT, vec![sigma, p, side], span);
        let (base, own) = if left { (u, self.mul(da, v, span)) } else { (v, self.rule(tr_mul, vec![da, u], span)) };
        let back = match left {
            true => self.mul(u, p, span),
            false => {
                let pt = self.rule(transpose, vec![p], span);
                self.mul(v, pt, span)
            }
        };
        let d = self.rule(&symbol::SUB, vec![own, back], span);
        let r = self.rule(&DIV_COLUMNS, vec![d, sigma], span);
        let bk = self.mul(base, k, span);
        let t = self.add(bk, r, span);
        Some(if left { t } else { self.rule(transpose, vec![t], span) })
    }

    /// `y = exp(x)`, `y = |x|` outside a `map` closure, where `x` may be a matrix (the matrix
    /// exponential, the entrywise `abs`): `ẏ = exp′(x; ẋ)`, `sign(x) ⊙ ẋ` (0 at 0), the runtime
    /// choosing the scalar or the matrix form by type.
    pub(super) fn exp_or_abs(&mut self, name: &str, x: ValueId, dx: ValueId, y: ValueId, span: Span) -> ValueId {
        match name {
            "exp" => self.rule(&EXP_TANGENT, vec![x, y, dx], span),
            _ => self.rule(&ABS_TANGENT, vec![x, dx], span),
        }
    }
}
