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
//! Those decisions are the reverse plan's ([`Plan`]), as are where each adjoint starts (bound by
//! a consumer's first contribution, or zeros before a branch or loop) and which values the
//! forward pass moves (`Plan::moves`, decided by `passes::storage`). The reverse sweep prints
//! the plan's reverse program ([`reverse::program`](crate::reverse::program)): the steps at each
//! site, each an adjoint op of operands read as the program says, binding or added to its
//! target.
//!
//! Split along the seams of `lower`: this module holds the entry points and the core (values
//! as operands, nodes forward, the reverse program's steps); [`control`] the
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
use crate::passes;
use crate::reverse::program::{Expr, InverseAt, Operand, Site, Step};
use crate::reverse::Plan;
use crate::symbol::{Adj, Fwd, Rule};

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
        let plan = passes::reverse(self.values, body);
        let forward = self.block_forward(body, &plan);
        let mut rev = TokenStream::new();
        let swept = seed.is_some();
        if let Some(seed) = seed {
            rev.extend(self.steps(plan.program.at(Site::Seed), None, Some(&seed)));
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

    fn block_forward(&self, body: &Body, plan: &Plan) -> TokenStream {
        let key = body.key();
        let stmts = &body.stmts;
        let fused =
            |a: &Stmt, t: &Stmt| matches!((a, t), (Stmt::Node(a), Stmt::Node(t)) if plan.fused[a.out] == Some(t.out));
        (0..stmts.len())
            .map(|i| match (&stmts[i], stmts.get(i + 1)) {
                (Stmt::Node(a), Some(Stmt::Node(t))) if fused(&stmts[i], &stmts[i + 1]) => {
                    self.forward_fused(a, t, plan)
                }
                // (computed with the map before it)
                (t, _) if i > 0 && fused(&stmts[i - 1], t) => TokenStream::new(),
                (stmt, _) => self.forward(stmt, (key, i), plan),
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

    fn forward(&self, stmt: &Stmt, at: (usize, usize), plan: &Plan) -> TokenStream {
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
            Op::Rule { rule, args } => {
                self.forward_rule(rule, args, span, node.call.as_ref(), |k| plan.moves(node.out, k))
            }
            Op::Opaque { tokens, .. } => tokens.clone(),
            Op::Map { input, closure } => {
                if plan.participates(self.values, node.out) {
                    // (not when the second matrix of a `zip_map` is the same value)
                    return self.forward_map_d(node, *input, closure, plan.moves(node.out, 0));
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
                let argv = args
                    .iter()
                    .enumerate()
                    .map(|(k, &a)| self.call_arg(a, by_ref[k], plan.moves(node.out, k), spans[k]));
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
        moved: impl Fn(usize) -> bool,
    ) -> TokenStream {
        let op = |k: usize| self.operand(args[k], moved(k), span);
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
                let (x, b) = (op(0), op(1));
                let t = Ident::new("transpose", call.map_or(span, |c| c.method));
                quote_spanned!(span=> #x.#t() * #b)
            }
            Fwd::MulTranspose => {
                let (a, x) = (op(0), op(1));
                let t = Ident::new("transpose", call.map_or(span, |c| c.method));
                quote_spanned!(span=> #a * #x.#t())
            }
            Fwd::Tuple => {
                let parts = (0..args.len()).map(|k| match moved(k) {
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
            Fwd::Member => {
                let s = self.reference(args[0]);
                let (s, member) = (proc_macro2::Group::new(proc_macro2::Delimiter::None, s), self.plain(args[1]));
                quote_spanned!(span=> &#s.#member)
            }
            Fwd::Method(name) => self.method_call(rule, name, args, false, None, (span, call), &moved),
            Fwd::Consume(name) => self.method_call(rule, name, args, true, None, (span, call), &moved),
            Fwd::Turbofish(name) => {
                let n = rule.adj.len();
                let fish = args.get(n).map(|&t| self.plain(t));
                self.method_call(rule, name, &args[..n], false, fish, (span, call), &moved)
            }
            Fwd::Field { name, field } => {
                let call = self.method_call(rule, name, args, true, None, (span, call), &moved);
                let field = Ident::new(field, span);
                quote_spanned!(span=> #call.#field)
            }
            Fwd::FieldUnwrap { name, field } => {
                let n = rule.adj.len();
                let call = self.method_call(rule, name, &args[..n], true, None, (span, call), &moved);
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
                let call = self.method_call(rule, name, &args[..n], consume, None, (span, call), &moved);
                match args.get(n) {
                    Some(&msg) => {
                        let msg = self.plain(msg);
                        quote_spanned!(span=> #call.expect(#msg))
                    }
                    None => quote_spanned!(span=> #call.unwrap()),
                }
            }
            Fwd::Runtime(name) => {
                let name = Ident::new(name, span);
                let all = args.iter().zip(rule.adj).enumerate().map(|(k, (&a, adj))| match adj {
                    Adj::Constant => self.plain(a),
                    _ => op(k),
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
        moved: &impl Fn(usize) -> bool,
    ) -> TokenStream {
        // The name and each argument with the user's spans (see `CallSpans`).
        let name = Ident::new(name, call.map_or(span, |c| c.method));
        let recv = match (&self.values[args[0]].kind, consume) {
            (Kind::Inline(_), _) | (_, false) => self.operand(args[0], false, span),
            _ if moved(0) => self.ident(args[0]).to_token_stream(),
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

    /// The steps of a consumer of the reverse program, printed: `node` is the consumer's node
    /// (for a pullback), `seed` the result's seed (for the seed's step).
    fn steps(&self, steps: &[Step], node: Option<&Node>, seed: Option<&TokenStream>) -> TokenStream {
        steps.iter().map(|s| self.step(s, node, seed)).collect()
    }

    fn step(&self, step: &Step, node: Option<&Node>, seed: Option<&TokenStream>) -> TokenStream {
        match step {
            Step::Contribute { target, bind, expr } => {
                let (d, e) = (self.adj(*target), self.expr(expr, seed));
                match bind {
                    None => quote!(::matgrad::__private::add_to(&mut #d, #e);),
                    Some(mutable) => {
                        let m = mutable.then(|| quote!(mut));
                        quote!(let #m #d = ::matgrad::__private::init(#e);)
                    }
                }
            }
            Step::Alias { target, g, ty } => {
                let (d, g) = (self.adj(*target), self.read(g, seed));
                match ty {
                    // Ḡ read in the operand's adjoint type (borrowed where they agree).
                    Some(ty) => {
                        let (ty, c) = (self.plain(*ty), format_ident!("{}_as", d, span = Span::mixed_site()));
                        quote!(let #c = ::matgrad::__private::alias_as(#ty, #g); let #d = &*#c;)
                    }
                    None => quote!(let #d = #g;),
                }
            }
            Step::Inverse(f) => {
                let (inv, f) = (self.inverse_ident(*f), self.reference(*f));
                quote!(let #inv = ::matgrad::__private::factor_inverse(#f);)
            }
            Step::Pullback { out, clone_g } => {
                let Some(Node { op: Op::Call { func, args, by_ref, spans }, span, .. }) = node else {
                    return TokenStream::new();
                };
                // The callee's pullback, from the arguments and the value kept for the reverse pass.
                let argv = args.iter().enumerate().map(|(k, &a)| self.call_arg(a, by_ref[k], false, spans[k]));
                let f = pullback_path(func);
                let value = self.reference(*out);
                let gs = args.iter().enumerate().map(|(k, &a)| match self.values[a].active {
                    true => self.pulled(*out, k, spans[k]).to_token_stream(),
                    false => quote!(_),
                });
                let g = self.adj(*out);
                // The adjoint of a sum's term is the sum's, borrowed: the pullback takes its own.
                let g = match clone_g {
                    true => quote!(::core::clone::Clone::clone(#g)),
                    false => quote!(#g),
                };
                quote_spanned!(*span=> let (#(#gs,)*) = #f(#(#argv,)* #value, #g);)
            }
            Step::Zeros(t) => {
                let (d, r) = (self.adj(*t), self.reference(*t));
                quote!(let mut #d = ::matgrad::__private::zero_like(#r);)
            }
            Step::Carry { out, from_adjoint } => {
                let dc = self.carry_ident(*out);
                let init = match from_adjoint {
                    true => self.adj(*out).to_token_stream(),
                    false => {
                        let r = self.reference(*out);
                        quote!(::matgrad::__private::zero_like(#r))
                    }
                };
                quote!(let mut #dc = #init;)
            }
            Step::CarryBack { out, inner } => {
                let (dc, d) = (self.carry_ident(*out), self.adj(*inner));
                quote!(#dc = #d;)
            }
        }
    }

    fn expr(&self, expr: &Expr, seed: Option<&TokenStream>) -> TokenStream {
        match expr {
            Expr::Call { f, args, span, .. } => {
                let f = Ident::new(f, *span);
                let args = args.iter().map(|a| self.read(a, seed));
                quote_spanned!(*span=> ::matgrad::__private::#f(#(#args),*))
            }
            Expr::Operand(o) => self.read(o, seed),
            Expr::Shared(o) => {
                let o = self.read(o, seed);
                quote!(::matgrad::__private::shared(#o))
            }
            Expr::As { ty, expr } => {
                let (ty, e) = (self.plain(*ty), self.expr(expr, seed));
                quote!(::matgrad::__private::pass_as(#ty, #e))
            }
            Expr::Neg(expr) => {
                let e = self.expr(expr, seed);
                quote!(::matgrad::__private::Neg(#e))
            }
            Expr::At { like, index, slot, expr } => {
                let (c, i, s) = (self.read(like, seed), self.read(index, seed), self.read(slot, seed));
                let e = self.expr(expr, seed);
                quote!(::matgrad::__private::field_at(#c, #i, #s, #e))
            }
        }
    }

    /// What an adjoint op reads, as it reads it.
    fn read(&self, o: &Operand, seed: Option<&TokenStream>) -> TokenStream {
        match *o {
            Operand::Value { v, moved: true } => self.ident(v).to_token_stream(),
            Operand::Value { v, moved: false } => self.reference(v),
            Operand::Adjoint { v, borrow } => {
                let (d, r) = (self.adj(v), borrow.then(|| quote!(&)));
                quote!(#r #d)
            }
            Operand::Inverse(InverseAt::Forward(v)) => self.reference(v),
            Operand::Inverse(InverseAt::Compute(f) | InverseAt::Shared(f)) => {
                let inv = self.inverse_ident(f);
                quote!(&#inv)
            }
            Operand::Partial { map, k, borrow } => {
                let (d, r) = (self.partial_ident(map, k), borrow.then(|| quote!(&)));
                quote!(#r #d)
            }
            Operand::Carry { out, zeroed } => {
                let dc = self.carry_ident(out);
                match zeroed {
                    true => quote!(::matgrad::__private::take_zeroed(&mut #dc)),
                    false => quote!(#dc),
                }
            }
            Operand::Pulled { out, k, span } => self.pulled(out, k, span).to_token_stream(),
            Operand::Seed => seed.cloned().unwrap_or_default(),
        }
    }

    /// The inverse of factorization `f` that the reverse sweep computes and shares.
    fn inverse_ident(&self, f: ValueId) -> Ident {
        format_ident!("{}_inv", self.ident(f), span = Span::mixed_site())
    }

    /// The gradient of argument `k` that the pullback of call `out` returns: spanned at the
    /// argument, so that a missing gradient is reported there (no user variable is named like
    /// this).
    fn pulled(&self, out: ValueId, k: usize, span: Span) -> Ident {
        format_ident!("{}_g{}", self.ident(out), k, span = span)
    }

    /// The adjoint a loop carries for its carried value `out`.
    fn carry_ident(&self, out: ValueId) -> Ident {
        format_ident!("d_{}_carry", self.ident(out), span = Span::mixed_site())
    }

    fn reverse(&self, node: &Node, plan: &Plan) -> TokenStream {
        self.steps(plan.program.at(Site::Node(node.out)), Some(node), None)
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
