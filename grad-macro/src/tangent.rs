//! Forward mode: the tangent program, an IR → IR transform of the lowered body.
//!
//! For every differentiated value `v` the program computes, beside `v`, its tangent `v̇`: the
//! directional derivative of `v` along the tangents of the `wrt` parameters (new parameters of
//! the program). Each tangent is computed by ordinary IR nodes whose rules are in
//! [`symbol`](crate::symbol) — linear ops applied to tangents, the product rule for bilinear
//! ones, `g′` written out for scalar functions — so that the program is itself an IR the
//! emitter prints (`_jvp`, every value inactive) and differentiates (`_hvp`: the reverse pass
//! of `ḟ = ⟨∇f, t⟩` gives `H t` for the parameters and `∇f` for the tangents).
//!
//! Control flow keeps its structure: a branch gets one tangent output per differentiated
//! output, a loop one carried tangent per differentiated carried variable; a `map` closure
//! becomes a `zip_map` over the matrix and its tangent whose closure is the closure's own
//! tangent program.
//!
//! Input:
//! ```ignore
//! let z = x * w;
//! z.norm_squared()
//! ```
//! Output (tangent `tangent_w` of `w`):
//! ```ignore
//! let z = x * w;
//! let t = z.norm_squared();
//! let tan_z = x * tangent_w;          // ẋ = 0: one term of the product rule
//! let d = z.dot(&tan_z);
//! let tan_t = d + d;                  // 2⟨z, ż⟩
//! ```

use std::collections::HashMap;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, ToTokens};

use crate::check::{Class, Signature};
use crate::ctxt::{layout, Ctxt};
use crate::ir::{outer_of, Arm, Body, Branch, Carried, Closure, Head, Kind, Loop, Node, Op, Stmt, Value, ValueId};
use crate::lower::Lowered;
use crate::symbol::{self, Adj, Fwd, Note, Rule};

/// `a * b` of two scalars, refusing matrices (a scalar function's `g′` times the tangent: the
/// matrix exponential has a different derivative). Its adjoints are the product's.
static SCALAR_MUL: Rule = Rule {
    name: "*",
    fwd: Fwd::Runtime("tangent_mul"),
    adj: &[Adj::Rule("mul_lhs"), Adj::Rule("mul_rhs")],
    needs_out: false,
    note: Note::new("$0 $1", &["$g $1", "$0 $g"]),
};

/// The tangent program of a function.
pub struct Program {
    /// Values, body (ending with the tangent of the value) and parameters: the function's, then
    /// one tangent per `wrt` parameter.
    pub low: Lowered,
    /// The function's value.
    pub value: ValueId,
    /// The tangents of the `wrt` parameters, in `wrt` order.
    pub tangents: Vec<ValueId>,
}

/// Builds the tangent program of `low`; unsupported ops are reported into `cx`.
pub fn program(cx: &Ctxt, sig: &Signature, low: Lowered) -> Program {
    let Lowered { values, body, params, fields } = low;
    let mut tx = Tx { cx, values, tan: HashMap::new(), stmts: Vec::new() };
    for &i in &sig.wrt {
        let p = &sig.params[i];
        if !matches!(p.class, Class::Float | Class::Matrix) {
            let msg = format!(
                "forward mode (`_jvp`, `_hvp`) differentiates scalar and matrix parameters, not `{}`: remove `forward` from the attribute to keep reverse mode only; or pass the matrices of `{}` as parameters of their own",
                p.ident, p.ident
            );
            cx.push(syn::Error::new(p.ident.span(), layout(&msg)));
        }
    }
    let mut tangents = Vec::new();
    for &i in &sig.wrt {
        let p = params[i];
        let ident = tangent_param(&sig.params[i].ident);
        let is_ref = sig.params[i].is_ref;
        let t = tx.push(Value { ident, kind: Kind::Param { is_ref }, active: true, ..blank(p, &tx.values) });
        tx.tan.insert(p, t);
        tangents.push(t);
    }
    let mut body = tx.body(body);
    let value = body.ret.expect("a lowered body has a value");
    let ret = tx.tangent_or_zeros(value, &mut body.stmts);
    body.ret = Some(ret);
    let mut params = params;
    params.extend(&tangents);
    Program { low: Lowered { values: tx.values, body, params, fields }, value, tangents }
}

/// The name of the tangent of parameter `p` in `_jvp`'s and `_hvp`'s signatures.
pub fn tangent_param(p: &Ident) -> Ident {
    format_ident!("tangent_{}", p, span = Span::mixed_site())
}

/// `g_suffix` for the path `g` (its generic arguments kept), spanned at `g`.
fn sibling(func: &syn::Path, suffix: &str) -> syn::Path {
    let mut p = func.clone();
    if let Some(last) = p.segments.last_mut() {
        last.ident = format_ident!("{}_{}", last.ident, suffix, span = last.ident.span());
    }
    p
}

/// A value like `v` (its span), to be filled in.
fn blank(v: ValueId, values: &[Value]) -> Value {
    let span = values[v].span;
    Value {
        ident: format_ident!("tan", span = Span::mixed_site()),
        kind: Kind::Node,
        active: true,
        span,
        borrowed: false,
        owned: true,
        borrows: None,
        named: false,
    }
}

struct Tx<'c> {
    cx: &'c Ctxt,
    values: Vec<Value>,
    /// The tangent of each differentiated value computed so far.
    tan: HashMap<ValueId, ValueId>,
    /// The statements of the body being built.
    stmts: Vec<Stmt>,
}

impl Tx<'_> {
    fn push(&mut self, v: Value) -> ValueId {
        self.values.push(v);
        self.values.len() - 1
    }

    /// A new value named `hint_<id>`.
    fn fresh(&mut self, hint: &str, kind: Kind, span: Span) -> ValueId {
        let ident = format_ident!("{}_{}", hint, self.values.len(), span = Span::mixed_site());
        let v = Value { ident, kind, active: true, span, borrowed: false, owned: true, borrows: None, named: false };
        self.push(v)
    }

    fn t(&self, v: ValueId) -> Option<ValueId> {
        self.tan.get(&v).copied()
    }

    fn node(&mut self, op: Op, span: Span) -> ValueId {
        let owned = match &op {
            Op::Rule { rule, .. } => symbol::returns_owned(rule),
            Op::Map { .. } | Op::Call { .. } => true,
            Op::Opaque { .. } => false,
        };
        let out = self.fresh("tan", Kind::Node, span);
        self.values[out].owned = owned;
        self.stmts.push(Stmt::Node(Box::new(Node { out, op, span, ty: None })));
        out
    }

    fn rule(&mut self, rule: &'static Rule, args: Vec<ValueId>, span: Span) -> ValueId {
        self.node(Op::Rule { rule, args }, span)
    }

    fn add(&mut self, a: ValueId, b: ValueId, span: Span) -> ValueId {
        self.rule(&symbol::ADD, vec![a, b], span)
    }

    fn mul(&mut self, a: ValueId, b: ValueId, span: Span) -> ValueId {
        self.rule(&symbol::MUL, vec![a, b], span)
    }

    fn neg(&mut self, a: ValueId, span: Span) -> ValueId {
        self.rule(&symbol::NEG, vec![a], span)
    }

    /// `v` as plain tokens in generated code (a reference for a `&` parameter).
    fn tokens_ref(&self, v: ValueId) -> TokenStream {
        let val = &self.values[v];
        let i = &val.ident;
        match &val.kind {
            Kind::Inline(t) => quote!(&(#t)),
            _ if val.borrowed => quote!(::matgrad::__private::AsValue::as_value(#i)),
            _ if val.is_ref() => quote!(#i),
            _ => quote!(&#i),
        }
    }

    /// A constant computed from the values `inputs` (zeros of a shape, an indicator): no
    /// tangent and no adjoint.
    fn opaque(&mut self, tokens: TokenStream, inputs: Vec<ValueId>, span: Span) -> ValueId {
        let out = self.node(Op::Opaque { tokens, inputs }, span);
        self.values[out].active = false;
        self.values[out].owned = true;
        out
    }

    /// Zeros of `v`'s shape: the tangent of a value that does not depend on the parameters.
    fn zeros(&mut self, v: ValueId) -> ValueId {
        let r = self.tokens_ref(v);
        let span = self.values[v].span;
        self.opaque(quote!(::matgrad::__private::zero_like(#r)), vec![v], span)
    }

    /// `v̇`, or zeros of `v`'s shape (appended to `stmts`).
    fn tangent_or_zeros(&mut self, v: ValueId, stmts: &mut Vec<Stmt>) -> ValueId {
        if let Some(t) = self.t(v) {
            return t;
        }
        let outer = std::mem::replace(&mut self.stmts, std::mem::take(stmts));
        let z = self.zeros(v);
        *stmts = std::mem::replace(&mut self.stmts, outer);
        z
    }

    fn unsupported(&self, span: Span, what: &str) {
        let msg = format!(
            "forward mode (`_jvp`, `_hvp`) has no rule for {what} yet: remove `forward` from the attribute to keep reverse mode only (`_grad`, `_vjp`); or write this step with the operations of the README's forward-mode list"
        );
        self.cx.push(syn::Error::new(span, layout(&msg)));
    }

    // ----- bodies and statements -----

    /// The body with each statement followed by the tangents of the values it defines.
    fn body(&mut self, body: Body) -> Body {
        let outer = std::mem::take(&mut self.stmts);
        for stmt in body.stmts {
            self.stmt(stmt);
        }
        let stmts = std::mem::replace(&mut self.stmts, outer);
        Body { stmts, ret: body.ret, bound: body.bound }
    }

    fn stmt(&mut self, stmt: Stmt) {
        match stmt {
            Stmt::Node(node) => self.node_stmt(*node),
            Stmt::Effect { .. } => self.stmts.push(stmt),
            Stmt::Branch(b) => self.branch(*b),
            Stmt::Loop(l) => self.for_loop(*l),
        }
    }

    fn node_stmt(&mut self, node: Node) {
        let (out, span) = (node.out, node.span);
        if !self.values[out].active {
            self.stmts.push(Stmt::Node(Box::new(node)));
            return;
        }
        let tangent = match &node.op {
            Op::Rule { rule, args } => {
                let (rule, args) = (*rule, args.clone());
                self.stmts.push(Stmt::Node(Box::new(node)));
                self.rule_tangent(rule, &args, out, span)
            }
            Op::Map { input, closure } if closure.second.is_some() => {
                let input = *input;
                let copies = [self.copy_closure(closure), self.copy_closure(closure), self.copy_closure(closure)];
                self.stmts.push(Stmt::Node(Box::new(node)));
                self.zip_tangent(input, copies, span)
            }
            Op::Map { input, closure } => {
                let input = *input;
                let copy = self.copy_closure(closure);
                let mut node = node;
                if let Op::Map { closure, .. } = &mut node.op {
                    self.tie_entry(closure);
                }
                self.stmts.push(Stmt::Node(Box::new(node)));
                self.map_tangent(input, copy, span)
            }
            Op::Opaque { .. } => {
                self.stmts.push(Stmt::Node(Box::new(node)));
                None
            }
            Op::Call { .. } => return self.call(node),
        };
        if let Some(t) = tangent {
            self.values[t].borrows = self.values[out].borrows.and_then(|b| self.t(b));
            self.tan.insert(out, t);
        }
    }

    /// `y = g(args…)` of another `#[differentiate(forward)]` function: its tangent program,
    /// given each argument's tangent (`NoGradient` for a constant one), computes both.
    ///
    /// Input: `let y = g(x, c);` Output: `let p = g_tangent(x, c, &ẋ, NoGradient); let y = p.0; let ẏ = p.1;`
    fn call(&mut self, node: Node) {
        let Node { out, op, span, ty } = node;
        let Op::Call { func, mut args, mut by_ref, mut spans } = op else { return };
        for k in 0..args.len() {
            let (slot, r) = match self.t(args[k]) {
                Some(t) => (t, true),
                None => {
                    let c = self.fresh("c", Kind::Inline(quote!(::matgrad::__private::NoGradient)), span);
                    self.values[c].active = false;
                    (c, false)
                }
            };
            args.push(slot);
            by_ref.push(r);
            spans.push(spans[k]);
        }
        let func = sibling(&func, "tangent");
        let pair = self.node(Op::Call { func, args, by_ref, spans }, span);
        let value = Op::Rule { rule: &symbol::TUPLE_FIELDS[0], args: vec![pair] };
        self.stmts.push(Stmt::Node(Box::new(Node { out, op: value, span, ty })));
        let t = self.rule(&symbol::TUPLE_FIELDS[1], vec![pair], span);
        self.tan.insert(out, t);
    }

    /// A branch: each arm's tangents, and one tangent output per differentiated output.
    ///
    /// Input: `let y = if c { a } else { b };` Output: `let (y, ẏ) = if c { (a, ȧ) } else { (b, ḃ) };`
    fn branch(&mut self, b: Branch) {
        let Branch { head, arms, mut outs, tape, inputs, span } = b;
        let active: Vec<usize> = (0..outs.len()).filter(|&k| self.values[outs[k]].active).collect();
        let mut new_arms = Vec::new();
        for arm in arms {
            let mut body = self.body(arm.body);
            let mut results = arm.results;
            let extra: Vec<ValueId> =
                active.iter().map(|&k| self.tangent_or_zeros(results[k], &mut body.stmts)).collect();
            results.extend(extra);
            new_arms.push(Arm { body, results });
        }
        let n = outs.len();
        for (j, &k) in active.iter().enumerate() {
            // Every arm has the branch's type: one owned result makes it owned.
            let owned = new_arms.iter().any(|a| self.values[a.results[n + j]].owned);
            let t = self.fresh("tan", Kind::Node, span);
            self.values[t].owned = owned;
            self.tan.insert(outs[k], t);
            outs.push(t);
        }
        self.stmts.push(Stmt::Branch(Box::new(Branch { head, arms: new_arms, outs, tape, inputs, span })));
    }

    /// A loop: one carried tangent per differentiated carried variable.
    fn for_loop(&mut self, l: Loop) {
        let Loop { pat, iter, inputs, fixed_len, mut carried, stop, unbounded, sized_by, body, tape, span } = l;
        let active: Vec<usize> = (0..carried.len())
            .filter(|&k| self.values[carried[k].inner].active || self.values[carried[k].out].active)
            .collect();
        let mut befores = Vec::new();
        let mut inners = Vec::new();
        for &k in &active {
            let c = &carried[k];
            let (before, inner) = (c.before, c.inner);
            let tb = match self.t(before) {
                Some(t) => t,
                None => self.zeros(before),
            };
            let ti = self.fresh("tan", self.values[inner].kind.clone(), span);
            self.values[ti].owned = self.values[inner].owned;
            self.tan.insert(inner, ti);
            befores.push(tb);
            inners.push(ti);
        }
        let mut body = self.body(body);
        for (j, &k) in active.iter().enumerate() {
            let (result, out) = (carried[k].result, carried[k].out);
            let tr = self.tangent_or_zeros(result, &mut body.stmts);
            let to = self.fresh("tan", Kind::Node, span);
            self.values[to].owned = self.values[befores[j]].owned || self.values[tr].owned;
            self.tan.insert(out, to);
            body.bound.push(inners[j]);
            carried.push(Carried { before: befores[j], inner: inners[j], result: tr, out: to });
        }
        let l = Loop { pat, iter, inputs, fixed_len, carried, stop, unbounded, sized_by, body, tape, span };
        self.stmts.push(Stmt::Loop(Box::new(l)));
    }

    // ----- map closures -----

    /// `x.map(g)`: `x.zip_map(&ẋ, |v, v̇| ġ)`, the closure's tangent program over the entry and
    /// its tangent (and the tangents of the scalars it captures); a `map` over constants with
    /// differentiated captures stays a `map` of the tangent program.
    fn map_tangent(&mut self, input: ValueId, mut c: Closure, span: Span) -> Option<ValueId> {
        let tin = self.t(input);
        if let Some(tx) = tin {
            let p = c.param;
            let ident = format_ident!("tan_{}", self.values[p].ident, span = Span::mixed_site());
            let dv = self.push(Value { ident, kind: Kind::ClosureParam, ..blank(p, &self.values) });
            self.tan.insert(p, dv);
            c.second = Some((tx, dv));
        }
        Some(self.closure_tangent(input, c, true, span))
    }

    /// `z = x.zip_map(&y, g)`: ż = ẋ ⊙ ∂g/∂a + ẏ ⊙ ∂g/∂b + (the captures' part), each partial a
    /// `zip_map` of the closure's tangent program with that entry's tangent 1 (the others 0).
    fn zip_tangent(&mut self, input: ValueId, copies: [Closure; 3], span: Span) -> Option<ValueId> {
        let [da, db, dc] = copies;
        let (other, _) = da.second.expect("a zip_map has a second matrix");
        let mut terms = Vec::new();
        for (c, m) in [(da, input), (db, other)] {
            let Some(tm) = self.t(m) else { continue };
            let entry = if m == input { c.param } else { c.second.expect("zip_map").1 };
            let e = &self.values[entry].ident;
            let one = self.fresh("c", Kind::Inline(quote!(::matgrad::__private::one_like(&#e))), span);
            self.values[one].active = false;
            self.tan.insert(entry, one);
            let partial = self.closure_tangent(input, c, false, span);
            terms.push(self.rule(cmul(), vec![tm, partial], span));
        }
        if dc.captures.iter().any(|&cap| self.t(outer_of(&self.values, cap)).is_some()) {
            terms.push(self.closure_tangent(input, dc, true, span));
        }
        let first = *terms.first()?;
        Some(terms[1..].iter().fold(first, |acc, &t| self.add(acc, t, span)))
    }

    /// The map of `c`'s tangent program over `input` (and `c.second`), the tangents of the
    /// entries set, and with `captures` those of the differentiated captures captured too.
    fn closure_tangent(&mut self, input: ValueId, mut c: Closure, captures: bool, span: Span) -> ValueId {
        for cap in c.captures.clone().into_iter().filter(|_| captures) {
            let outer = outer_of(&self.values, cap);
            let Some(to) = self.t(outer) else { continue };
            let v = &self.values[to];
            let (ident, is_ref) = (v.ident.clone(), v.is_ref());
            let tc = self.push(Value { ident, kind: Kind::Capture { outer: to, is_ref }, ..blank(cap, &self.values) });
            self.tan.insert(cap, tc);
            c.captures.push(tc);
        }
        let mut body = self.body(c.body);
        let ret = body.ret.expect("a closure has a value");
        let tret = self.tangent_or_zeros(ret, &mut body.stmts);
        body.ret = Some(tret);
        c.body = body;
        self.node(Op::Map { input, closure: Box::new(c) }, span)
    }

    /// A `from_fn` closure maps a matrix of zeros whose scalar type only the closure's value
    /// tells: `let _ = [entry, value];` gives the entry that type where nothing else reads it
    /// (`_jvp` prints the closure as a plain `map_with_location`).
    fn tie_entry(&self, c: &mut Closure) {
        let Some(ret) = c.body.ret.filter(|_| c.at.is_some()) else { return };
        let (p, r) = (self.tokens_plain(c.param), self.tokens_plain(ret));
        let tokens = quote!(let _ = [#p, #r];);
        c.body.stmts.push(Stmt::Effect { tokens, inputs: vec![c.param, ret] });
    }

    /// A copy of `c` with new values for everything defined inside (its parameters, captures and
    /// body): the tangent closure recomputes the entry's value beside its tangent.
    fn copy_closure(&mut self, c: &Closure) -> Closure {
        let mut map = HashMap::new();
        let mut defs = vec![c.param];
        defs.extend(c.second.map(|(_, b)| b));
        defs.extend(&c.captures);
        c.body.defines(&mut defs);
        for v in defs {
            let old = &self.values[v];
            let copy = Value {
                ident: old.ident.clone(),
                kind: old.kind.clone(),
                active: old.active,
                span: old.span,
                borrowed: old.borrowed,
                owned: old.owned,
                borrows: old.borrows,
                named: old.named,
            };
            map.insert(v, self.push(copy));
        }
        let m = |v: ValueId| map.get(&v).copied().unwrap_or(v);
        for &new in map.values() {
            self.values[new].borrows = self.values[new].borrows.map(m);
        }
        Closure {
            param: m(c.param),
            captures: c.captures.iter().map(|&v| m(v)).collect(),
            body: copy_body(&c.body, &m),
            at: c.at.clone(),
            second: c.second.map(|(y, b)| (m(y), m(b))),
        }
    }

    // ----- rules -----

    /// The tangent of `y = rule(args…)`, built from ops with rules.
    fn rule_tangent(&mut self, rule: &'static Rule, args: &[ValueId], y: ValueId, span: Span) -> Option<ValueId> {
        let ta: Vec<Option<ValueId>> = args.iter().map(|&a| self.t(a)).collect();
        let replaced = |k: usize, t: ValueId| {
            let mut a = args.to_vec();
            a[k] = t;
            a
        };
        match (rule.fwd, rule.name) {
            // Factorizations: the tangent of the factored matrix stands for the factorization's.
            (Fwd::Consume("lu"), _) | (Fwd::Unwrap { name: "cholesky", .. }, _) => ta[0],
            // y = L(a) for a linear L: ẏ = L(ȧ) (the other operands are constants).
            (Fwd::Neg | Fwd::Ref | Fwd::Deref | Fwd::Index | Fwd::Element, _) => {
                Some(self.rule(rule, replaced(0, ta[0]?), span))
            }
            (Fwd::Method(n) | Fwd::Consume(n) | Fwd::Turbofish(n) | Fwd::Runtime(n), _) if LINEAR.contains(&n) => {
                Some(self.rule(rule, replaced(0, ta[0]?), span))
            }
            // ẏ = ȧ ± ḃ
            (Fwd::Add, _) => match (ta[0], ta[1]) {
                (Some(a), Some(b)) => Some(self.add(a, b, span)),
                (a, b) => a.or(b),
            },
            (Fwd::Sub, _) => match (ta[0], ta[1]) {
                (Some(a), Some(b)) => Some(self.rule(&symbol::SUB, vec![a, b], span)),
                (Some(a), None) => Some(a),
                (None, b) => Some(self.neg(b?, span)),
            },
            // y = L(a, b, …) linear in all its differentiated operands together:
            // ẏ = L(ȧ, ḃ, …), zeros for the constant ones.
            (Fwd::Tuple, _) => self.joint(rule, args, &ta, span),
            (Fwd::Method(n) | Fwd::Runtime(n), _) if JOINT.contains(&n) => self.joint(rule, args, &ta, span),
            // y = B(a, b) bilinear: ẏ = B(ȧ, b) + B(a, ḃ)
            (Fwd::Mul | Fwd::TraceOfProduct, _) => self.bilinear(rule, args, &ta, span),
            (Fwd::Method(n), _) if BILINEAR.contains(&n) => self.bilinear(rule, args, &ta, span),
            // y = a / b: ẏ = (ȧ − y ḃ) / b
            (Fwd::Div, _) => {
                let num = self.minus_product(ta[0], y, ta[1], &symbol::MUL, span)?;
                Some(self.rule(rule, vec![num, args[1]], span))
            }
            // y = a ⊘ b: ẏ = (ȧ − y ⊙ ḃ) ⊘ b
            (Fwd::Method("component_div"), _) => {
                let cm = symbol::method("component_mul", 1).expect("component_mul has a rule");
                let num = self.minus_product(ta[0], y, ta[1], cm, span)?;
                Some(self.rule(rule, vec![num, args[1]], span))
            }
            // y = ‖x‖²: ẏ = 2⟨x, ẋ⟩
            (Fwd::Method("norm_squared"), _) => {
                let d = self.rule(dot(), vec![args[0], ta[0]?], span);
                Some(self.add(d, d, span))
            }
            // y = ‖x‖: ẏ = ⟨x, ẋ⟩ / y
            (Fwd::Method("norm"), _) => {
                let d = self.rule(dot(), vec![args[0], ta[0]?], span);
                Some(self.rule(&symbol::DIV, vec![d, y], span))
            }
            // y = x / ‖x‖: ẏ = (ẋ − y⟨y, ẋ⟩) / ‖x‖
            (Fwd::Method("normalize"), _) => {
                let norm = symbol::method("norm", 0).expect("norm has a rule");
                let n = self.rule(norm, vec![args[0]], span);
                let d = self.rule(dot(), vec![y, ta[0]?], span);
                let yd = self.mul(y, d, span);
                let r = self.rule(&symbol::SUB, vec![ta[0]?, yd], span);
                Some(self.rule(&symbol::DIV, vec![r, n], span))
            }
            // Y = softmax(Z) by rows: Ẏ = Y ⊙ (Ż − rowsum(Y ⊙ Ż) 1ᵀ)
            (Fwd::Runtime("softmax_rows"), _) => {
                let s = self.row_sums(y, ta[0]?, span);
                let ns = self.neg(s, span);
                let add_col = symbol::helper("add_column_vector", 2).expect("add_column_vector has a rule");
                let centred = self.rule(add_col, vec![ta[0]?, ns], span);
                Some(self.rule(cmul(), vec![y, centred], span))
            }
            // l = lse(Z) by rows: l̇ = rowsum(softmax(Z) ⊙ Ż)
            (Fwd::Runtime("logsumexp_rows"), _) => {
                let softmax = symbol::helper("softmax_rows", 1).expect("softmax_rows has a rule");
                let p = self.rule(softmax, vec![args[0]], span);
                Some(self.row_sums(p, ta[0]?, span))
            }
            // C = BᵀAB: Ċ = BᵀȦB + ḂᵀAB + BᵀAḂ
            (Fwd::Runtime("quadform"), _) => {
                let (a, b) = (args[0], args[1]);
                let tr_mul = symbol::method("tr_mul", 1).expect("tr_mul has a rule");
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
            (Fwd::Method(n) | Fwd::Unwrap { name: n, .. }, _) => self.linalg(rule, n, args, &ta, y, span),
            (Fwd::Runtime(n), _) if symbol::scalar_fn(n, args.len()).is_some_and(|r| std::ptr::eq(r, rule)) => {
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
                let inverse = symbol::method("inverse", 0).expect("inverse has a rule");
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
            _ => {
                self.unsupported(span, &format!("`{name}`"));
                None
            }
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
                let powi = symbol::method("powi", 1).expect("powi has a rule");
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
                    let powf = symbol::method("powf", 1).expect("powf has a rule");
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
        let p = self.rule(cmul(), vec![a, b], span);
        let column_sum = symbol::method("column_sum", 0).expect("column_sum has a rule");
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

    fn tokens_plain(&self, v: ValueId) -> TokenStream {
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

/// Ops linear in their first operand (the others constants): `ẏ = L(ȧ)`.
const LINEAR: &[&str] = &[
    "transpose",
    "sum",
    "trace",
    "row",
    "column",
    "rows",
    "columns",
    "view",
    "fixed_view",
    "fixed_rows",
    "fixed_columns",
    "diagonal",
    "row_sum",
    "column_sum",
    "mean",
    "row_mean",
    "column_mean",
    "select_rows",
    "select_columns",
    "reshape_generic",
    "clone",
    "clone_owned",
    "into_owned",
    "to_owned",
    "swap_rows",
    "swap_columns",
    "from_diagonal",
    "tuple_field0",
    "tuple_field1",
    "tuple_field2",
    "tuple_field3",
];

/// Ops linear in all their differentiated operands together: `ẏ = L(ȧ, ḃ)`.
const JOINT: &[&str] = &[
    "add_scalar",
    "add_row_vector",
    "add_column_vector",
    "hstack",
    "vstack",
    "set_entry",
    "set_column",
    "set_row",
    "fill",
    "fill_diagonal",
];

/// Bilinear ops: `ẏ = B(ȧ, b) + B(a, ḃ)`.
const BILINEAR: &[&str] = &["tr_mul", "component_mul", "dot", "scale", "kronecker", "cross"];

fn cmul() -> &'static Rule {
    symbol::method("component_mul", 1).expect("component_mul has a rule")
}

fn dot() -> &'static Rule {
    symbol::method("dot", 1).expect("dot has a rule")
}

/// A copy of `body` reading `m(v)` for every value `v`.
fn copy_body(body: &Body, m: &impl Fn(ValueId) -> ValueId) -> Body {
    Body {
        stmts: body.stmts.iter().map(|s| copy_stmt(s, m)).collect(),
        ret: body.ret.map(m),
        bound: body.bound.iter().map(|&v| m(v)).collect(),
    }
}

fn copy_stmt(stmt: &Stmt, m: &impl Fn(ValueId) -> ValueId) -> Stmt {
    let ms = |vs: &[ValueId]| vs.iter().map(|&v| m(v)).collect::<Vec<_>>();
    match stmt {
        Stmt::Node(n) => {
            let op = match &n.op {
                Op::Rule { rule, args } => Op::Rule { rule, args: ms(args) },
                Op::Opaque { tokens, inputs } => Op::Opaque { tokens: tokens.clone(), inputs: ms(inputs) },
                Op::Call { func, args, by_ref, spans } => {
                    Op::Call { func: func.clone(), args: ms(args), by_ref: by_ref.clone(), spans: spans.clone() }
                }
                Op::Map { input, closure } => Op::Map {
                    input: m(*input),
                    closure: Box::new(Closure {
                        param: m(closure.param),
                        captures: ms(&closure.captures),
                        body: copy_body(&closure.body, m),
                        at: closure.at.clone(),
                        second: closure.second.map(|(y, b)| (m(y), m(b))),
                    }),
                },
            };
            Stmt::Node(Box::new(Node { out: m(n.out), op, span: n.span, ty: n.ty.clone() }))
        }
        Stmt::Effect { tokens, inputs } => Stmt::Effect { tokens: tokens.clone(), inputs: ms(inputs) },
        Stmt::Branch(b) => {
            let head = match &b.head {
                Head::If { conds } => Head::If { conds: conds.clone() },
                Head::Match { scrutinee, pats } => Head::Match { scrutinee: scrutinee.clone(), pats: pats.clone() },
            };
            let arms = b.arms.iter().map(|a| Arm { body: copy_body(&a.body, m), results: ms(&a.results) }).collect();
            Stmt::Branch(Box::new(Branch {
                head,
                arms,
                outs: ms(&b.outs),
                tape: m(b.tape),
                inputs: ms(&b.inputs),
                span: b.span,
            }))
        }
        Stmt::Loop(l) => Stmt::Loop(Box::new(Loop {
            pat: l.pat.clone(),
            iter: l.iter.clone(),
            inputs: ms(&l.inputs),
            fixed_len: l.fixed_len.clone(),
            carried: l
                .carried
                .iter()
                .map(|c| Carried { before: m(c.before), inner: m(c.inner), result: m(c.result), out: m(c.out) })
                .collect(),
            stop: l.stop,
            unbounded: l.unbounded,
            sized_by: l.sized_by.map(|(v, a)| (m(v), a)),
            body: copy_body(&l.body, m),
            tape: m(l.tape),
            span: l.span,
        })),
    }
}

/// Marks every value inactive: the program is then printed as plain forward code (`_jvp`).
pub fn deactivate(low: &mut Lowered) {
    low.values.iter_mut().for_each(|v| v.active = false);
}

/// Ends the program with the pair `(f, ḟ)`: what `_jvp` returns.
pub fn pair(p: &mut Program) {
    let tangent = p.low.body.ret.expect("the program has a tangent");
    let span = p.low.values[p.value].span;
    let out = p.low.values.len();
    let ident = format_ident!("value_tangent", span = Span::mixed_site());
    p.low.values.push(Value { ident, ..blank(p.value, &p.low.values) });
    let args = vec![p.value, tangent];
    let node = Node { out, op: Op::Rule { rule: &symbol::TUPLES[0], args }, span, ty: None };
    p.low.body.stmts.push(Stmt::Node(Box::new(node)));
    p.low.body.ret = Some(out);
}

/// Keeps a copy of the function's (scalar) value in `keep` at the end of the forward pass,
/// before the reverse pass of the tangent reads or moves it (`_hvp`).
pub fn keep_value(p: &mut Program, keep: &Ident) {
    let v = &p.low.values[p.value];
    let i = &v.ident;
    let value = match &v.kind {
        Kind::Inline(t) => t.clone(),
        _ if v.is_ref() => quote!(::core::clone::Clone::clone(#i)),
        _ => quote!(::core::clone::Clone::clone(&#i)),
    };
    let tokens = quote!(let #keep = #value;);
    p.low.body.stmts.push(Stmt::Effect { tokens, inputs: vec![p.value] });
}

/// Removes what [`keep_value`] added.
pub fn unkeep_value(p: &mut Program) {
    p.low.body.stmts.pop();
}
