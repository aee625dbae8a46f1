//! Lowering: the function body (syn) to the IR, resolving variables (shadowing and
//! reassignment make new values), computing which values depend on a differentiated parameter,
//! and reporting every construct that has no rule.

mod control;
mod fields;
mod messages;
mod update;

pub use fields::{binding as field_binding, FieldRead};

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{BinOp, Expr, ExprMethodCall, Pat, UnOp};

use crate::check::{Class, Signature};
use crate::ctxt::Ctxt;
use crate::ir::{Body, CallSpans, Closure, Kind, Node, Op, Stmt, Value, ValueId};
use crate::rename::{Renamer, Resolve};
use crate::symbol::{self, Adj, Rule};
use messages::Construct;

#[derive(Clone)]
pub struct Lowered {
    pub values: Vec<Value>,
    pub body: Body,
    /// The values of the parameters, in signature order.
    pub params: Vec<ValueId>,
    /// The field paths of differentiated struct parameters that the body reads.
    pub fields: Vec<FieldRead>,
}

/// Lowers `block`, the body of a function with signature `sig`.
pub fn function(cx: &Ctxt, sig: &Signature, block: &syn::Block) -> Lowered {
    let mut lx = Lower {
        cx,
        values: Vec::new(),
        scopes: vec![Vec::new()],
        stmts: Vec::new(),
        closure: None,
        poisoned: Vec::new(),
        touched_poison: false,
        struct_params: Vec::new(),
        fields: Vec::new(),
        collections: Vec::new(),
        scalars: Default::default(),
        elements: Default::default(),
    };
    let mut params = Vec::new();
    for (i, p) in sig.params.iter().enumerate() {
        let active = sig.wrt.contains(&i);
        let id = lx.push_value(p.ident.clone(), Kind::Param { is_ref: p.is_ref }, active, p.ident.span());
        lx.bind(&p.ident, id);
        params.push(id);
        if p.class == Class::Float {
            lx.scalars.insert(id);
        }
        if active && matches!(p.class, Class::Unknown | Class::Tuple) {
            lx.struct_params.push((id, i));
        }
        if active && p.class == Class::Collection {
            lx.collections.push(id);
        }
    }
    lx.field_values(block);
    let ret = lx.block(&block.stmts);
    if ret.is_none() && !cx.has_errors() {
        cx.error_spanned_by(block, "the body must end with the value to differentiate (a tail expression or `return`)");
    }
    Lowered { values: lx.values, body: Body { stmts: lx.stmts, ret, bound: Vec::new() }, params, fields: lx.fields }
}

struct Frame {
    /// The scope depth where the closure starts: names found below it are captures.
    base: usize,
    captures: Vec<ValueId>,
}

struct Lower<'c> {
    cx: &'c Ctxt,
    values: Vec<Value>,
    scopes: Vec<Vec<(String, ValueId)>>,
    stmts: Vec<Stmt>,
    closure: Option<Frame>,
    /// Names whose `let` was reported as an error: their uses report nothing more.
    poisoned: Vec<String>,
    /// Whether the expression being renamed read a poisoned name.
    touched_poison: bool,
    /// Differentiated parameters of a struct type (value, index in the signature).
    struct_params: Vec<(ValueId, usize)>,
    /// The field paths of those read so far.
    fields: Vec<FieldRead>,
    /// Differentiated slice, array and `Vec` parameters.
    collections: Vec<ValueId>,
    /// Values known to be scalars (a float parameter, a reduction, arithmetic and functions of
    /// known scalars): a sum with one of them is of scalars, whose adjoints need no conversion.
    scalars: std::collections::HashSet<ValueId>,
    /// Elements of collection fields (`&p.layers[k]`) and fields of those (`&layer.enc`):
    /// values whose fields are read as [`symbol::MEMBER`]s.
    elements: std::collections::HashSet<ValueId>,
}

impl Resolve for Lower<'_> {
    fn resolve(&mut self, name: &Ident) -> Option<(TokenStream, usize)> {
        if self.is_poisoned(name) {
            self.touched_poison = true;
            return None;
        }
        let id = self.lookup(name)?;
        let v = &self.values[id];
        let toks = match &v.kind {
            Kind::Inline(t) => t.clone(),
            _ => v.ident.to_token_stream(),
        };
        Some((toks, id))
    }

    fn struct_root(&mut self, name: &Ident) -> bool {
        self.struct_root_or_element(name)
    }

    fn resolve_field(&mut self, e: &Expr) -> Option<usize> {
        self.struct_field(e)
    }
}

impl Lower<'_> {
    fn push_value(&mut self, ident: Ident, kind: Kind, active: bool, span: Span) -> ValueId {
        let owned = matches!(kind, Kind::Param { is_ref: false } | Kind::ClosureParam);
        self.values.push(Value { ident, kind, active, span, borrowed: false, owned, borrows: None, named: true });
        self.values.len() - 1
    }

    fn fresh(&mut self, hint: &str, kind: Kind, active: bool, span: Span) -> ValueId {
        let ident = format_ident!("{}_{}", hint, self.values.len(), span = Span::mixed_site());
        let id = self.push_value(ident, kind, active, span);
        // The macro's own hints: an unnamed node, a constant, a branch's value, a tape.
        self.values[id].named = !["t", "c", "branch", "tape", "ty"].contains(&hint);
        id
    }

    fn is_poisoned(&self, name: &Ident) -> bool {
        self.binding(name).is_none() && self.poisoned.iter().any(|p| *name == p)
    }

    /// The innermost binding of `name`: its scope depth and value.
    fn binding(&self, name: &Ident) -> Option<(usize, ValueId)> {
        let name = name.to_string();
        self.scopes
            .iter()
            .enumerate()
            .rev()
            .find_map(|(d, s)| s.iter().rev().find(|(n, _)| *n == name).map(|(_, id)| (d, *id)))
    }

    fn bind(&mut self, name: &Ident, id: ValueId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name.to_string(), id));
        }
    }

    fn lookup(&mut self, name: &Ident) -> Option<ValueId> {
        let (depth, id) = self.binding(name)?;
        match &self.closure {
            Some(f) if depth < f.base && !matches!(self.values[id].kind, Kind::Inline(_)) => Some(self.capture(id)),
            _ => Some(id),
        }
    }

    fn capture(&mut self, outer: ValueId) -> ValueId {
        let Some(frame) = &self.closure else { return outer };
        if let Some(&c) = frame
            .captures
            .iter()
            .find(|&&c| matches!(self.values[c].kind, Kind::Capture { outer: o, .. } if o == outer))
        {
            return c;
        }
        let v = &self.values[outer];
        let (ident, is_ref, active, span) = (v.ident.clone(), v.is_ref(), v.active, v.span);
        let (borrowed, owned) = (v.borrowed, v.owned);
        let id = self.push_value(ident, Kind::Capture { outer, is_ref }, active, span);
        // A borrowed element (`let g = p.gates[1];`) is read through auto-deref inside too.
        self.values[id].borrowed = borrowed;
        self.values[id].owned = owned;
        if let Some(f) = self.closure.as_mut() {
            f.captures.push(id);
        }
        id
    }

    fn node(&mut self, op: Op, active: bool, span: Span) -> ValueId {
        self.node_at(op, active, span, None)
    }

    /// A node, with the spans of the method call it was written as (see `CallSpans`).
    fn node_at(&mut self, op: Op, active: bool, span: Span, call: Option<CallSpans>) -> ValueId {
        let out = self.fresh("t", Kind::Node, active, span);
        self.values[out].owned = match &op {
            Op::Rule { rule, .. } => symbol::returns_owned(rule),
            Op::Map { .. } | Op::Call { .. } => true,
            // A constant of any type (a reference, a view, a collection).
            Op::Opaque { .. } => false,
        };
        self.stmts.push(Stmt::Node(Box::new(Node { out, op, span, call, ty: None })));
        out
    }

    /// An op of `rule` with, after its operands, the adjoint type of each differentiated operand
    /// it carries one of (`a + b`, `a - b`, see `symbol::adj_type_operands`), an unread `()`
    /// for the others; without them inside a `map` closure (scalars) and for other rules.
    pub(crate) fn typed_rule(&mut self, rule: &'static Rule, mut args: Vec<ValueId>, span: Span) -> ValueId {
        let carried = symbol::adj_type_operands(rule);
        let scalars = carried.iter().any(|&k| args.get(k).is_some_and(|a| self.scalars.contains(a)));
        if !carried.is_empty() && self.closure.is_none() && !scalars {
            let types: Vec<ValueId> = (0..args.len())
                .map(|k| match carried.contains(&k) && self.values[args[k]].active {
                    true => self.adj_type(args[k], span),
                    false => self.inline(quote::quote!(()), span),
                })
                .collect();
            args.extend(types);
        }
        self.rule(rule, args, span)
    }

    /// `adj_type(&v)`: a constant of no size, read by the reverse pass of a sum.
    fn adj_type(&mut self, v: ValueId, span: Span) -> ValueId {
        let op = Op::Rule { rule: &symbol::ADJ_TYPE, args: vec![v] };
        let out = self.fresh("ty", Kind::Node, false, span);
        self.values[out].owned = true;
        self.stmts.push(Stmt::Node(Box::new(Node { out, op, span, call: None, ty: None })));
        out
    }

    /// A method call's op: `rule` with the spans of the call's name and arguments (`CallSpans`).
    fn method_rule(&mut self, rule: &'static Rule, args: Vec<ValueId>, span: Span, call: &ExprMethodCall) -> ValueId {
        let spans = CallSpans { method: call.method.span(), args: call.args.iter().map(|a| a.span()).collect() };
        self.rule_at(rule, args, span, Some(spans))
    }

    fn rule(&mut self, rule: &'static Rule, args: Vec<ValueId>, span: Span) -> ValueId {
        self.rule_at(rule, args, span, None)
    }

    fn rule_at(&mut self, rule: &'static Rule, args: Vec<ValueId>, span: Span, call: Option<CallSpans>) -> ValueId {
        self.check_captured_matrix(rule, &args, span);
        let active = args.iter().any(|&a| self.values[a].active);
        let mut operands = args.iter().zip(rule.adj).filter(|(_, adj)| **adj != Adj::Constant).map(|(a, _)| a);
        let scalar = match rule.note.out {
            symbol::Out::Scalar => true,
            symbol::Out::Like => {
                rule.adj.iter().any(|a| *a != Adj::Constant) && operands.all(|a| self.scalars.contains(a))
            }
        };
        let out = self.node_at(Op::Rule { rule, args }, active, span, call);
        if scalar {
            self.scalars.insert(out);
        }
        out
    }

    /// A `map` closure's derivative is per entry: it can capture differentiated scalars, not
    /// matrices (as the matrix operand of `rule`).
    fn check_captured_matrix(&self, rule: &Rule, args: &[ValueId], span: Span) {
        if self.closure.is_none() {
            return;
        }
        let n = symbol::matrix_operands(rule).min(args.len());
        let captured =
            args[..n].iter().find(|&&a| self.values[a].active && matches!(self.values[a].kind, Kind::Capture { .. }));
        if let Some(&m) = captured {
            let name = self.user_name(m);
            self.cx.push(syn::Error::new(span, crate::ctxt::layout(&messages::captured_matrix(&name))));
        }
    }

    // ----- statements -----

    /// Lowers statements in a new scope; returns the tail value.
    fn block(&mut self, stmts: &[syn::Stmt]) -> Option<ValueId> {
        self.scopes.push(Vec::new());
        let mut tail = None;
        for (i, stmt) in stmts.iter().enumerate() {
            let last = i + 1 == stmts.len();
            match stmt {
                syn::Stmt::Local(l) => self.local(l),
                syn::Stmt::Item(item) => {
                    self.stmts.push(Stmt::Effect { tokens: item.to_token_stream(), inputs: Vec::new() })
                }
                syn::Stmt::Expr(e, None) if last && !control::is_statement_like(e) => tail = self.expr(e),
                syn::Stmt::Expr(e, _) => self.expr_stmt(e),
                syn::Stmt::Macro(m) => self.macro_stmt(m),
            }
        }
        self.scopes.pop();
        tail
    }

    fn local(&mut self, l: &syn::Local) {
        let (ident, ty) = match &l.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => (Some(&p.ident), None),
            Pat::Type(t) => match &*t.pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => (Some(&p.ident), Some(&*t.ty)),
                other => return self.cx.error_spanned_by(other, messages::PATTERN),
            },
            Pat::Wild(_) => (None, None),
            other => return self.cx.error_spanned_by(other, messages::PATTERN),
        };
        let Some(init) = &l.init else {
            self.poisoned.extend(ident.map(|i| i.to_string()));
            return self
                .cx
                .error_spanned_by(l, "`let` without a value is not supported: bind the value where it is computed");
        };
        if let Some((else_token, _)) = &init.diverge {
            return self.cx.error_spanned_by(else_token, "`let … else` is not supported in a `#[differentiate]` body");
        }
        let first_new = self.values.len();
        let Some(mut id) = self.let_value(&init.expr) else {
            self.poisoned.extend(ident.map(|i| i.to_string()));
            return;
        };
        let ty = ty.filter(|t| !matches!(t, syn::Type::Reference(_)));
        if let (Some(_), Kind::Inline(tokens)) = (ty, &self.values[id].kind) {
            // A typed constant: bind it so that the annotation is kept.
            let op = Op::Opaque { tokens: tokens.clone(), inputs: Vec::new() };
            id = self.node(op, false, init.expr.span());
        }
        if id >= first_new && matches!(self.values[id].kind, Kind::Node) {
            if let Some(name) = ident {
                self.values[id].ident = format_ident!("{}_{}", name, id, span = Span::mixed_site());
                self.values[id].named = true;
            }
            if let Some(Stmt::Node(n)) = self.stmts.iter_mut().rev().find(|s| matches!(s, Stmt::Node(n) if n.out == id))
            {
                n.ty = ty.cloned();
            }
        }
        if let Some(name) = ident {
            self.bind(name, id);
        }
    }

    /// The value a `let` binds: a reference stays one (`let y = &b;`, `let r = &f();`), as code
    /// kept as written (a condition) reads it.
    fn let_value(&mut self, e: &Expr) -> Option<ValueId> {
        let Expr::Reference(r) = e else { return self.expr(e) };
        if r.mutability.is_some() {
            return self.expr(e);
        }
        if !self.reads_active(&r.expr) {
            return self.borrowed(e, &r.expr);
        }
        let v = self.receiver(&r.expr)?;
        let y = self.rule(&symbol::REF, vec![v], e.span());
        self.values[y].borrowed = true;
        self.values[y].borrows = Some(v);
        Some(y)
    }

    /// `&inner` (`e`) of a constant, kept as a reference, with the value it points into.
    fn borrowed(&mut self, e: &Expr, inner: &Expr) -> Option<ValueId> {
        let v = self.opaque(e, Construct::Expression)?;
        let into = match place(inner) {
            None => Some(v),
            Some(root) => root.and_then(|name| self.lookup(name)),
        };
        self.values[v].borrowed = true;
        self.values[v].borrows = into;
        Some(v)
    }

    /// A method's receiver (or what `&` borrows): a place, read by reference, so `(*x)` is `x`.
    fn receiver(&mut self, e: &Expr) -> Option<ValueId> {
        match e {
            Expr::Paren(p) => self.receiver(&p.expr),
            Expr::Group(g) => self.receiver(&g.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => self.receiver(&u.expr),
            _ => self.expr(e),
        }
    }

    /// `*r` as a value: of a constant, kept as written; of a value the generated code holds as a
    /// reference (a `&f64` parameter, a binding over a collection), the value it points to,
    /// copied as the user's code copies it; otherwise the value itself.
    fn deref(&mut self, e: &Expr, inner: &Expr) -> Option<ValueId> {
        if !self.reads_active(inner) {
            return self.opaque(e, Construct::Expression);
        }
        let v = self.expr(inner)?;
        if self.values[v].is_ref() || self.values[v].borrowed {
            return Some(self.rule(&symbol::DEREF, vec![v], e.span()));
        }
        Some(v)
    }

    fn expr_stmt(&mut self, e: &Expr) {
        match e {
            // An empty statement, `;`.
            Expr::Verbatim(v) if v.is_empty() => {}
            Expr::Assign(a) => {
                let value = self.expr(&a.right);
                self.assign(&a.left, value);
            }
            Expr::Binary(b) if compound(&b.op).is_some() => {
                let Some(rule) = compound(&b.op) else { return };
                let lhs = self.expr(&b.left);
                let rhs = self.expr(&b.right);
                let value = lhs.zip(rhs).map(|(l, r)| self.typed_rule(rule, vec![l, r], b.op.span()));
                self.assign(&b.left, value);
            }
            Expr::Return(r) => {
                self.cx.error_spanned_by(r, messages::EXIT_IN_EXPRESSION);
            }
            Expr::MethodCall(m) if update::is_in_place(m) => self.in_place(e, m),
            Expr::Call(_) | Expr::MethodCall(_) | Expr::Macro(_) => {
                self.opaque(e, Construct::Statement);
            }
            Expr::If(_) | Expr::Match(_) => {
                self.branch(e, false);
            }
            Expr::ForLoop(f) => self.for_loop(f),
            Expr::While(_) | Expr::Loop(_) | Expr::Break(_) | Expr::Continue(_) => self.unsupported_loop(e),
            Expr::Block(b) if b.label.is_none() => {
                self.block(&b.block.stmts);
            }
            _ => {
                self.expr(e);
            }
        }
    }

    /// A loop or an exit left inside an expression by `desugar` (which rewrites those written
    /// as statements).
    fn unsupported_loop(&mut self, e: &Expr) {
        let tokens = match e {
            Expr::While(w) => w.while_token.to_token_stream(),
            Expr::Loop(l) => l.loop_token.to_token_stream(),
            Expr::Break(b) => b.break_token.to_token_stream(),
            _ => e.to_token_stream(),
        };
        let msg = match e {
            Expr::While(_) | Expr::Loop(_) => messages::LOOP_IN_EXPRESSION,
            _ => messages::EXIT_IN_EXPRESSION,
        };
        self.cx.error_spanned_by(tokens, msg);
    }

    fn assign(&mut self, place: &Expr, value: Option<ValueId>) {
        if let Expr::Index(i) = place {
            return self.assign_entry(place, i, value);
        }
        let Expr::Path(p) = place else {
            return self.cx.error_spanned_by(
                place,
                "assigning into part of a value is not supported: build a new matrix (for instance with `map` or a product) and bind it",
            );
        };
        let Some(name) = p.path.get_ident() else {
            return self.cx.error_spanned_by(place, "only local variables can be assigned to");
        };
        let Some(value) = value else { return };
        if self.is_poisoned(name) {
            return;
        }
        let target = name.to_string();
        if self
            .closure
            .as_ref()
            .is_some_and(|f| self.scopes[f.base..].iter().all(|s| s.iter().all(|(n, _)| *n != target)))
        {
            return self.cx.error_spanned_by(place, "a `map` closure cannot assign to a variable outside it");
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.iter_mut().rev().find(|(n, _)| *n == target) {
                entry.1 = value;
                return;
            }
        }
        self.cx.error_spanned_by(place, format!("cannot find variable `{name}` to assign to"));
    }

    fn macro_stmt(&mut self, m: &syn::StmtMacro) {
        let name = m.mac.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
        if symbol::EFFECT_MACROS.contains(&name.as_str()) {
            let mut stmt = m.clone();
            let mut r = Renamer::new(self);
            r.visit_stmt_macro_mut(&mut stmt);
            let mut inputs = r.reads;
            inputs.extend(r.shape_reads);
            self.stmts.push(Stmt::Effect { tokens: stmt.to_token_stream(), inputs });
        } else {
            let e = Expr::Macro(syn::ExprMacro { attrs: m.attrs.clone(), mac: m.mac.clone() });
            self.opaque(&e, Construct::Statement);
        }
    }

    // ----- expressions -----

    fn expr(&mut self, e: &Expr) -> Option<ValueId> {
        match e {
            Expr::Lit(l) => {
                let v = self.inline(l.to_token_stream(), e.span());
                if matches!(l.lit, syn::Lit::Float(_)) {
                    self.scalars.insert(v);
                }
                Some(v)
            }
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            // A reference to a constant place stays one (`&xs[k]` must not move out of `xs`); a
            // reference to a temporary is the temporary, which operands are read by reference.
            Expr::Reference(r)
                if r.mutability.is_none()
                    && place(&r.expr).is_some()
                    && !matches!(&*r.expr, Expr::Path(_))
                    && !self.reads_active(&r.expr) =>
            {
                self.borrowed(e, &r.expr)
            }
            Expr::Reference(r) if r.mutability.is_none() => self.receiver(&r.expr),
            Expr::Unary(u) => match u.op {
                UnOp::Deref(_) => self.deref(e, &u.expr),
                UnOp::Neg(_) => {
                    let x = self.expr(&u.expr)?;
                    Some(self.rule(&symbol::NEG, vec![x], e.span()))
                }
                _ => self.opaque(e, Construct::Operator),
            },
            Expr::Binary(b) => self.binary(e, b),
            Expr::Path(p) => match p.path.get_ident() {
                Some(name) if p.qself.is_none() && self.is_poisoned(name) => None,
                Some(name) if p.qself.is_none() => match self.lookup(name) {
                    Some(id) => Some(id),
                    None => Some(self.inline(e.to_token_stream(), e.span())),
                },
                _ => Some(self.inline(e.to_token_stream(), e.span())),
            },
            Expr::MethodCall(m) => self.method_call(e, m),
            Expr::Field(f) => self.field(e, f),
            Expr::Call(c) => self.call(e, c),
            // Indexing a constant (a slice, an array, a constant matrix) is written as is.
            Expr::Index(i) if !self.reads_active(&i.expr) => self.opaque(e, Construct::Index),
            Expr::Index(i) => {
                let base = self.expr(&i.expr)?;
                let idx = self.opaque(&i.index, Construct::Index)?;
                if self.is_field(base) {
                    return Some(self.element(base, idx, e.span()));
                }
                Some(self.rule(&symbol::INDEX, vec![base, idx], e.span()))
            }
            Expr::Block(b) if b.label.is_none() => {
                let errors = self.cx.len();
                let v = self.block(&b.block.stmts);
                if v.is_none() && self.cx.len() == errors {
                    self.cx.error_spanned_by(e, "this block has no value: end it with an expression without `;`");
                }
                v
            }
            Expr::Block(b) => {
                let label = b.label.as_ref().map(|l| &l.name);
                self.cx.error_spanned_by(label, "a labelled block is not supported in a `#[differentiate]` body: write its early value with `if`, as in `let y = if c { v } else { w };`");
                None
            }
            Expr::Unsafe(u) => {
                self.cx.error_spanned_by(u.unsafe_token, "`unsafe` blocks are not supported in a `#[differentiate]` body: move the unsafe code into a function with a user rule");
                None
            }
            Expr::Closure(c) => {
                self.cx
                    .error_spanned_by(c, "a closure is only supported as the argument of `map`, `zip_map` or a `from_fn` constructor: write `m.map(|v| …)`");
                None
            }
            Expr::Return(r) => {
                self.cx.error_spanned_by(r, messages::EXIT_IN_EXPRESSION);
                None
            }
            Expr::Try(t) => {
                self.cx.error_spanned_by(t.question_token, "the `?` operator is not supported in a `#[differentiate]` body: the function returns a float, not a `Result`");
                None
            }
            Expr::Await(a) => {
                self.cx.error_spanned_by(a, "`.await` is not supported: `#[differentiate]` functions are synchronous");
                None
            }
            Expr::If(_) | Expr::Match(_) => self.branch(e, true),
            Expr::ForLoop(_) => {
                self.cx.error_spanned_by(
                    e,
                    "a `for` loop has no value: write it as a statement, and use the variables it assigns after it",
                );
                None
            }
            Expr::While(_) | Expr::Loop(_) | Expr::Break(_) | Expr::Continue(_) => {
                self.unsupported_loop(e);
                None
            }
            Expr::Macro(m) if m.mac.path.segments.last().is_some_and(|s| s.ident == symbol::STACK_MACRO) => {
                self.stack(e, &m.mac)
            }
            Expr::Macro(_) => self.opaque(e, Construct::Macro),
            Expr::Cast(_) => self.opaque(e, Construct::Cast),
            // The values of a function returning several.
            Expr::Tuple(t) if (2..=4).contains(&t.elems.len()) && self.reads_active(e) => {
                let parts: Option<Vec<ValueId>> = t.elems.iter().map(|p| self.expr(p)).collect();
                Some(self.rule(&symbol::TUPLES[t.elems.len() - 2], parts?, e.span()))
            }
            Expr::Array(_) | Expr::Tuple(_) | Expr::Struct(_) | Expr::Repeat(_) => self.opaque(e, Construct::Aggregate),
            Expr::Assign(a) => {
                self.cx.error_spanned_by(
                    a,
                    "an assignment is a statement here: write it on its own line, ending with `;`",
                );
                None
            }
            _ => self.opaque(e, Construct::Expression),
        }
    }

    fn inline(&mut self, tokens: TokenStream, span: Span) -> ValueId {
        self.fresh("c", Kind::Inline(tokens), false, span)
    }

    fn binary(&mut self, e: &Expr, b: &syn::ExprBinary) -> Option<ValueId> {
        let rule = match b.op {
            BinOp::Add(_) => &symbol::ADD,
            BinOp::Sub(_) => &symbol::SUB,
            BinOp::Mul(_) => &symbol::MUL,
            BinOp::Div(_) => &symbol::DIV,
            op if compound(&op).is_some() => {
                self.cx.error_spanned_by(
                    e,
                    "a compound assignment is a statement here: write it on its own line, ending with `;`",
                );
                return None;
            }
            _ => return self.opaque(e, Construct::Operator),
        };
        let l = self.expr(&b.left);
        let r = self.expr(&b.right);
        // On the operator: a type error in the generated `a * b` is then rustc's error on the
        // user's `*`, reported once.
        Some(self.typed_rule(rule, vec![l?, r?], b.op.span()))
    }

    fn method_call(&mut self, e: &Expr, m: &ExprMethodCall) -> Option<ValueId> {
        let name = m.method.to_string();
        // An iterator chain over constants (`ks.iter().map(…).sum()`) is a constant, as written.
        if iterator_chain(m) && !self.reads_active(e) {
            return self.opaque(e, Construct::Expression);
        }
        if let Some(v) = self.unwrapped(e, m) {
            return v;
        }
        if m.turbofish.is_none() && symbol::returns_option(&name, m.args.len()) {
            if let Some(v) = self.option_not_unwrapped(e, m) {
                return v;
            }
        }
        if let (Some(fish), Some(rule)) = (&m.turbofish, symbol::turbofish(&name, m.args.len())) {
            let mut args = vec![self.receiver(&m.receiver)];
            for (a, adj) in m.args.iter().zip(&rule.adj[1..]) {
                args.push(self.operand(a, *adj));
            }
            args.push(Some(self.inline(fish.to_token_stream(), fish.span())));
            let args: Option<Vec<_>> = args.into_iter().collect();
            return Some(self.method_rule(rule, args?, e.span(), m));
        }
        if m.turbofish.is_none() && symbol::DECOMPOSITIONS.contains(&name.as_str()) {
            if let Some(v) = self.decomposition_not_supported(e, m) {
                return v;
            }
        }
        if m.turbofish.is_none() {
            if let Some(rule) = symbol::copy(&name, m.args.len()) {
                return self.copy(rule, &m.receiver, e.span());
            }
            if name == "map" && m.args.len() == 1 {
                return self.map(e, m);
            }
            if name == "zip_map" && m.args.len() == 2 {
                return self.zip_map(e, m);
            }
            if let Some(rule) = symbol::method(&name, m.args.len()) {
                let mut args = vec![self.receiver(&m.receiver)];
                for (a, adj) in m.args.iter().zip(&rule.adj[1..]) {
                    args.push(self.operand(a, *adj));
                }
                let args: Option<Vec<_>> = args.into_iter().collect();
                return Some(self.method_rule(rule, args?, e.span(), m));
            }
        }
        // In an iterator chain, the iterator is what has no rule.
        let mut culprit = &m.method;
        let mut recv = &*m.receiver;
        while let Expr::MethodCall(inner) = recv {
            if messages::is_iterator_method(&inner.method) {
                culprit = &inner.method;
            }
            recv = &inner.receiver;
        }
        self.opaque(e, Construct::Method(culprit))
    }

    /// `recv.clone()`, `recv.clone_owned()`, …: of an owned matrix or a scalar the copy is the
    /// same value, of the same type, so it is the receiver's value; of a view or a reference it
    /// is a new value (an owned matrix where the user's code has one), its adjoint passed back.
    fn copy(&mut self, rule: &'static Rule, recv: &Expr, span: Span) -> Option<ValueId> {
        let v = self.receiver(recv)?;
        if self.values[v].owned {
            return Some(v);
        }
        Some(self.rule(rule, vec![v], span))
    }

    /// `recv.f(args…).unwrap()` or `.expect(msg)` for a method `f` returning an `Option`
    /// (`try_inverse`, `cholesky`, `solve`): one op, so that the reverse pass reads the
    /// unwrapped value. `None` when `m` is not of this form.
    fn unwrapped(&mut self, e: &Expr, m: &ExprMethodCall) -> Option<Option<ValueId>> {
        let expect = match (m.method.to_string().as_str(), m.args.len()) {
            ("unwrap", 0) => false,
            ("expect", 1) => true,
            _ => return None,
        };
        if m.turbofish.is_some() {
            return None;
        }
        let (inner, rule) = match &*m.receiver {
            Expr::MethodCall(inner) if inner.turbofish.is_none() => {
                (inner, symbol::unwrapped(&inner.method.to_string(), inner.args.len())?)
            }
            // `a.svd(true, true).u.unwrap()`: an `Option` field of a decomposition.
            Expr::Field(syn::ExprField { base, member: syn::Member::Named(field), .. }) => match &**base {
                Expr::MethodCall(inner) if inner.turbofish.is_none() => {
                    let (method, field) = (inner.method.to_string(), field.to_string());
                    (inner, symbol::decomposition_field_unwrapped(&method, inner.args.len(), &field)?)
                }
                _ => return None,
            },
            _ => return None,
        };
        let mut args = vec![self.receiver(&inner.receiver)];
        for (a, adj) in inner.args.iter().zip(&rule.adj[1..]) {
            args.push(self.operand(a, *adj));
        }
        if expect {
            args.push(self.opaque(&m.args[0], Construct::ConstantArg));
        }
        let args: Option<Vec<_>> = args.into_iter().collect();
        Some(args.map(|args| self.method_rule(rule, args, e.span(), inner)))
    }

    /// `try_inverse()` (…) whose `Option` is not unwrapped at once: an error when it reads a
    /// differentiated value, `None` (lower it as usual) otherwise.
    fn option_not_unwrapped(&mut self, e: &Expr, m: &ExprMethodCall) -> Option<Option<ValueId>> {
        let reads_active = self.reads_active(e);
        reads_active.then(|| {
            let name = &m.method;
            self.cx.error_spanned_by(
                name,
                format!("`{name}` returns an `Option`: unwrap it where it is called, `{name}(…).unwrap()` or `{name}(…).expect(\"…\")`, so that its derivative can be taken"),
            );
            None
        })
    }

    /// A decomposition (`symmetric_eigen()`, `svd(…)`) not followed by a supported field:
    /// an error when it reads a differentiated value.
    fn decomposition_not_supported(&mut self, e: &Expr, m: &ExprMethodCall) -> Option<Option<ValueId>> {
        self.reads_active(e).then(|| {
            self.cx.error_spanned_by(&m.method, messages::decomposition(&m.method, None));
            None
        })
    }

    /// Whether `e` reads a value that depends on a differentiated parameter.
    fn reads_active(&mut self, e: &Expr) -> bool {
        let mut copy = e.clone();
        let mut r = Renamer::new(self);
        r.visit_expr_mut(&mut copy);
        let reads = r.reads;
        reads.iter().any(|&id| self.values[id].active)
    }

    /// `a.symmetric_eigen().eigenvalues`, `a.svd(true, true).singular_values`: the rule of the
    /// field alone. Other fields of a decomposition of a differentiated value are errors.
    fn field(&mut self, e: &Expr, f: &syn::ExprField) -> Option<ValueId> {
        if let Some(v) = self.struct_field(e) {
            return Some(v);
        }
        if let Some(s) = self.element_of(&f.base) {
            return self.member(e, s?, &f.member);
        }
        // A part of the tuple a called function returned.
        if let syn::Member::Unnamed(idx) = &f.member {
            if (idx.index as usize) < symbol::TUPLE_FIELDS.len() && self.reads_active(&f.base) {
                let t = self.expr(&f.base)?;
                return Some(self.rule(&symbol::TUPLE_FIELDS[idx.index as usize], vec![t], e.span()));
            }
        }
        if let (Expr::MethodCall(m), syn::Member::Named(field)) = (&*f.base, &f.member) {
            let method = m.method.to_string();
            if m.turbofish.is_none() && symbol::DECOMPOSITIONS.contains(&method.as_str()) {
                if let Some(rule) = symbol::decomposition_field(&method, m.args.len(), &field.to_string()) {
                    let mut args = vec![self.receiver(&m.receiver)];
                    for (a, adj) in m.args.iter().zip(&rule.adj[1..]) {
                        args.push(self.operand(a, *adj));
                    }
                    let args: Option<Vec<_>> = args.into_iter().collect();
                    return Some(self.rule(rule, args?, e.span()));
                }
                if self.reads_active(e) {
                    self.cx.error_spanned_by(field, messages::decomposition(&m.method, Some(field)));
                    return None;
                }
            }
        }
        self.opaque(e, Construct::Expression)
    }

    /// `stack![a, b; c, d]`: each block row joined with `hstack`, the rows with `vstack`; a
    /// zero block `0` takes its height from a block of its row and its width from a block of its
    /// column, as nalgebra's `stack!` does.
    ///
    /// Input: `stack![a, 0; c, d]`
    /// Output: `vstack(&hstack(&a, &zero_block(&a, &d)), &hstack(&c, &d))`
    fn stack(&mut self, e: &Expr, mac: &syn::Macro) -> Option<ValueId> {
        type Row = Punctuated<Expr, syn::Token![,]>;
        let parser = |input: syn::parse::ParseStream| {
            Punctuated::<Row, syn::Token![;]>::parse_terminated_with(input, Row::parse_separated_nonempty)
        };
        let rows = match mac.parse_body_with(parser) {
            Ok(rows) if !rows.is_empty() => rows,
            _ => return self.opaque(e, Construct::Macro),
        };
        let is_zero = |b: &Expr| matches!(b, Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(_), .. }));
        let mut grid: Vec<Vec<Option<ValueId>>> = Vec::new();
        let mut failed = false;
        for row in &rows {
            let mut out = Vec::new();
            for block in row {
                let v = if is_zero(block) { None } else { self.expr(block) };
                failed |= v.is_none() && !is_zero(block);
                out.push(v);
            }
            grid.push(out);
        }
        if failed {
            return None;
        }
        let mut joined = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let mut acc: Option<ValueId> = None;
            for (j, block) in row.iter().enumerate() {
                let b = match grid[i][j] {
                    Some(b) => b,
                    None => self.zero_block(&grid, i, j, block)?,
                };
                acc = Some(match acc {
                    None => b,
                    Some(a) => self.rule(&symbol::HSTACK, vec![a, b], e.span()),
                });
            }
            joined.push(acc?);
        }
        let mut rows = joined.into_iter();
        let first = rows.next();
        rows.fold(first, |a, b| a.map(|a| self.rule(&symbol::VSTACK, vec![a, b], e.span())))
    }

    /// The zero block `0` at block (i, j) of `stack!`: a constant of the height of a block of
    /// row i and the width of a block of column j.
    fn zero_block(&mut self, grid: &[Vec<Option<ValueId>>], i: usize, j: usize, block: &Expr) -> Option<ValueId> {
        let height = grid[i].iter().flatten().next().copied();
        let width = grid.iter().filter_map(|r| r.get(j).copied().flatten()).next();
        let (Some(h), Some(w)) = (height, width) else {
            self.cx.error_spanned_by(block, "the size of this zero block cannot be inferred: its block row and its block column need a block that is not `0` (or write it as a matrix, `DMatrix::zeros(r, c)`)");
            return None;
        };
        let written = |v: &Value| match &v.kind {
            Kind::Inline(t) => quote!((#t)),
            _ => v.ident.to_token_stream(),
        };
        let (hi, wi) = (written(&self.values[h]), written(&self.values[w]));
        let tokens = quote_spanned!(block.span()=> ::matgrad::__private::zero_block(&#hi, &#wi));
        Some(self.node(Op::Opaque { tokens, inputs: vec![h, w] }, false, block.span()))
    }

    /// An operand of a rule; a constant one (`powi`'s exponent) must not be differentiated.
    fn operand(&mut self, a: &Expr, adj: Adj) -> Option<ValueId> {
        if adj == Adj::Constant {
            return self.opaque(a, Construct::ConstantArg);
        }
        self.expr(a)
    }

    fn call(&mut self, e: &Expr, c: &syn::ExprCall) -> Option<ValueId> {
        let Expr::Path(p) = &*c.func else {
            return self.opaque(e, Construct::Call(None));
        };
        let segs = &p.path.segments;
        let last = segs.last().map(|s| s.ident.to_string()).unwrap_or_default();
        let helper = match (segs.len(), segs.first()) {
            (2, Some(first)) if first.ident == "matgrad" => symbol::helper(&last, c.args.len()),
            _ => None,
        };
        let from_diagonal = segs.len() >= 2 && last == "from_diagonal" && c.args.len() == 1;
        if let Some(rule) = helper.or(from_diagonal.then_some(&symbol::FROM_DIAGONAL)) {
            let args: Option<Vec<_>> = c.args.iter().map(|a| self.expr(a)).collect();
            return Some(self.rule(rule, args?, e.span()));
        }
        if segs.len() >= 2 {
            if let Some(rule) = symbol::scalar_fn(&last, c.args.len()) {
                let mut args = Vec::new();
                for (a, adj) in c.args.iter().zip(rule.adj) {
                    args.push(self.operand(a, *adj));
                }
                let args: Option<Vec<_>> = args.into_iter().collect();
                return Some(self.rule(rule, args?, e.span()));
            }
            if let Some(v) = self.constructor(e, c, &p.path) {
                return v;
            }
            if symbol::CONSTRUCTORS.contains(&last.as_str()) {
                return self.opaque(e, Construct::Constructor(&p.path));
            }
        }
        // A call on constants is one; std and nalgebra functions have no pullback.
        if p.qself.is_some() || !self.reads_active(e) || segs.len() > 1 && symbol::is_std_path(&p.path) {
            return self.opaque(e, Construct::Call(Some(&p.path)));
        }
        // A function differentiated through its pullback (composition).
        let mut args = Vec::new();
        let mut by_ref = Vec::new();
        for a in &c.args {
            by_ref.push(matches!(a, Expr::Reference(r) if r.mutability.is_none()));
            args.push(self.expr(a));
        }
        let args: Vec<ValueId> = args.into_iter().collect::<Option<_>>()?;
        let spans = c.args.iter().map(|a| a.span()).collect();
        let active = args.iter().any(|&a| self.values[a].active);
        let op = Op::Call { func: p.path.clone(), args, by_ref, spans };
        Some(self.node(op, active, e.span()))
    }

    fn map(&mut self, e: &Expr, m: &ExprMethodCall) -> Option<ValueId> {
        // `m.map(f)` is `m.map(|v| f(v))`.
        let synthesized: syn::ExprClosure;
        let arg = match &m.args[0] {
            Expr::Path(p) if p.qself.is_none() => {
                let v = Ident::new("v", p.span());
                synthesized = syn::parse_quote_spanned!(p.span()=> |#v| #p(#v));
                &synthesized
            }
            Expr::Closure(cl) => cl,
            other => {
                self.cx.error_spanned_by(
                    other,
                    "`map` takes a closure or a function name here: write `m.map(|v| f(v))` so that its derivative can be derived",
                );
                return None;
            }
        };
        let cl = arg;
        if self.closure.is_some() {
            self.cx.error_spanned_by(e, "`map` inside a `map` closure is not supported: compute what the inner `map` reduces to before the outer one (`let s = m.map(|w| …).sum();`) and use that scalar inside");
            return None;
        }
        let input = self.receiver(&m.receiver)?;
        let pat = match (cl.inputs.first(), cl.inputs.len()) {
            (Some(Pat::Type(t)), 1) => &*t.pat,
            (Some(p), 1) => p,
            _ => {
                self.cx.error_spanned_by(&cl.inputs, "a `map` closure takes one entry: write `|v| …`");
                return None;
            }
        };
        let Pat::Ident(pat) = pat else {
            self.cx.error_spanned_by(pat, "a `map` closure's parameter must be a plain name: write `|v| …`");
            return None;
        };
        let name = pat.ident.clone();
        self.map_node(e, input, &name.to_string(), name.span(), &cl.body, None, None)
    }

    /// `x.zip_map(&y, |a, b| body)`: a `map` over two matrices of the same shape, the derivative
    /// of `body` with respect to each entry derived as for `map`.
    fn zip_map(&mut self, e: &Expr, m: &ExprMethodCall) -> Option<ValueId> {
        let Expr::Closure(cl) = &m.args[1] else {
            self.cx.error_spanned_by(
                &m.args[1],
                "`zip_map` takes a closure here: write `x.zip_map(&y, |a, b| …)` so that its derivative can be derived",
            );
            return None;
        };
        if self.closure.is_some() {
            self.cx.error_spanned_by(
                e,
                "`zip_map` inside a `map` closure is not supported: compute it before the closure",
            );
            return None;
        }
        let name = |p: &Pat| match p {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            Pat::Wild(w) => Some(format_ident!("__entry", span = w.span())),
            _ => None,
        };
        let names: Vec<Ident> = cl
            .inputs
            .iter()
            .filter_map(|p| match p {
                Pat::Type(t) => name(&t.pat),
                p => name(p),
            })
            .collect();
        let [a, b] = &names[..] else {
            self.cx
                .error_spanned_by(&cl.inputs, "a `zip_map` closure takes two entries, plain names: write `|a, b| …`");
            return None;
        };
        let x = self.expr(&m.receiver);
        let y = self.expr(&m.args[0]);
        self.map_node(e, x?, &a.to_string(), a.span(), &cl.body, None, Some((y?, b)))
    }

    /// `input.map(|name| body)`; with `at`, the entry's row and column bound to those names
    /// (constants) as in `from_fn(|i, j| body)`; with `second`, the entry of a second matrix
    /// bound to its name as in `input.zip_map(&y, |name, b| body)`.
    #[allow(clippy::too_many_arguments)]
    fn map_node(
        &mut self,
        e: &Expr,
        input: ValueId,
        name: &str,
        span: Span,
        body: &Expr,
        at: Option<[Ident; 2]>,
        second: Option<(ValueId, &Ident)>,
    ) -> Option<ValueId> {
        let active_in = self.values[input].active;
        let param = self.fresh(name, Kind::ClosureParam, active_in, span);
        let outer_stmts = std::mem::take(&mut self.stmts);
        let mut scope = vec![(name.to_string(), param)];
        let second = second.map(|(y, b)| {
            let p = self.fresh(&b.to_string(), Kind::ClosureParam, self.values[y].active, b.span());
            scope.push((b.to_string(), p));
            (y, p)
        });
        for i in at.iter().flatten() {
            scope.push((i.to_string(), self.inline(i.to_token_stream(), i.span())));
        }
        self.scopes.push(scope);
        self.closure = Some(Frame { base: self.scopes.len() - 1, captures: Vec::new() });
        let ret = self.expr(body);
        let frame = self.closure.take();
        self.scopes.pop();
        let stmts = std::mem::replace(&mut self.stmts, outer_stmts);
        let captures = frame.map(|f| f.captures).unwrap_or_default();
        let active = active_in
            || second.is_some_and(|(y, _)| self.values[y].active)
            || captures.iter().any(|&c| self.values[c].active);
        let at = at.map(|[i, j]| quote!(#i, #j));
        let body = Body { stmts, ret: Some(ret?), bound: Vec::new() };
        let closure = Closure { param, captures, body, at, second, value_of: None };
        Some(self.node(Op::Map { input, closure: Box::new(closure) }, active, e.span()))
    }

    /// An expression the macro has no rule for: kept verbatim as a constant when it reads no
    /// differentiated value, an error otherwise.
    /// `e` with its variables renamed, the values it reads as values and for their shape.
    fn renamed(&mut self, e: &Expr, const_fields: bool) -> (Expr, Vec<ValueId>, Vec<ValueId>) {
        let mut copy = e.clone();
        self.touched_poison = false;
        let mut r = Renamer::new(self);
        r.const_fields = const_fields;
        r.visit_expr_mut(&mut copy);
        let (reads, shape_reads) = (r.reads, r.shape_reads);
        (copy, reads, shape_reads)
    }

    fn opaque(&mut self, e: &Expr, what: Construct) -> Option<ValueId> {
        let (mut copy, mut reads, mut shape_reads) = self.renamed(e, false);
        if self.touched_poison {
            return None; // already reported where the name was bound
        }
        if let Some(&bad) = reads.iter().find(|&&id| self.values[id].active) {
            // A constant may read skipped fields of a differentiated struct.
            let (c, r, s) = self.renamed(e, true);
            if r.iter().any(|&id| self.values[id].active) {
                let name = self.user_name(bad);
                self.cx.push(messages::not_differentiable(e, &what, &name));
                return None;
            }
            (copy, reads, shape_reads) = (c, r, s);
        }
        if reads.is_empty() && shape_reads.is_empty() && matches!(e, Expr::Lit(_) | Expr::Path(_)) {
            return Some(self.inline(copy.to_token_stream(), e.span()));
        }
        let mut inputs = reads;
        inputs.extend(shape_reads);
        let tokens = copy.to_token_stream();
        if matches!(what, Construct::Statement) {
            self.stmts.push(Stmt::Effect { tokens: quote!(#tokens;), inputs });
            return None;
        }
        Some(self.node(Op::Opaque { tokens: quote!(#tokens), inputs }, false, e.span()))
    }

    fn user_name(&self, id: ValueId) -> String {
        let id = crate::ir::outer_of(&self.values, id);
        for scope in self.scopes.iter().rev() {
            if let Some((n, _)) = scope.iter().rev().find(|(_, v)| *v == id) {
                return n.clone();
            }
        }
        "a differentiated value".to_string()
    }
}

/// Whether `e` is a place (`x`, `xs[k]`, `s.f`, `*r`), with the variable it lives in (`None`
/// behind a deref, which points elsewhere); `None` for a value expression (a temporary).
fn place(e: &Expr) -> Option<Option<&Ident>> {
    match e {
        Expr::Path(p) if p.qself.is_none() => Some(p.path.get_ident()),
        Expr::Index(i) => place(&i.expr),
        Expr::Field(f) => place(&f.base),
        Expr::Paren(p) => place(&p.expr),
        Expr::Group(g) => place(&g.expr),
        Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => Some(None),
        _ => None,
    }
}

/// Whether a method call is (or ends) a chain of iterator methods: `iter()`, `map(…)`, ….
fn iterator_chain(m: &ExprMethodCall) -> bool {
    let mut cur = Some(m);
    while let Some(c) = cur {
        if messages::is_iterator_method(&c.method) {
            return true;
        }
        cur = match &*c.receiver {
            Expr::MethodCall(inner) => Some(inner),
            _ => None,
        };
    }
    false
}

/// The op of a compound assignment (`+=` is `+`).
fn compound(op: &BinOp) -> Option<&'static Rule> {
    match op {
        BinOp::AddAssign(_) => Some(&symbol::ADD),
        BinOp::SubAssign(_) => Some(&symbol::SUB),
        BinOp::MulAssign(_) => Some(&symbol::MUL),
        BinOp::DivAssign(_) => Some(&symbol::DIV),
        _ => None,
    }
}
