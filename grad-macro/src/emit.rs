//! Emission: the `_grad` function, forward pass then reverse sweep, as ordinary Rust calling
//! `::matgrad::__private`. Every statement carries the span of the user's expression, so a type
//! or shape error is reported there.
//!
//! Input:
//! ```ignore
//! #[differentiate(wrt(w))]
//! fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>) -> f64 {
//!     let z = x * w;
//!     z.norm_squared()
//! }
//! ```
//! Output (paths shortened):
//! ```ignore
//! fn loss_grad(w: &DMatrix<f64>, x: &DMatrix<f64>) -> (f64, DMatrix<f64>) {
//!     let z_2 = by_ref(x) * by_ref(w);
//!     let t_3 = by_ref(&z_2).norm_squared();
//!     let d_t_3 = init(one::<f64>());
//!     let d_z_2 = init(norm_squared_adj(z_2, d_t_3));
//!     let d_w = init(mul_rhs(x, w, &d_z_2));
//!     (t_3, d_w)
//! }
//! ```
//! Buffers are reused where the maths allows: a forward value that the reverse sweep reads last
//! in a rule that can compute in its buffer (`Rule::owning`) is moved there, as is the
//! adjoint at its last use (`2 z` above is computed in `z`'s buffer); the terms of a sum borrow
//! its adjoint; the adjoint of `-x` or `c - x` is kept negated so that the sign costs no pass.
//! Those decisions are the reverse plan's ([`Plan`]), as is where each adjoint starts (bound by
//! a consumer's first contribution, or zeros before a branch or loop); emission prints them.
//!
//! Split along the seams of `lower`: this module holds the entry points and the core (values
//! as operands, nodes forward, their rules' adjoints in the reverse sweep); [`control`] the
//! branches and loops with their tapes; [`closures`] the `map` closures, their partials and
//! lanes; [`fields`] the field paths of struct parameters and their gradients.

mod closures;
mod control;
mod fields;

use std::cell::RefCell;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

use crate::check::Signature;
use crate::ir::{Body, CallSpans, Kind, Node, Op, Stmt, Value, ValueId};
use crate::lower::Lowered;
use crate::passes::share::InverseAt;
use crate::passes::storage::{self, Via};
use crate::reverse::{self, Consumer, Plan};
use crate::symbol::{self, Adj, Fwd, Rule};

/// The parts of `<name>_pullback`: the forward pass, the reverse sweep, the value and the
/// gradients of `wrt`.
pub struct Parts {
    /// Items the code needs (the enums that record which arm of a branch ran).
    pub items: TokenStream,
    pub forward: TokenStream,
    /// The reverse sweep, starting from the result's adjoint `seed`.
    pub reverse: TokenStream,
    pub value: TokenStream,
    pub grads: Vec<TokenStream>,
}

/// Emits the function's forward pass and reverse sweep; the result's adjoint is `seed`.
/// `lanes`: a differentiated `map` whose closure has a lane form is evaluated over lanes (see
/// [`Emitter::lane_body`]); false for a function generic over its scalar type.
pub fn pullback_parts(sig: &Signature, low: &Lowered, seed: &Ident, lanes: bool) -> Parts {
    let em = Emitter::new(&low.values, lanes);
    em.field_traits(low);
    let mut wrt: Vec<ValueId> = sig.wrt.iter().map(|&i| low.params[i]).collect();
    wrt.extend(low.fields.iter().map(|f| f.value));
    let (body_forward, reverse, value, mut grads) = em.function(&low.body, Some(quote!(#seed)), &wrt);
    let field_grads = grads.split_off(sig.wrt.len());
    let mut forward = em.field_bindings(sig, low);
    forward.extend(body_forward);
    let grads = sig.wrt.iter().zip(grads).map(|(&i, g)| em.gradient(low, i, g, &field_grads)).collect();
    let items = em.items.into_inner();
    Parts { items: quote!(#(#items)*), forward, reverse, value, grads }
}

/// The forward pass alone of `low` (every value inactive: the tangent program of `_jvp`), and
/// its result. Maps run on the scalar path: `_jvp`'s value is the function's, bit for bit.
pub fn forward_parts(low: &Lowered) -> (TokenStream, TokenStream, TokenStream) {
    let em = Emitter::new(&low.values, false);
    em.field_traits(low);
    let (body, _, value, _) = em.function(&low.body, None, &[]);
    let mut forward = em.program_field_bindings(low);
    forward.extend(body);
    let items = em.items.into_inner();
    (quote!(#(#items)*), forward, value)
}

/// Forward pass and reverse sweep of `low` for the adjoints of the values `wrt` (zeros where
/// none arrived), the result's adjoint being `seed`: `_hvp` on the tangent program. A struct
/// (tuple) parameter's gradient gathers the adjoints of its field paths.
pub fn pullback_parts_of(low: &Lowered, wrt: &[ValueId], seed: &Ident) -> Parts {
    let em = Emitter::new(&low.values, false);
    em.field_traits(low);
    let mut all = wrt.to_vec();
    all.extend(low.fields.iter().map(|f| f.value));
    let (body, reverse, value, mut grads) = em.function(&low.body, Some(quote!(#seed)), &all);
    let field_grads = grads.split_off(wrt.len());
    let mut forward = em.program_field_bindings(low);
    forward.extend(body);
    let grads = wrt
        .iter()
        .zip(grads)
        .map(|(&w, g)| match low.params.iter().position(|&p| p == w) {
            Some(i) => em.gradient(low, i, g, &field_grads),
            None => g.unwrap_or_else(|| em.zeros(w)),
        })
        .collect();
    let items = em.items.into_inner();
    Parts { items: quote!(#(#items)*), forward, reverse, value, grads }
}

struct Emitter<'a> {
    values: &'a [Value],
    /// Items emitted at the top of the function.
    items: RefCell<Vec<TokenStream>>,
    /// Whether the code reads a value through `AsValue` (its `use` is among the items).
    uses_as_value: std::cell::Cell<bool>,
    /// Whether differentiated maps may be evaluated over lanes (the scalar type is concrete).
    lanes: bool,
}

impl<'a> Emitter<'a> {
    fn new(values: &'a [Value], lanes: bool) -> Self {
        Emitter { values, items: RefCell::new(Vec::new()), uses_as_value: Default::default(), lanes }
    }
}

impl Emitter<'_> {
    fn ident(&self, v: ValueId) -> &Ident {
        &self.values[v].ident
    }

    fn adj(&self, v: ValueId) -> Ident {
        format_ident!("d_{}", self.values[v].ident, span = Span::mixed_site())
    }

    /// `v` as a reference, as the rules take it.
    fn reference(&self, v: ValueId) -> TokenStream {
        let val = &self.values[v];
        let (i, span) = (&val.ident, val.span);
        match &val.kind {
            Kind::Inline(t) => quote_spanned!(span=> &(#t)),
            _ if val.borrowed => self.as_value(i, span),
            _ if val.is_ref() => i.to_token_stream(),
            _ => quote_spanned!(span=> &#i),
        }
    }

    /// `v` as an operand of an operator or method: scalars by value, matrices by reference,
    /// or moved (`move_it`) at their last use. It carries `span`, the user's expression that
    /// reads it, so a type error is reported there.
    fn operand(&self, v: ValueId, move_it: bool, span: Span) -> TokenStream {
        let val = &self.values[v];
        let i = &val.ident;
        match &val.kind {
            Kind::Inline(t) => t.clone(),
            _ if val.borrowed => {
                let r = self.as_value(i, span);
                quote_spanned!(span=> ::matgrad::__private::by_ref(#r))
            }
            _ if move_it => quote!(#i),
            _ if val.is_ref() => quote_spanned!(span=> ::matgrad::__private::by_ref(#i)),
            _ => quote_spanned!(span=> ::matgrad::__private::by_ref(&#i)),
        }
    }

    /// `i.as_value()`: a reference to the value `i` holds or refers to, through auto-deref.
    fn as_value(&self, i: &Ident, span: Span) -> TokenStream {
        if !self.uses_as_value.replace(true) {
            self.items.borrow_mut().push(quote!(
                use ::matgrad::__private::AsValue as _;
            ));
        }
        quote_spanned!(span=> #i.as_value())
    }

    /// `v` as a plain value (an index, an integer exponent, the result).
    fn plain(&self, v: ValueId) -> TokenStream {
        let val = &self.values[v];
        let (i, span) = (&val.ident, val.span);
        match &val.kind {
            Kind::Inline(t) => t.clone(),
            _ if val.is_ref() => quote_spanned!(span=> *#i),
            _ => quote!(#i),
        }
    }

    /// Forward pass and reverse sweep of a function's (or closure's) `body`, seeding its
    /// result's adjoint with `seed` (no reverse sweep without a seed: a `map` whose result no
    /// gradient reads). Returns the forward code, the reverse code, the result, and the
    /// adjoints of `wrt` (`None` where none arrived).
    fn function(
        &self,
        body: &Body,
        seed: Option<TokenStream>,
        wrt: &[ValueId],
    ) -> (TokenStream, TokenStream, TokenStream, Vec<Option<TokenStream>>) {
        let plan = reverse::plan(self.values, body);
        let forward = self.block_forward(body, &plan, body.ret);
        let mut rev = TokenStream::new();
        let swept = seed.is_some();
        if let Some(seed) = seed {
            if let Some(ret) = body.ret.filter(|&r| self.values[r].active) {
                rev.extend(self.accumulate(ret, seed, &plan, &mut Site::new(Consumer::Seed)));
            }
            rev.extend(self.block_reverse(body, &plan));
        }
        let value = match body.ret {
            Some(r) if plan.rev_needed[r] || self.values[r].is_ref() => self.cloned(r),
            Some(r) => self.plain(r),
            None => quote!(::core::unreachable!()),
        };
        let grads = wrt.iter().map(|&w| (swept && plan.started(w)).then(|| self.adj(w).to_token_stream())).collect();
        (forward, rev, value, grads)
    }

    /// A closure's body: forward pass and reverse sweep in one.
    fn body(
        &self,
        body: &Body,
        seed: Option<TokenStream>,
        wrt: &[ValueId],
    ) -> (TokenStream, TokenStream, Vec<TokenStream>) {
        let (mut code, rev, value, grads) = self.function(body, seed, wrt);
        code.extend(rev);
        let grads = wrt.iter().zip(grads).map(|(&w, g)| g.unwrap_or_else(|| self.zeros(w))).collect();
        (code, value, grads)
    }

    /// A copy of `v` (an owned value from a reference, or a clone of a value still needed).
    fn cloned(&self, v: ValueId) -> TokenStream {
        let val = &self.values[v];
        let (i, span) = (&val.ident, val.span);
        match &val.kind {
            Kind::Inline(t) => t.clone(),
            _ if val.is_ref() => quote_spanned!(span=> ::core::clone::Clone::clone(#i)),
            _ => quote_spanned!(span=> ::core::clone::Clone::clone(&#i)),
        }
    }

    fn block_forward(&self, body: &Body, plan: &Plan, ret: Option<ValueId>) -> TokenStream {
        let key = body.key();
        let stmts = &body.stmts;
        let fused =
            |a: &Stmt, t: &Stmt| matches!((a, t), (Stmt::Node(a), Stmt::Node(t)) if plan.fused[a.out] == Some(t.out));
        (0..stmts.len())
            .map(|i| match (&stmts[i], stmts.get(i + 1)) {
                (Stmt::Node(a), Some(Stmt::Node(t))) if fused(&stmts[i], &stmts[i + 1]) => {
                    self.forward_fused(a, t, (key, i + 1), plan, ret)
                }
                // (computed with the map before it)
                (t, _) if i > 0 && fused(&stmts[i - 1], t) => TokenStream::new(),
                (stmt, _) => self.forward(stmt, (key, i), plan, ret),
            })
            .collect()
    }

    fn block_reverse(&self, body: &Body, plan: &Plan) -> TokenStream {
        let mut code = TokenStream::new();
        for stmt in body.stmts.iter().rev() {
            match stmt {
                Stmt::Node(node) => code.extend(self.reverse(node, plan)),
                Stmt::Effect { .. } => {}
                Stmt::Branch(b) => code.extend(self.reverse_branch(stmt, b, plan)),
                Stmt::Loop(l) => code.extend(self.reverse_loop(stmt, l, plan)),
            }
        }
        code
    }

    fn forward(&self, stmt: &Stmt, at: (usize, usize), plan: &Plan, ret: Option<ValueId>) -> TokenStream {
        let node = match stmt {
            Stmt::Effect { tokens, .. } => return tokens.clone(),
            Stmt::Node(node) => node,
            Stmt::Branch(b) => return self.forward_branch(stmt, b, at, plan),
            Stmt::Loop(l) => return self.forward_loop(stmt, l, at, plan),
        };
        // A value nothing reads is still computed, as the user's function computes it (and
        // panics where it panics), but not bound.
        let out = match plan.read[node.out] {
            true => self.ident(node.out).to_token_stream(),
            false => quote!(_),
        };
        let ty = node.ty.as_ref().map(|t| quote!(: #t));
        let span = node.span;
        let value = match &node.op {
            Op::Rule { rule, args } => self.forward_rule(rule, args, span, node.call.as_ref(), |k| {
                storage::movable(self.values, plan, ret, args, k, at)
            }),
            Op::Opaque { tokens, .. } => tokens.clone(),
            Op::Map { input, closure } => {
                if plan.participates(self.values, node.out) {
                    // (not when the second matrix of a `zip_map` is the same value)
                    let read: Vec<ValueId> = std::iter::once(*input).chain(closure.second.map(|(y, _)| y)).collect();
                    let move_input = storage::movable(self.values, plan, ret, &read, 0, at);
                    return self.forward_map_d(node, *input, closure, move_input);
                }
                let x = self.operand(*input, false, span);
                let p = self.ident(closure.param);
                let (code, y, _) = self.body(&closure.body, None, &[]);
                match (&closure.at, closure.second) {
                    (Some(at), _) => quote_spanned!(span=> #x.map_with_location(|#at, #p| { #code #y })),
                    (None, Some((other, b))) => {
                        let (other, b) = (self.reference(other), self.ident(b));
                        quote_spanned!(span=> #x.zip_map(#other, |#p, #b| { #code #y }))
                    }
                    (None, None) => quote_spanned!(span=> #x.map(|#p| { #code #y })),
                }
            }
            Op::Call { func, args, by_ref, spans } => {
                let argv = args.iter().enumerate().map(|(k, &a)| {
                    let moved = storage::movable(self.values, plan, ret, args, k, at);
                    self.call_arg(a, by_ref[k], moved, spans[k])
                });
                let argv: Vec<TokenStream> = argv.collect();
                quote_spanned!(span=> #func(#(#argv),*))
            }
        };
        quote_spanned!(span=> let #out #ty = #value;)
    }

    /// An argument of a call, as the user wrote it (`&x` or `x`); a value still needed
    /// afterwards is cloned rather than moved.
    fn call_arg(&self, v: ValueId, by_ref: bool, moved: bool, span: Span) -> TokenStream {
        let val = &self.values[v];
        let i = &val.ident;
        match &val.kind {
            Kind::Inline(t) if by_ref => quote_spanned!(span=> &(#t)),
            Kind::Inline(t) => t.clone(),
            // `&x` of a reference parameter is the parameter itself (with its lifetime).
            _ if by_ref && val.is_ref() => quote_spanned!(span=> #i),
            _ if by_ref => quote_spanned!(span=> &#i),
            _ if val.is_ref() || moved => quote_spanned!(span=> #i),
            _ => quote_spanned!(span=> ::core::clone::Clone::clone(&#i)),
        }
    }

    fn forward_rule(
        &self,
        rule: &Rule,
        args: &[ValueId],
        span: Span,
        call: Option<&CallSpans>,
        movable: impl Fn(usize) -> bool,
    ) -> TokenStream {
        let op = |k: usize| self.operand(args[k], movable(k), span);
        match rule.fwd {
            Fwd::Add => {
                let (a, b) = (op(0), op(1));
                quote_spanned!(span=> #a + #b)
            }
            Fwd::Sub => {
                let (a, b) = (op(0), op(1));
                quote_spanned!(span=> #a - #b)
            }
            Fwd::Mul => {
                let (a, b) = (op(0), op(1));
                quote_spanned!(span=> #a * #b)
            }
            Fwd::Div => {
                let (a, b) = (op(0), op(1));
                quote_spanned!(span=> #a / #b)
            }
            Fwd::Neg => {
                let a = op(0);
                quote_spanned!(span=> -#a)
            }
            Fwd::TraceOfProduct => {
                let (a, b) = (op(0), op(1));
                quote_spanned!(span=> (#a * #b).trace())
            }
            // The transpose named at the user's `transpose` (the fused node's call spans).
            Fwd::TransposeMul => {
                let (x, b) = (self.operand(args[0], false, span), op(1));
                let t = Ident::new("transpose", call.map_or(span, |c| c.method));
                quote_spanned!(span=> #x.#t() * #b)
            }
            Fwd::MulTranspose => {
                let (a, x) = (op(0), self.operand(args[1], false, span));
                let t = Ident::new("transpose", call.map_or(span, |c| c.method));
                quote_spanned!(span=> #a * #x.#t())
            }
            Fwd::Tuple => {
                let parts = (0..args.len()).map(|k| match movable(k) {
                    true => self.ident(args[k]).to_token_stream(),
                    false => self.cloned(args[k]),
                });
                quote_spanned!(span=> (#(#parts,)*))
            }
            Fwd::Ref => self.reference(args[0]),
            Fwd::AdjType => {
                let r = self.reference(args[0]);
                quote_spanned!(span=> ::matgrad::__private::adj_type(#r))
            }
            Fwd::Deref => {
                let r = self.reference(args[0]);
                quote_spanned!(span=> *#r)
            }
            Fwd::Index => {
                let (m, idx) = (self.operand(args[0], false, span), self.plain(args[1]));
                quote_spanned!(span=> #m[#idx])
            }
            Fwd::Element => {
                // A collection held by value is indexed in place (`&vs[k]`), one held by
                // reference through it.
                let val = &self.values[args[0]];
                let c = match val.kind {
                    Kind::Param { is_ref: false } | Kind::Node if !val.borrowed => val.ident.to_token_stream(),
                    _ => self.reference(args[0]),
                };
                let idx = self.plain(args[1]);
                let c = proc_macro2::Group::new(proc_macro2::Delimiter::None, c);
                quote_spanned!(span=> &#c[#idx])
            }
            Fwd::Method(name) => self.method_call(rule, name, args, false, None, (span, call), &movable),
            Fwd::Consume(name) => self.method_call(rule, name, args, true, None, (span, call), &movable),
            Fwd::Turbofish(name) => {
                let n = rule.adj.len();
                let fish = args.get(n).map(|&t| self.plain(t));
                self.method_call(rule, name, &args[..n], false, fish, (span, call), &movable)
            }
            Fwd::Field { name, field } => {
                let call = self.method_call(rule, name, args, true, None, (span, call), &movable);
                let field = Ident::new(field, span);
                quote_spanned!(span=> #call.#field)
            }
            Fwd::FieldUnwrap { name, field } => {
                let n = rule.adj.len();
                let call = self.method_call(rule, name, &args[..n], true, None, (span, call), &movable);
                let field = Ident::new(field, span);
                match args.get(n) {
                    Some(&msg) => {
                        let msg = self.plain(msg);
                        quote_spanned!(span=> #call.#field.expect(#msg))
                    }
                    None => quote_spanned!(span=> #call.#field.unwrap()),
                }
            }
            Fwd::Unwrap { name, consume } => {
                let n = rule.adj.len();
                let call = self.method_call(rule, name, &args[..n], consume, None, (span, call), &movable);
                match args.get(n) {
                    Some(&msg) => {
                        let msg = self.plain(msg);
                        quote_spanned!(span=> #call.expect(#msg))
                    }
                    None => quote_spanned!(span=> #call.unwrap()),
                }
            }
            Fwd::Runtime(name) => {
                let moves_first = rule.moves_first;
                let name = Ident::new(name, span);
                let all = args.iter().zip(rule.adj).enumerate().map(|(k, (&a, adj))| match adj {
                    Adj::Constant => self.plain(a),
                    // (a view is not owned: it is lent)
                    _ => self.operand(a, k == 0 && moves_first && self.values[a].owned && movable(k), span),
                });
                quote_spanned!(span=> ::matgrad::__private::#name(#(#all),*))
            }
        }
    }

    /// `recv.name(args…)`, or `recv.name::<…>(args…)` with `fish`; a receiver the method
    /// consumes is moved when dead, cloned otherwise (`take`: a factorization is lent). Constant arguments (indices, exponents)
    /// are written as plain values.
    #[allow(clippy::too_many_arguments)]
    fn method_call(
        &self,
        rule: &Rule,
        name: &str,
        args: &[ValueId],
        consume: bool,
        fish: Option<TokenStream>,
        (span, call): (Span, Option<&CallSpans>),
        movable: &impl Fn(usize) -> bool,
    ) -> TokenStream {
        // The name and each argument with the user's spans (see `CallSpans`).
        let name = Ident::new(name, call.map_or(span, |c| c.method));
        let recv = match (&self.values[args[0]].kind, consume) {
            (Kind::Inline(_), _) | (_, false) => self.operand(args[0], false, span),
            _ if movable(0) => self.ident(args[0]).to_token_stream(),
            _ => {
                let r = self.reference(args[0]);
                quote_spanned!(span=> ::matgrad::__private::take(#r))
            }
        };
        let rest = args.iter().zip(rule.adj).enumerate().skip(1).map(|(k, (&a, adj))| match adj {
            Adj::Constant => self.plain(a),
            _ => self.operand(a, false, call.and_then(|c| c.args.get(k - 1).copied()).unwrap_or(span)),
        });
        quote_spanned!(span=> #recv.#name #fish (#(#rest),*))
    }

    /// `contrib` added to `target`'s adjoint by `site`'s consumer: bound by its first
    /// contribution where the plan starts the adjoint there, added in place otherwise.
    fn accumulate(&self, target: ValueId, contrib: TokenStream, plan: &Plan, site: &mut Site) -> TokenStream {
        let d = self.adj(target);
        let contrib = match plan.negated[target] {
            true => quote!(::matgrad::__private::Neg(#contrib)),
            false => contrib,
        };
        if !site.binds(plan, target) {
            return quote!(::matgrad::__private::add_to(&mut #d, #contrib););
        }
        let m = (plan.contribs[target] > 1).then(|| quote!(mut));
        quote!(let #m #d = ::matgrad::__private::init(#contrib);)
    }

    /// The inverse a node's adjoints read, as a reference: the function's own, or the one shared
    /// by the sweep, computed here (into `code`) for the first rule that reads it.
    fn inverse(&self, at: InverseAt, code: &mut TokenStream) -> TokenStream {
        match at {
            InverseAt::Forward(v) => self.reference(v),
            InverseAt::Compute(f) | InverseAt::Shared(f) => {
                let inv = format_ident!("{}_inv", self.ident(f), span = Span::mixed_site());
                if let InverseAt::Compute(_) = at {
                    let f = self.reference(f);
                    code.extend(quote!(let #inv = ::matgrad::__private::factor_inverse(#f);));
                }
                quote!(&#inv)
            }
        }
    }

    fn reverse(&self, node: &Node, plan: &Plan) -> TokenStream {
        if !plan.participates(self.values, node.out) || !plan.started(node.out) {
            return TokenStream::new();
        }
        let site = &mut Site::new(Consumer::Node(node.out));
        let g = self.adj(node.out);
        // Ḡ as a reference (it already is one when it aliases the adjoint of a sum).
        let g_ref = if plan.alias[node.out] { quote!(#g) } else { quote!(&#g) };
        let span = node.span;
        let mut code = TokenStream::new();
        match &node.op {
            Op::Rule { rule, args } => {
                let adjs = plan.adjoints(rule, node.out);
                // The product `P` of a left factor whose adjoint is kept as `s̄`.
                let product = plan.traced[node.out].map(|p| {
                    let p = self.reference(p);
                    quote!(#p,)
                });
                let inverse = plan.inverse[node.out].map(|at| self.inverse(at, &mut code));
                let g_moved = quote!(#g);
                for c in plan.contributions.get(&node.out).into_iter().flatten() {
                    let (k, arg) = (c.slot, c.target);
                    let contrib = match &c.via {
                        Via::TraceIdentity => quote_spanned!(span=> ::matgrad::__private::trace_identity(#g_ref)),
                        Via::Rule { f, moved, out_moved, moves_g } => {
                            let pass = |v: ValueId, moved: bool| match moved {
                                true => self.ident(v).to_token_stream(),
                                false => self.reference(v),
                            };
                            let refs = rule.adjoint_operands().into_iter().zip(moved).map(|(k, &m)| pass(args[k], m));
                            let out = rule.needs_out.then(|| {
                                let r = pass(node.out, *out_moved);
                                quote!(#r,)
                            });
                            let inv = inverse.as_ref().map(|inv| quote!(#inv,));
                            let g = if *moves_g { &g_moved } else { &g_ref };
                            let f = Ident::new(f, span);
                            quote_spanned!(span=> ::matgrad::__private::#f(#(#refs,)* #out #inv #product #g))
                        }
                        Via::OfAdjoint(f) => {
                            let f = Ident::new(f, span);
                            // The op's constant operands (indices) come first.
                            let consts = args
                                .iter()
                                .zip(adjs)
                                .filter(|(_, adj)| **adj == Adj::Constant)
                                .map(|(&a, _)| self.reference(a));
                            let contrib = quote_spanned!(span=> ::matgrad::__private::#f(#(#consts,)* #g_ref));
                            // In the operand's adjoint type (a `Vector3` set as a column of a `DMatrix`).
                            match symbol::adj_type_of(rule, args, k) {
                                Some(ty) => {
                                    let ty = self.plain(ty);
                                    quote!(::matgrad::__private::pass_as(#ty, #contrib))
                                }
                                None => contrib,
                            }
                        }
                        Via::Alias => {
                            let d = self.adj(arg);
                            // Ḡ read in the operand's adjoint type (borrowed where they agree).
                            code.extend(match symbol::adj_type_of(rule, args, k) {
                                Some(ty) => {
                                    let (ty, c) =
                                        (self.plain(ty), format_ident!("{}_as", d, span = Span::mixed_site()));
                                    quote!(let #c = ::matgrad::__private::alias_as(#ty, #g_ref); let #d = &*#c;)
                                }
                                None => quote!(let #d = #g_ref;),
                            });
                            continue;
                        }
                        Via::Pass { moves_g, neg } => {
                            let flow = match moves_g {
                                true => quote!(#g),
                                false => quote!(::matgrad::__private::shared(#g_ref)),
                            };
                            // Ḡ converted into the operand's adjoint type (moved where they agree).
                            let flow = match symbol::adj_type_of(rule, args, k) {
                                Some(ty) => {
                                    let ty = self.plain(ty);
                                    quote!(::matgrad::__private::pass_as(#ty, #flow))
                                }
                                None => flow,
                            };
                            match neg {
                                true => quote!(::matgrad::__private::Neg(#flow)),
                                false => flow,
                            }
                        }
                        // (a map's, listed for map nodes alone)
                        Via::Partial { .. } | Via::FusedMap { .. } => continue,
                    };
                    code.extend(self.accumulate(arg, contrib, plan, site));
                }
            }
            Op::Map { .. } => code.extend(self.reverse_map(node, plan, site)),
            Op::Call { func, args, by_ref, spans } => {
                // The callee's pullback, from the arguments and the value kept for the reverse pass.
                let argv = args.iter().enumerate().map(|(k, &a)| self.call_arg(a, by_ref[k], false, spans[k]));
                let f = pullback_path(func);
                let value = self.reference(node.out);
                let gs: Vec<TokenStream> = args
                    .iter()
                    .enumerate()
                    .map(|(k, &a)| match self.values[a].active {
                        // Spanned at the argument, so that a missing gradient is reported there
                        // (no user variable is named like this).
                        true => format_ident!("{}_g{}", self.ident(node.out), k, span = spans[k]).to_token_stream(),
                        false => quote!(_),
                    })
                    .collect();
                // The adjoint of a sum's term is the sum's, borrowed: the pullback takes its own.
                let g_owned = match plan.alias[node.out] {
                    true => quote!(::core::clone::Clone::clone(#g)),
                    false => quote!(#g),
                };
                code.extend(quote_spanned!(span=> let (#(#gs,)*) = #f(#(#argv,)* #value, #g_owned);));
                for (k, &a) in args.iter().enumerate() {
                    if self.values[a].active {
                        let gk = &gs[k];
                        let sp = spans[k];
                        let contrib = quote_spanned!(sp=> ::matgrad::__private::gradient(#gk));
                        code.extend(self.accumulate(a, contrib, plan, site));
                    }
                }
            }
            Op::Opaque { .. } => {}
        }
        code
    }
}

/// The contributions of one consumer (see [`Consumer`]), printed in the sweep's order.
struct Site {
    consumer: Consumer,
    /// The adjoints this consumer has bound.
    bound: Vec<ValueId>,
}

impl Site {
    fn new(consumer: Consumer) -> Self {
        Site { consumer, bound: Vec::new() }
    }

    /// Whether the contribution to `target` about to be printed binds its adjoint: the plan
    /// starts it at this consumer, and this is the consumer's first contribution to it.
    fn binds(&mut self, plan: &Plan, target: ValueId) -> bool {
        let first = plan.binds(target, self.consumer) && !self.bound.contains(&target);
        if first {
            self.bound.push(target);
        }
        first
    }
}

/// `f_pullback` for the path `f` (its generic arguments kept), spanned at `f`.
fn pullback_path(func: &syn::Path) -> syn::Path {
    let mut p = func.clone();
    if let Some(last) = p.segments.last_mut() {
        last.ident = format_ident!("{}_pullback", last.ident, span = last.ident.span());
    }
    p
}
