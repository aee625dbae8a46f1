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
//! tangent program; that program computes the entry's value too, so the map and its tangent can
//! run as one pass (`Closure::value_of`, decided by the planner: `reverse::Plan::fused`).
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
use quote::{format_ident, quote};

use crate::check::Signature;
use crate::ctxt::{layout, Ctxt};
use crate::ir::{outer_of, Arm, Body, Branch, CallSpans, Carried, Closure, Kind, Loop, Node, Op, Stmt, Value, ValueId};
use crate::lower::{FieldRead, Lowered};
use crate::symbol::{self, Rule};

mod copy;
mod linalg;
mod rules;

use copy::copy_body;
use rules::known;

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
    let Lowered { values, body, params, mut fields } = low;
    let mut tx =
        Tx { cx, values, tan: HashMap::new(), stmts: Vec::new(), closures: 0, read: Default::default(), call: None };
    let (mut tangents, mut field_tangents) = (Vec::new(), Vec::new());
    for (j, &i) in sig.wrt.iter().enumerate() {
        let p = params[i];
        let ident = tangent_param(&sig.params[i].ident);
        let is_ref = sig.params[i].is_ref;
        let t = tx.push(Value { ident, kind: Kind::Param { is_ref }, active: true, ..blank(p, &tx.values) });
        tx.tan.insert(p, t);
        tangents.push(t);
        // A struct's (tuple's) field paths: `let tangent_p_w1 = &tangent_p.w1;`, the tangent
        // parameter being parameter `sig.params.len() + j` of the program.
        for f in fields.iter().filter(|f| f.param == i).map(|f| (f.value, f.path.clone())).collect::<Vec<_>>() {
            let ident = tangent_param(&tx.values[f.0].ident);
            let tf = tx.push(Value { ident, kind: Kind::Param { is_ref: true }, ..blank(f.0, &tx.values) });
            tx.tan.insert(f.0, tf);
            field_tangents.push(FieldRead { param: sig.params.len() + j, path: f.1, value: tf, tangent: true });
        }
    }
    let mut body = tx.body(body);
    let value = body.ret.expect("a lowered body has a value");
    let ret = tx.tangent_or_zeros(value, &mut body.stmts);
    body.ret = Some(ret);
    // Only the fields whose tangents the program reads are bound (a skipped `usize` read as a
    // constant has no tangent).
    let read = tx.read.into_inner();
    fields.extend(field_tangents.into_iter().filter(|f| read.contains(&f.value)));
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
    /// How many `map` closures the body being built is in (their values are scalars).
    closures: usize,
    /// The tangents read so far (which tangents of struct fields to bind).
    read: std::cell::RefCell<std::collections::HashSet<ValueId>>,
    /// The method call whose tangent is being built, with its spans: the tangent's calls of
    /// the same method carry them too (see `CallSpans`).
    call: Option<(&'static Rule, CallSpans)>,
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
        let t = self.tan.get(&v).copied();
        if let Some(t) = t {
            self.read.borrow_mut().insert(t);
        }
        t
    }

    fn node(&mut self, op: Op, span: Span) -> ValueId {
        let owned = match &op {
            Op::Rule { rule, .. } => symbol::returns_owned(rule),
            Op::Map { .. } | Op::Call { .. } => true,
            Op::Opaque { .. } => false,
        };
        let call = match (&op, &self.call) {
            (Op::Rule { rule, .. }, Some((of, spans))) if std::ptr::eq(*rule, *of) => Some(spans.clone()),
            _ => None,
        };
        let out = self.fresh("tan", Kind::Node, span);
        self.values[out].owned = owned;
        self.stmts.push(Stmt::Node(Box::new(Node { out, op, span, call, ty: None })));
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
                self.call = node.call.clone().map(|c| (rule, c));
                self.stmts.push(Stmt::Node(Box::new(node)));
                let tangent = self.rule_tangent(rule, &args, out, span);
                self.call = None;
                tangent
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
                self.map_tangent(input, out, copy, span)
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
        let Node { out, op, span, ty, .. } = node;
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
        self.stmts.push(Stmt::Node(Box::new(Node { out, op: value, span, call: None, ty })));
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
    ///
    /// The tangent closure recomputes the entry `y` of `a = x.map(g)`: it is marked as computing
    /// `a` too (`value_of`), so that the two maps can run as one pass.
    fn map_tangent(&mut self, input: ValueId, a: ValueId, mut c: Closure, span: Span) -> Option<ValueId> {
        let tin = self.t(input);
        let y = c.body.ret.filter(|&y| {
            tin.is_some() && c.at.is_none() && self.values[y].active && matches!(self.values[y].kind, Kind::Node)
        });
        if let Some(tx) = tin {
            let p = c.param;
            let ident = format_ident!("tan_{}", self.values[p].ident, span = Span::mixed_site());
            let dv = self.push(Value { ident, kind: Kind::ClosureParam, ..blank(p, &self.values) });
            self.tan.insert(p, dv);
            c.second = Some((tx, dv));
        }
        let t = self.closure_tangent(input, c, true, span);
        if let (Some(y), Some(Stmt::Node(node))) = (y, self.stmts.last_mut()) {
            if let Op::Map { closure, .. } = &mut node.op {
                closure.value_of = Some((a, y));
                // Read at the end, so that the entry is bound for the pass that returns it.
                closure.body.stmts.push(Stmt::Effect { tokens: TokenStream::new(), inputs: vec![y] });
            }
        }
        Some(t)
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
            terms.push(self.rule(known("component_mul", 1), vec![tm, partial], span));
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
        self.closures += 1;
        let mut body = self.body(c.body);
        self.closures -= 1;
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
            value_of: c.value_of.map(|(a, y)| (m(a), m(y))),
        }
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
    let node = Node { out, op: Op::Rule { rule: &symbol::TUPLES[0], args }, span, call: None, ty: None };
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
