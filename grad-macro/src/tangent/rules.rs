//! The tangent rules of ops (`ẏ` from the operands' tangents), each written with ops that
//! have adjoint rules, so that `_hvp` can differentiate the tangent program.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};

use super::Tx;
use crate::ir::{Kind, ValueId};
use crate::symbol::{self, Adj, Fwd, Note, Rule, Tangent};

/// `a * b` of two scalars, refusing matrices (a scalar function's `g′` times the tangent: the
/// matrix exponential has a different derivative). Its adjoints are the product's.
static SCALAR_MUL: Rule = Rule::new(
    "*",
    Fwd::Runtime("tangent_mul"),
    &[Adj::Rule("mul_lhs"), Adj::Rule("mul_rhs")],
    false,
    Note::new("$0 $1", &["$g $1", "$0 $g"]),
);

impl Tx<'_> {
    // ----- rules -----

    /// The tangent of `y = rule(args…)`, built from ops with rules.
    pub(super) fn rule_tangent(
        &mut self,
        rule: &'static Rule,
        args: &[ValueId],
        y: ValueId,
        span: Span,
    ) -> Option<ValueId> {
        let ta: Vec<Option<ValueId>> = args.iter().map(|&a| self.t(a)).collect();
        let replaced = |k: usize, t: ValueId| {
            let mut a = args.to_vec();
            a[k] = t;
            a
        };
        match rule.fwd {
            // Factorizations: the tangent of the factored matrix stands for the factorization's.
            Fwd::Consume("lu") | Fwd::Unwrap { name: "cholesky", .. } => ta[0],
            // y = L(a) for a linear L: ẏ = L(ȧ) (the other operands are constants).
            Fwd::Neg | Fwd::Deref | Fwd::Index => Some(self.rule(rule, replaced(0, ta[0]?), span)),
            // an element of a collection (`&p.layers[k]`), a field of one (`&layer.w`) and a
            // reference to it: borrowed as the value is
            Fwd::Ref | Fwd::Element | Fwd::Member => {
                let t = self.rule(rule, replaced(0, ta[0]?), span);
                self.values[t].borrowed = self.values[y].borrowed;
                Some(t)
            }
            Fwd::Method(_) | Fwd::Consume(_) | Fwd::Turbofish(_) | Fwd::Runtime(_)
                if rule.tangent == Tangent::Linear =>
            {
                Some(self.rule(rule, replaced(0, ta[0]?), span))
            }
            // ẏ = ȧ ± ḃ
            Fwd::Add => match (ta[0], ta[1]) {
                (Some(a), Some(b)) => Some(self.add(a, b, span)),
                (a, b) => a.or(b),
            },
            Fwd::Sub => match (ta[0], ta[1]) {
                (Some(a), Some(b)) => Some(self.rule(&symbol::SUB, vec![a, b], span)),
                (Some(a), None) => Some(a),
                (None, b) => Some(self.neg(b?, span)),
            },
            // y = L(a, b, …) linear in all its differentiated operands together:
            // ẏ = L(ȧ, ḃ, …), zeros for the constant ones.
            Fwd::Tuple => self.joint(rule, args, &ta, span),
            Fwd::Method(_) | Fwd::Runtime(_) if rule.tangent == Tangent::Joint => self.joint(rule, args, &ta, span),
            // y = B(a, b) bilinear: ẏ = B(ȧ, b) + B(a, ḃ)
            Fwd::Mul | Fwd::TraceOfProduct | Fwd::TransposeMul | Fwd::MulTranspose => {
                self.bilinear(rule, args, &ta, span)
            }
            Fwd::Method(_) if rule.tangent == Tangent::Bilinear => self.bilinear(rule, args, &ta, span),
            // y = a / b: ẏ = (ȧ − y ḃ) / b
            Fwd::Div => {
                let num = self.minus_product(ta[0], y, ta[1], &symbol::MUL, span)?;
                Some(self.rule(rule, vec![num, args[1]], span))
            }
            // y = a ⊘ b: ẏ = (ȧ − y ⊙ ḃ) ⊘ b
            Fwd::Method("component_div") => {
                let cm = known("component_mul", 1);
                let num = self.minus_product(ta[0], y, ta[1], cm, span)?;
                Some(self.rule(rule, vec![num, args[1]], span))
            }
            // y = ‖x‖²: ẏ = 2⟨x, ẋ⟩
            Fwd::Method("norm_squared") => {
                let d = self.rule(known("dot", 1), vec![args[0], ta[0]?], span);
                Some(self.add(d, d, span))
            }
            // y = ‖x‖: ẏ = ⟨x, ẋ⟩ / y
            Fwd::Method("norm") => {
                let d = self.rule(known("dot", 1), vec![args[0], ta[0]?], span);
                Some(self.rule(&symbol::DIV, vec![d, y], span))
            }
            // s = max(X), min(X), max |X|: ṡ = ⟨M, Ẋ⟩ with M = Eₖ (sign(Xₖ) Eₖ for amax) at the
            // entry the reverse rule picks, a constant (piecewise constant in X).
            Fwd::Method("max" | "min" | "amax") => {
                let (x, v) = (self.tokens_ref(args[0]), self.tokens_ref(y));
                let f = format_ident!("{}_adj", rule.name);
                let tokens = quote!(::matgrad::__private::#f(#x, #v, &::matgrad::__private::one_like(#v)));
                let mask = self.opaque(tokens, vec![args[0], y], span);
                Some(self.rule(known("dot", 1), vec![mask, ta[0]?], span))
            }
            // Z = sup(A, B), inf(A, B): Ż = M ⊙ Ȧ + (1 − M) ⊙ Ḃ, M the constant mask of the
            // side the reverse rule picks.
            Fwd::Method(n @ ("sup" | "inf")) => {
                let (a, b) = (self.tokens_ref(args[0]), self.tokens_ref(args[1]));
                let mut terms = Vec::new();
                for (k, side) in ["lhs", "rhs"].into_iter().enumerate() {
                    let Some(d) = ta[k] else { continue };
                    let f = format_ident!("{}_{}", n, side);
                    let tokens = quote!(::matgrad::__private::#f(#a, #b, &::matgrad::__private::ones_like(#a)));
                    let mask = self.opaque(tokens, args.to_vec(), span);
                    terms.push(self.rule(known("component_mul", 1), vec![mask, d], span));
                }
                let first = *terms.first()?;
                Some(terms[1..].iter().fold(first, |acc, &t| self.add(acc, t, span)))
            }
            // y = x / ‖x‖: ẏ = (ẋ − y⟨y, ẋ⟩) / ‖x‖
            Fwd::Method("normalize") => {
                let norm = known("norm", 0);
                let n = self.rule(norm, vec![args[0]], span);
                let d = self.rule(known("dot", 1), vec![y, ta[0]?], span);
                let yd = self.mul(y, d, span);
                let r = self.rule(&symbol::SUB, vec![ta[0]?, yd], span);
                Some(self.rule(&symbol::DIV, vec![r, n], span))
            }
            // Y = softmax(Z) by rows: Ẏ = Y ⊙ (Ż − rowsum(Y ⊙ Ż) 1ᵀ)
            Fwd::Runtime("softmax_rows") => {
                let s = self.row_sums(y, ta[0]?, span);
                let ns = self.neg(s, span);
                let add_col = symbol::helper("add_column_vector", 2).expect("add_column_vector has a rule");
                let centred = self.rule(add_col, vec![ta[0]?, ns], span);
                Some(self.rule(known("component_mul", 1), vec![y, centred], span))
            }
            // l = lse(Z) by rows: l̇ = rowsum(softmax(Z) ⊙ Ż)
            Fwd::Runtime("logsumexp_rows") => {
                let softmax = symbol::helper("softmax_rows", 1).expect("softmax_rows has a rule");
                let p = self.rule(softmax, vec![args[0]], span);
                Some(self.row_sums(p, ta[0]?, span))
            }
            // f = CE(Z, Y) = (1/m) ⟨Y, lse(Z) 1ᵀ − Z⟩:
            // ḟ = (⟨Ẏ, lse(Z) 1ᵀ − Z⟩ + ⟨Y, rowsum(softmax(Z) ⊙ Ż) 1ᵀ − Ż⟩) / m
            Fwd::Runtime("cross_entropy") => {
                let (z, labels) = (args[0], args[1]);
                let helper = |name: &str, n: usize| symbol::helper(name, n).expect("a matgrad helper");
                let add_col = helper("add_column_vector", 2);
                let mut terms = Vec::new();
                if let Some(dy) = ta[1] {
                    let lse = self.rule(helper("logsumexp_rows", 1), vec![z], span);
                    let nz = self.neg(z, span);
                    let d = self.rule(add_col, vec![nz, lse], span);
                    terms.push(self.rule(known("dot", 1), vec![dy, d], span));
                }
                if let Some(dz) = ta[0] {
                    let p = self.rule(helper("softmax_rows", 1), vec![z], span);
                    let dl = self.row_sums(p, dz, span);
                    let ndz = self.neg(dz, span);
                    let dd = self.rule(add_col, vec![ndz, dl], span);
                    terms.push(self.rule(known("dot", 1), vec![labels, dd], span));
                }
                let first = *terms.first()?;
                let sum = terms[1..].iter().fold(first, |acc, &t| self.add(acc, t, span));
                let zr = self.tokens_ref(z);
                let m = self.opaque(quote!(::matgrad::__private::nrows_like(#zr)), vec![z], span);
                Some(self.rule(&symbol::DIV, vec![sum, m], span))
            }
            // C = BᵀAB: Ċ = BᵀȦB + ḂᵀAB + BᵀAḂ
            Fwd::Runtime("quadform") => {
                let (a, b) = (args[0], args[1]);
                let tr_mul = known("tr_mul", 1);
                let mut terms = Vec::new();
                if let Some(da) = ta[0] {
                    terms.push(self.rule(rule, vec![da, b], span));
                }
                if let Some(db) = ta[1] {
                    let ab = self.mul(a, b, span);
                    terms.push(self.rule(tr_mul, vec![db, ab], span));
                    let adb = self.mul(a, db, span);
                    terms.push(self.rule(tr_mul, vec![b, adb], span));
                }
                let first = *terms.first()?;
                Some(terms[1..].iter().fold(first, |acc, &t| self.add(acc, t, span)))
            }
            Fwd::Method(n) | Fwd::Unwrap { name: n, .. } => self.linalg(rule, n, args, &ta, y, span),
            Fwd::Field { name, field } | Fwd::FieldUnwrap { name, field } => {
                self.decomposition(name, field, args, &ta, y, span)
            }
            Fwd::Runtime(n) if symbol::scalar_fn(n, args.len()).is_some_and(|r| std::ptr::eq(r, rule)) => {
                self.scalar(n, args, &ta, y, span)
            }
            _ => {
                self.unsupported(span, &format!("`{}`", rule.name));
                None
            }
        }
    }

    /// `a − y·b` (`·` the rule `mul`), or its parts when a tangent is missing.
    fn minus_product(
        &mut self,
        a: Option<ValueId>,
        y: ValueId,
        b: Option<ValueId>,
        mul: &'static Rule,
        span: Span,
    ) -> Option<ValueId> {
        let yb = b.map(|b| self.rule(mul, vec![y, b], span));
        match (a, yb) {
            (Some(a), Some(yb)) => Some(self.rule(&symbol::SUB, vec![a, yb], span)),
            (Some(a), None) => Some(a),
            (None, Some(yb)) => Some(self.neg(yb, span)),
            (None, None) => None,
        }
    }

    fn joint(&mut self, rule: &'static Rule, args: &[ValueId], ta: &[Option<ValueId>], span: Span) -> Option<ValueId> {
        ta.iter().any(Option::is_some).then_some(())?;
        let mut targs = Vec::new();
        for (k, &a) in args.iter().enumerate() {
            let constant = rule.adj.get(k).is_none_or(|adj| *adj == Adj::Constant);
            let t = match ta[k] {
                Some(t) => t,
                None if constant => a,
                None => self.zeros(a),
            };
            targs.push(t);
        }
        Some(self.rule(rule, targs, span))
    }

    fn bilinear(
        &mut self,
        rule: &'static Rule,
        args: &[ValueId],
        ta: &[Option<ValueId>],
        span: Span,
    ) -> Option<ValueId> {
        let mut terms = Vec::new();
        for k in 0..2 {
            if let Some(t) = ta[k] {
                let mut a = args.to_vec();
                a[k] = t;
                terms.push(self.rule(rule, a, span));
            }
        }
        let first = *terms.first()?;
        Some(terms[1..].iter().fold(first, |acc, &t| self.add(acc, t, span)))
    }

    /// Linear algebra.
    fn linalg(
        &mut self,
        rule: &'static Rule,
        name: &str,
        args: &[ValueId],
        ta: &[Option<ValueId>],
        y: ValueId,
        span: Span,
    ) -> Option<ValueId> {
        match name {
            // C = A⁻¹ (of a matrix, an LU or a Cholesky factorization): Ċ = −C Ȧ C
            "try_inverse" | "inverse" => {
                let ca = self.mul(y, ta[0]?, span);
                let cac = self.mul(ca, y, span);
                Some(self.neg(cac, span))
            }
            // s = ln det S (Cholesky): ṡ = tr(S⁻¹ Ṡ)
            "ln_determinant" => {
                let inverse = known("inverse", 0);
                let c = self.rule(inverse, vec![args[0]], span);
                Some(self.rule(&symbol::TRACE_MUL, vec![c, ta[0]?], span))
            }
            // X = A⁻¹ B (LU, Cholesky): Ẋ = A⁻¹ (Ḃ − Ȧ X)
            "solve" => {
                let ax = ta[0].map(|da| self.mul(da, y, span));
                let rhs = match (ta[1], ax) {
                    (Some(db), Some(ax)) => self.rule(&symbol::SUB, vec![db, ax], span),
                    (Some(db), None) => db,
                    (None, Some(ax)) => self.neg(ax, span),
                    (None, None) => return None,
                };
                Some(self.rule(rule, vec![args[0], rhs], span))
            }
            _ => self.linalg_more(rule, name, args, ta, y, span),
        }
    }

    /// A scalar function y = g(x, …): ẏ = g′(x) ẋ, with g′ written with ops that have rules.
    fn scalar(
        &mut self,
        name: &str,
        args: &[ValueId],
        ta: &[Option<ValueId>],
        y: ValueId,
        span: Span,
    ) -> Option<ValueId> {
        let x = args[0];
        let unary = |tx: &mut Self, f: &str| {
            let rule = symbol::method(f, 0).expect("a scalar function");
            tx.rule(rule, vec![x], span)
        };
        if name == "max" || name == "min" {
            return self.select(name, args, ta, span);
        }
        // Functions of one differentiable operand here; the others (several, or a second
        // one that may have a tangent while the first has none) below.
        const UNARY: &[&str] =
            &["exp", "ln", "sqrt", "sin", "cos", "sinh", "cosh", "tan", "tanh", "recip", "abs", "powi"];
        if !UNARY.contains(&name) {
            return self.scalar_more(name, args, ta, y, span);
        }
        let dx = ta[0]?;
        if self.closures == 0 && (name == "exp" || name == "abs") {
            return Some(self.exp_or_abs(name, x, dx, y, span));
        }
        let t = match name {
            // ẏ = y ẋ
            "exp" => self.rule(&SCALAR_MUL, vec![dx, y], span),
            // ẏ = ẋ / x
            "ln" => self.rule(&symbol::DIV, vec![dx, x], span),
            // ẏ = ẋ / (2y)
            "sqrt" => {
                let two_y = self.add(y, y, span);
                self.rule(&symbol::DIV, vec![dx, two_y], span)
            }
            // ẏ = cos(x) ẋ
            "sin" => {
                let c = unary(self, "cos");
                self.mul(dx, c, span)
            }
            // ẏ = −sin(x) ẋ
            "cos" => {
                let s = unary(self, "sin");
                let m = self.mul(dx, s, span);
                self.neg(m, span)
            }
            // ẏ = cosh(x) ẋ, sinh(x) ẋ
            "sinh" => {
                let c = unary(self, "cosh");
                self.mul(dx, c, span)
            }
            "cosh" => {
                let s = unary(self, "sinh");
                self.mul(dx, s, span)
            }
            // tan: ẏ = ẋ + ẋ y²; tanh: ẏ = ẋ − ẋ y²
            "tan" | "tanh" => {
                let dy = self.mul(dx, y, span);
                let dyy = self.mul(dy, y, span);
                let rule = if name == "tan" { &symbol::ADD } else { &symbol::SUB };
                self.rule(rule, vec![dx, dyy], span)
            }
            // ẏ = −ẋ y²
            "recip" => {
                let dy = self.mul(dx, y, span);
                let dyy = self.mul(dy, y, span);
                self.neg(dyy, span)
            }
            // ẏ = sign(x) ẋ (0 at 0, as the reverse rule)
            "abs" => {
                let r = self.tokens_ref(x);
                let s = self.opaque(quote!(::matgrad::__private::sign0(#r)), vec![x], span);
                self.rule(&SCALAR_MUL, vec![dx, s], span)
            }
            // ẏ = n xⁿ⁻¹ ẋ (n constant)
            "powi" => {
                let n = self.tokens_plain(args[1]);
                let r = self.tokens_ref(x);
                let nf = self.opaque(quote!(::matgrad::__private::int_like(#r, #n)), vec![x, args[1]], span);
                let m = self.fresh("c", Kind::Inline(quote!((#n - 1))), span);
                self.values[m].active = false;
                let powi = known("powi", 1);
                let p = self.rule(powi, vec![x, m], span);
                let np = self.rule(&SCALAR_MUL, vec![nf, p], span);
                self.mul(dx, np, span)
            }
            _ => {
                self.unsupported(span, &format!("`{name}`"));
                return None;
            }
        };
        Some(t)
    }

    /// More scalar functions: ẏ = Σ ∂g/∂xᵢ ẋᵢ, the partials written with ops that have rules
    /// and constants (`1`, `ln 2`) computed from the operand's type.
    fn scalar_more(
        &mut self,
        name: &str,
        args: &[ValueId],
        ta: &[Option<ValueId>],
        y: ValueId,
        span: Span,
    ) -> Option<ValueId> {
        let x = args[0];
        let div = |tx: &mut Self, a: ValueId, b: ValueId| tx.rule(&symbol::DIV, vec![a, b], span);
        let sub = |tx: &mut Self, a: ValueId, b: ValueId| tx.rule(&symbol::SUB, vec![a, b], span);
        let un = |tx: &mut Self, f: &str, v: ValueId| {
            let rule = symbol::method(f, 0).expect("a scalar function");
            tx.rule(rule, vec![v], span)
        };
        // The terms ∂g/∂xᵢ ẋᵢ, for the operands that have tangents.
        let mut terms: Vec<ValueId> = Vec::new();
        match name {
            // y = ln(1 + x): ẏ = ẋ / (x + 1); y = eˣ − 1: ẏ = ẋ (y + 1)
            "ln_1p" | "exp_m1" => {
                let one = self.int(x, 1, span);
                if name == "ln_1p" {
                    let d = self.add(x, one, span);
                    terms.push(div(self, ta[0]?, d));
                } else {
                    let d = self.add(y, one, span);
                    terms.push(self.mul(ta[0]?, d, span));
                }
            }
            // y = log₂ x, log₁₀ x: ẏ = ẋ / (x ln k)
            "log2" | "log10" => {
                let k = self.int(x, if name == "log2" { 2 } else { 10 }, span);
                let lk = un(self, "ln", k);
                let d = self.mul(x, lk, span);
                terms.push(div(self, ta[0]?, d));
            }
            // y = ln x / ln b: ẏ = (ẋ / x − y ḃ / b) / ln b
            "log" => {
                let lb = un(self, "ln", args[1]);
                if let Some(dx) = ta[0] {
                    let q = div(self, dx, x);
                    terms.push(div(self, q, lb));
                }
                if let Some(db) = ta[1] {
                    let yb = self.mul(y, db, span);
                    let q = div(self, yb, args[1]);
                    let q = div(self, q, lb);
                    terms.push(self.neg(q, span));
                }
            }
            // asin: ẋ/√(1 − x²), acos: −ẋ/√(1 − x²), asinh: ẋ/√(x² + 1), acosh: ẋ/√(x² − 1)
            "asin" | "acos" | "asinh" | "acosh" => {
                let (one, xx) = (self.int(x, 1, span), self.mul(x, x, span));
                let r = match name {
                    "asin" | "acos" => sub(self, one, xx),
                    "asinh" => self.add(xx, one, span),
                    _ => sub(self, xx, one),
                };
                let root = un(self, "sqrt", r);
                let q = div(self, ta[0]?, root);
                terms.push(if name == "acos" { self.neg(q, span) } else { q });
            }
            // atan: ẋ/(1 + x²), atanh: ẋ/(1 − x²)
            "atan" | "atanh" => {
                let (one, xx) = (self.int(x, 1, span), self.mul(x, x, span));
                let d = if name == "atan" { self.add(one, xx, span) } else { sub(self, one, xx) };
                terms.push(div(self, ta[0]?, d));
            }
            // y = ∛x: ẏ = ẋ / (3y²)
            "cbrt" => {
                let three = self.int(x, 3, span);
                let yy = self.mul(y, y, span);
                let d = self.mul(three, yy, span);
                terms.push(div(self, ta[0]?, d));
            }
            // y = sign(x): ẏ = 0
            "signum" => return Some(self.zeros(y)),
            // y = xᵖ: ẏ = p xᵖ⁻¹ ẋ + y ln(x) ṗ
            "powf" => {
                let p = args[1];
                if let Some(dx) = ta[0] {
                    let one = self.int(x, 1, span);
                    let q = sub(self, p, one);
                    let powf = known("powf", 1);
                    let xq = self.rule(powf, vec![x, q], span);
                    let f = self.mul(p, xq, span);
                    terms.push(self.mul(dx, f, span));
                }
                if let Some(dp) = ta[1] {
                    let lx = un(self, "ln", x);
                    let f = self.mul(y, lx, span);
                    terms.push(self.mul(dp, f, span));
                }
            }
            // z = atan2(a, b): ż = (ȧ b − ḃ a) / (a² + b²)
            "atan2" => {
                let (a, b) = (args[0], args[1]);
                let (aa, bb) = (self.mul(a, a, span), self.mul(b, b, span));
                let d = self.add(aa, bb, span);
                if let Some(da) = ta[0] {
                    let n = self.mul(da, b, span);
                    terms.push(div(self, n, d));
                }
                if let Some(db) = ta[1] {
                    let n = self.mul(db, a, span);
                    let q = div(self, n, d);
                    terms.push(self.neg(q, span));
                }
            }
            // r = hypot(a, b): ṙ = (a ȧ + b ḃ) / r
            "hypot" => {
                for k in 0..2 {
                    if let Some(d) = ta[k] {
                        let n = self.mul(args[k], d, span);
                        terms.push(div(self, n, y));
                    }
                }
            }
            // y = x a + b: ẏ = ẋ a + x ȧ + ḃ
            "mul_add" => {
                if let Some(dx) = ta[0] {
                    terms.push(self.mul(dx, args[1], span));
                }
                if let Some(da) = ta[1] {
                    terms.push(self.mul(x, da, span));
                }
                terms.extend(ta[2]);
            }
            // y = clamp(x, lo, hi): the tangent of the chosen side (1 at the bounds for x)
            "clamp" => {
                let (xr, lo, hi) = (self.tokens_ref(x), self.tokens_ref(args[1]), self.tokens_ref(args[2]));
                let conds = [quote!(*#lo <= *#xr && *#xr <= *#hi), quote!(*#xr < *#lo), quote!(*#xr > *#hi)];
                for (k, cond) in conds.into_iter().enumerate() {
                    if let Some(d) = ta[k] {
                        let ind = self.opaque(quote!(::matgrad::__private::indicator(#xr, #cond)), args.to_vec(), span);
                        terms.push(self.rule(&SCALAR_MUL, vec![d, ind], span));
                    }
                }
            }
            _ => {
                self.unsupported(span, &format!("`{name}`"));
                return None;
            }
        }
        let first = *terms.first()?;
        Some(terms[1..].iter().fold(first, |acc, &t| self.add(acc, t, span)))
    }

    /// The sums of the rows of `a ⊙ b` (a column).
    fn row_sums(&mut self, a: ValueId, b: ValueId, span: Span) -> ValueId {
        let p = self.rule(known("component_mul", 1), vec![a, b], span);
        let column_sum = known("column_sum", 0);
        self.rule(column_sum, vec![p], span)
    }

    /// The integer `n` as a constant of the scalar `like`'s type.
    fn int(&mut self, like: ValueId, n: i32, span: Span) -> ValueId {
        let r = self.tokens_ref(like);
        self.opaque(quote!(::matgrad::__private::int_like(#r, #n)), vec![like], span)
    }

    /// `x.max(c)`, `x.min(c)`: the tangent of the chosen side, `ẋ 1[x > c] + ċ 1[x ≤ c]` for
    /// `max` (ties to `c`, as the reverse rule), the indicators constants.
    fn select(&mut self, name: &str, args: &[ValueId], ta: &[Option<ValueId>], span: Span) -> Option<ValueId> {
        let (x, c) = (self.tokens_ref(args[0]), self.tokens_ref(args[1]));
        let pick_x = match name {
            "max" => quote!(::matgrad::__private::indicator(#x, *#x > *#c)),
            _ => quote!(::matgrad::__private::indicator(#x, *#x < *#c)),
        };
        let mut terms = Vec::new();
        if let Some(dx) = ta[0] {
            let ind = self.opaque(quote!(#pick_x), vec![args[0], args[1]], span);
            terms.push(self.rule(&SCALAR_MUL, vec![dx, ind], span));
        }
        if let Some(dc) = ta[1] {
            let ind = self.opaque(quote!(::matgrad::__private::one_minus(#pick_x)), vec![args[0], args[1]], span);
            terms.push(self.rule(&SCALAR_MUL, vec![dc, ind], span));
        }
        let first = *terms.first()?;
        Some(terms[1..].iter().fold(first, |acc, &t| self.add(acc, t, span)))
    }

    pub(super) fn tokens_plain(&self, v: ValueId) -> TokenStream {
        let val = &self.values[v];
        match &val.kind {
            Kind::Inline(t) => t.clone(),
            _ if val.is_ref() => {
                let i = &val.ident;
                quote!(*#i)
            }
            _ => val.ident.to_token_stream(),
        }
    }
}

/// The rule of the nalgebra method `name` taking `arity` arguments, which tangent rules build
/// from.
pub(super) fn known(name: &str, arity: usize) -> &'static Rule {
    symbol::method(name, arity).unwrap_or_else(|| panic!("`{name}` with {arity} arguments has a rule"))
}
