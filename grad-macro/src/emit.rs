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

use std::cell::RefCell;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

use crate::check::Signature;
use crate::ir::{Axis, Body, Branch, CallSpans, Closure, Head, Kind, Loop, Node, Op, Stmt, Value, ValueId};
use crate::lower::{self, Lowered};
use crate::reverse::{self, Plan};
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

impl Emitter<'_> {
    /// A tuple's fields are reached through these traits (a struct's through methods of its
    /// own).
    fn field_traits(&self, low: &Lowered) {
        if !low.fields.is_empty() {
            self.items.borrow_mut().push(quote!(
                use ::matgrad::__private::{
                    TupleSlot0 as _, TupleSlot1 as _, TupleSlot2 as _, TupleSlot3 as _, TupleSlot4 as _,
                    TupleSlot5 as _,
                };
            ));
        }
    }

    /// The field bindings of a tangent program, whose parameters are the function's and the
    /// tangents (`let tangent_p_w1 = &tangent_p.w1;`): each rooted at its parameter's value.
    fn program_field_bindings(&self, low: &Lowered) -> TokenStream {
        let bind = |f: &lower::FieldRead| lower::field_binding(self.ident(low.params[f.param]), f, self.ident(f.value));
        low.fields.iter().map(bind).collect()
    }

    /// `let p_w1 = &p.w1;` for each field path of a struct parameter that the body reads.
    fn field_bindings(&self, sig: &Signature, low: &Lowered) -> TokenStream {
        let bind = |f: &lower::FieldRead| lower::field_binding(&sig.params[f.param].ident, f, self.ident(f.value));
        low.fields.iter().map(bind).collect()
    }

    /// Parameter `param`'s gradient: its adjoint (zeros when none arrived), and for a struct,
    /// each field path's adjoint added into the same field of it (through the slots of
    /// `#[derive(Differentiable)]`; a skipped field has none and keeps its value).
    ///
    /// Output: `{ let mut g = zero_like(p); if let Some(s) = g.__matgrad_slot_w1() { add_to(s, d_p_w1) } g }`
    fn gradient(
        &self,
        low: &Lowered,
        param: usize,
        own: Option<TokenStream>,
        fields: &[Option<TokenStream>],
    ) -> TokenStream {
        let w = low.params[param];
        let reached: Vec<(&lower::FieldRead, &TokenStream)> = low
            .fields
            .iter()
            .zip(fields)
            .filter(|(f, _)| f.param == param)
            .filter_map(|(f, g)| g.as_ref().map(|g| (f, g)))
            .collect();
        if reached.is_empty() {
            return own.unwrap_or_else(|| self.zeros(w));
        }
        let g = format_ident!("g", span = Span::mixed_site());
        let start = own.unwrap_or_else(|| {
            let r = self.reference(w);
            quote!(::matgrad::Differentiable::zero_like(#r))
        });
        let adds = reached.iter().map(|(f, d)| {
            let span = self.values[f.value].span;
            let (first, rest) = f.path.split_first().expect("a field path has a field");
            let first = lower::slot_method(first);
            let rest = rest.iter().map(lower::slot_method);
            let slot = format_ident!("slot", span = Span::mixed_site());
            quote_spanned! {span=>
                if let ::core::option::Option::Some(#slot) = #g.#first() #(.and_then(|s| s.#rest()))* {
                    ::matgrad::__private::add_to(#slot, #d);
                }
            }
        });
        quote!({ let mut #g = #start; #(#adds)* #g })
    }

    fn zeros(&self, w: ValueId) -> TokenStream {
        let r = self.reference(w);
        quote!(::matgrad::__private::zero_like(#r))
    }
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
        let mut born = vec![false; self.values.len()];
        let forward = self.block_forward(body, &plan, body.ret);
        let mut rev = TokenStream::new();
        if let Some(seed) = seed {
            if let Some(ret) = body.ret.filter(|&r| self.values[r].active) {
                rev.extend(self.accumulate(ret, seed, &plan, &mut born));
            }
            rev.extend(self.block_reverse(body, &plan, &mut born));
        }
        let value = match body.ret {
            Some(r) if plan.rev_needed[r] || self.values[r].is_ref() => self.cloned(r),
            Some(r) => self.plain(r),
            None => quote!(::core::unreachable!()),
        };
        let grads = wrt.iter().map(|&w| born[w].then(|| self.adj(w).to_token_stream())).collect();
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

    /// `a = x.map(g)` and its tangent `ȧ = x.zip_map(&ẋ, ġ)` in one pass (see
    /// [`Plan::fused`]): the tangent closure, which computes the entry `y` of `a` too, returns
    /// both, with its partials when they take part in the reverse sweep. `at` is the tangent
    /// map's statement, where `x` may be moved.
    ///
    /// Output: `let (a, ȧ) = map_pair(x, &ẋ, |v, v̇| { …; (y, ẏ) });` or
    /// `let (a, ȧ, [ȧ_d0, ȧ_d1]) = map_pair_d2(x, &ẋ, |v, v̇| { …; (y, ẏ, [∂ẏ/∂v, ∂ẏ/∂v̇]) });`
    fn forward_fused(&self, a: &Node, t: &Node, at: (usize, usize), plan: &Plan, ret: Option<ValueId>) -> TokenStream {
        let Op::Map { input, closure } = &t.op else { return TokenStream::new() };
        let (Some((other, b)), Some((_, y))) = (closure.second, closure.value_of) else { return TokenStream::new() };
        let bind = |v: ValueId| match plan.read[v] {
            true => self.ident(v).to_token_stream(),
            false => quote!(_),
        };
        let (out_a, out_t, span) = (bind(a.out), bind(t.out), t.span);
        let x = self.operand(*input, reverse::movable(self.values, plan, ret, &[*input, other], 0, at), span);
        let (p, b, other, y) = (self.ident(closure.param), self.ident(b), self.reference(other), self.ident(y));
        if !plan.participates(self.values, t.out) {
            let (code, dy, _) = self.body(&closure.body, None, &[]);
            let ty = a.ty.as_ref().map(|ty| quote!(: (#ty, _)));
            return quote_spanned! {span=>
                let (#out_a, #out_t) #ty = ::matgrad::__private::map_pair(#x, #other, |#p, #b| { #code (#y, #dy) });
            };
        }
        let partials = self.map_partials(t, closure);
        let inner: Vec<ValueId> = partials.iter().map(|(i, _)| *i).collect();
        let names = partials.iter().map(|(_, n)| n);
        let (code, dy, ds) = self.body(&closure.body, Some(quote!(::matgrad::__private::one_like(&#p))), &inner);
        let ty = a.ty.as_ref().map(|ty| quote!(: (#ty, _, _)));
        quote_spanned! {span=>
            let (#out_a, #out_t, [#(#names),*]) #ty =
                ::matgrad::__private::map_pair_d2(#x, #other, |#p, #b| { #code (#y, #dy, [#(#ds),*]) });
        }
    }

    /// For a map fused with its tangent map (see [`Plan::fused`]): the tangent map's output.
    fn fused_tangent_of(&self, plan: &Plan, node: &Node) -> Option<ValueId> {
        match &node.op {
            Op::Map { closure, .. } if closure.value_of.is_none() => plan.fused[node.out],
            _ => None,
        }
    }

    fn block_reverse(&self, body: &Body, plan: &Plan, born: &mut [bool]) -> TokenStream {
        let mut code = TokenStream::new();
        for stmt in body.stmts.iter().rev() {
            match stmt {
                Stmt::Node(node) => code.extend(self.reverse(node, plan, born)),
                Stmt::Effect { .. } => {}
                Stmt::Branch(b) => code.extend(self.reverse_branch(stmt, b, plan, born)),
                Stmt::Loop(l) => code.extend(self.reverse_loop(stmt, l, plan, born)),
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
                reverse::movable(self.values, plan, ret, args, k, at)
            }),
            Op::Opaque { tokens, .. } => tokens.clone(),
            Op::Map { input, closure } => {
                if plan.participates(self.values, node.out) {
                    // (not when the second matrix of a `zip_map` is the same value)
                    let read: Vec<ValueId> = std::iter::once(*input).chain(closure.second.map(|(y, _)| y)).collect();
                    let move_input = reverse::movable(self.values, plan, ret, &read, 0, at);
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
                    let moved = reverse::movable(self.values, plan, ret, args, k, at);
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

    /// The value an arm or a loop body gives a variable: moved when nothing else needs it.
    fn result(&self, r: ValueId, plan: &Plan, inside: usize, at: (usize, usize), keep: bool) -> TokenStream {
        let val = &self.values[r];
        match &val.kind {
            Kind::Inline(t) => t.clone(),
            _ if val.is_ref() => self.cloned(r),
            _ if plan.def[r] == inside => {
                if keep {
                    self.cloned(r)
                } else {
                    self.ident(r).to_token_stream()
                }
            }
            Kind::Node if !keep && !plan.rev_needed[r] && plan.last_use[r] == Some(at) => {
                self.ident(r).to_token_stream()
            }
            _ => self.cloned(r),
        }
    }

    /// The values of `body` its reverse pass reads, kept on the tape.
    /// Views of values of the body come first: they are copied before what they borrow moves.
    fn saved(&self, body: &Body, plan: &Plan) -> Vec<ValueId> {
        let mut own = body.own();
        own.retain(|&v| plan.rev_needed[v]);
        own.sort_unstable_by_key(|&v| (!self.local_view(body, plan, v), v));
        own.dedup();
        own
    }

    /// Whether `v`, a value of `body`, is a view or a reference into a value that does not live
    /// for the whole function (one of a loop body's or an arm's, which a tape may take): kept on a
    /// tape, it is copied.
    fn local_view(&self, body: &Body, plan: &Plan, v: ValueId) -> bool {
        let short_lived = |r: ValueId| plan.def[r] != plan.root;
        if let Some(r) = self.values[v].borrows {
            return short_lived(r);
        }
        body.stmts.iter().any(|s| match s {
            Stmt::Node(n) if n.out == v => matches!(&n.op, Op::Rule { rule, args }
                if crate::symbol::borrows_receiver(rule) && short_lived(args[0])),
            _ => false,
        })
    }

    /// A value of `body` as the tape keeps it: cloned when an output also needs it, copied when
    /// it is a view of the body's values, moved otherwise.
    fn saved_value(&self, body: &Body, plan: &Plan, v: ValueId, outputs: &[ValueId]) -> TokenStream {
        let i = self.ident(v);
        if outputs.contains(&v) {
            self.cloned(v)
        } else if self.local_view(body, plan, v) {
            match self.values[v].borrows {
                Some(_) => {
                    let r = self.as_value(i, self.values[v].span);
                    quote!(::matgrad::__private::take(#r))
                }
                None => quote!(#i.clone_owned()),
            }
        } else {
            i.to_token_stream()
        }
    }

    /// What else the reverse pass of `body` reads: the derivatives a differentiated `map`
    /// stored.
    fn saved_extra(&self, body: &Body, plan: &Plan) -> Vec<Ident> {
        let mut out = Vec::new();
        for stmt in &body.stmts {
            let Stmt::Node(node) = stmt else { continue };
            if !plan.participates(self.values, node.out) {
                continue;
            }
            match &node.op {
                // (a map fused with its tangent map reads the latter's)
                Op::Map { .. } if self.fused_tangent_of(plan, node).is_some() => {}
                Op::Map { closure, .. } => out.extend(self.map_partials(node, closure).into_iter().map(|(_, d)| d)),
                Op::Call { .. } | Op::Rule { .. } | Op::Opaque { .. } => {}
            }
        }
        out
    }

    /// The bindings that restore `saved` from a tape: a nested loop's tape is popped, so it is
    /// bound `mut`.
    fn restore(&self, body: &Body, saved: Vec<ValueId>, extra: Vec<Ident>) -> Vec<TokenStream> {
        let tapes: Vec<ValueId> =
            body.stmts.iter().filter_map(|s| if let Stmt::Loop(l) = s { Some(l.tape) } else { None }).collect();
        let vals = saved.into_iter().map(|v| {
            let i = self.ident(v);
            if tapes.contains(&v) {
                quote!(mut #i)
            } else {
                quote!(#i)
            }
        });
        vals.chain(extra.into_iter().map(|i| i.to_token_stream())).collect()
    }

    fn enum_ident(&self, tape: ValueId) -> Ident {
        format_ident!("Branch{}", tape, span = Span::mixed_site())
    }

    fn forward_branch(&self, stmt: &Stmt, b: &Branch, at: (usize, usize), plan: &Plan) -> TokenStream {
        let part = plan.stmt_participates(self.values, stmt);
        let e = self.enum_ident(b.tape);
        if part {
            let vars: Vec<Ident> = (0..b.arms.len()).map(|k| format_ident!("A{}", k)).collect();
            self.items.borrow_mut().push(quote! {
                enum #e<#(#vars),*> { #(#vars(#vars)),* }
            });
        }
        let arms: Vec<TokenStream> = b
            .arms
            .iter()
            .enumerate()
            .map(|(k, arm)| {
                let code = self.block_forward(&arm.body, plan, None);
                let key = arm.body.key();
                let results = arm.results.iter().enumerate().map(|(j, &r)| {
                    let repeated = arm.results[j + 1..].contains(&r);
                    let saved_here = plan.def[r] == key && plan.rev_needed[r];
                    self.result(r, plan, key, at, repeated || saved_here)
                });
                let results: Vec<TokenStream> = results.collect();
                let tape = part.then(|| {
                    let saved = self
                        .saved(&arm.body, plan)
                        .into_iter()
                        .map(|v| self.saved_value(&arm.body, plan, v, &arm.results));
                    let extra = self.saved_extra(&arm.body, plan);
                    let saved = saved.chain(extra.into_iter().map(|i| i.to_token_stream()));
                    let var = format_ident!("A{}", k);
                    quote!(#e::#var((#(#saved,)*)))
                });
                match (results.is_empty(), &tape) {
                    (true, None) => quote!({ #code }),
                    _ => quote!({ #code (#(#results,)* #tape) }),
                }
            })
            .collect();
        let expr = match &b.head {
            Head::If { conds } => {
                // `if c₀ {…} else if c₁ {…} … else {…}`: the last arm is the `else`.
                let chain = conds.iter().zip(&arms).map(|(c, arm)| quote!(if #c #arm));
                let els = arms.get(conds.len()).map(|last| quote!(else #last));
                quote!(#(#chain)else* #els)
            }
            Head::Match { scrutinee, pats } => quote!(match #scrutinee { #(#pats => #arms,)* }),
        };
        let outs = b.outs.iter().map(|&o| match plan.read[o] {
            true => self.ident(o).to_token_stream(),
            false => quote!(_),
        });
        let outs: Vec<TokenStream> = outs.collect();
        let span = b.span;
        match (outs.is_empty(), part) {
            (true, false) => quote_spanned!(span=> #expr;),
            _ => {
                let tape = part.then(|| self.ident(b.tape));
                quote_spanned!(span=> let (#(#outs,)* #tape) = #expr;)
            }
        }
    }

    fn reverse_branch(&self, stmt: &Stmt, b: &Branch, plan: &Plan, born: &mut [bool]) -> TokenStream {
        if !plan.stmt_participates(self.values, stmt) {
            return TokenStream::new();
        }
        let mut code = self.pre_zero(b.tape, plan, born);
        let e = self.enum_ident(b.tape);
        let mut arms = Vec::new();
        for (k, arm) in b.arms.iter().enumerate() {
            let mut body = TokenStream::new();
            for (j, &o) in b.outs.iter().enumerate() {
                let r = arm.results[j];
                if plan.participates(self.values, o) && born[o] && self.values[r].active {
                    let d = self.adj(o);
                    body.extend(self.accumulate(r, quote!(#d), plan, born));
                }
            }
            body.extend(self.block_reverse(&arm.body, plan, born));
            let saved = self.restore(&arm.body, self.saved(&arm.body, plan), self.saved_extra(&arm.body, plan));
            let var = format_ident!("A{}", k);
            arms.push(quote!(#[allow(unused_variables)] #e::#var((#(#saved,)*)) => { #body }));
        }
        let tape = self.ident(b.tape);
        code.extend(quote!(match #tape { #(#arms)* }));
        code
    }

    /// Starts at zero the adjoints that `stmt`'s reverse pass adds to and that do not exist
    /// yet: inside an arm or a loop body, a contribution cannot be the first.
    fn pre_zero(&self, tape: ValueId, plan: &Plan, born: &mut [bool]) -> TokenStream {
        let mut code = TokenStream::new();
        for &t in plan.region_targets.get(&tape).into_iter().flatten() {
            if !born[t] {
                born[t] = true;
                let (d, r) = (self.adj(t), self.reference(t));
                code.extend(quote!(let mut #d = ::matgrad::__private::zero_like(#r);));
            }
        }
        code
    }

    fn forward_loop(&self, stmt: &Stmt, l: &Loop, at: (usize, usize), plan: &Plan) -> TokenStream {
        let part = plan.stmt_participates(self.values, stmt);
        let key = l.body.key();
        let end = (key, l.body.stmts.len());
        let mut code = TokenStream::new();
        let tape = self.ident(l.tape);
        let it = format_ident!("{}_iter", tape, span = Span::mixed_site());
        // An iterable that reads a variable the loop assigns (`0..h.nrows()`) runs before the
        // variable moves into the loop.
        let early = l.carried.iter().any(|c| l.inputs.contains(&c.before));
        if early {
            let iter = &l.iter;
            code.extend(quote!(let #it = ::core::iter::IntoIterator::into_iter(#iter);));
        }
        let mut body_reads = Vec::new();
        l.body.stmts.iter().for_each(|s| s.reads(self.values, &mut body_reads));
        for (k, c) in l.carried.iter().enumerate() {
            // Moved into the loop's variable unless the body (or another variable) reads it.
            let keep = l.carried[..k].iter().any(|o| o.before == c.before)
                || body_reads.contains(&c.before)
                || l.carried.iter().any(|o| o.result == c.before);
            let init = self.result(c.before, plan, usize::MAX, at, keep);
            let out = self.ident(c.out);
            code.extend(quote!(let mut #out = #init;));
        }
        let iter = if early { quote!(#it) } else { l.iter.clone() };
        let exact = self.exact_tape(l);
        let iter = match (part, &l.fixed_len, l.sized_by) {
            (true, Some(n), _) if exact => {
                let k = self.tape_index(l);
                code.extend(quote! {
                    let mut #tape = ::matgrad::__private::ExactTape::<_, { #n }>::new();
                    let mut #k = 0usize;
                });
                iter
            }
            (true, Some(n), _) => {
                code.extend(quote!(let mut #tape = ::matgrad::__private::FixedTape::<_, { #n }>::new();));
                iter
            }
            // One iteration per column (row, entry) of a matrix: an array when that count is
            // static, chosen by rustc's types.
            (true, None, Some((m, axis))) => {
                let f = match axis {
                    Axis::Columns => quote!(columns_tape),
                    Axis::Rows => quote!(rows_tape),
                    Axis::Entries => quote!(entries_tape),
                };
                let m = self.reference(m);
                code.extend(quote!(let mut #tape = ::matgrad::__private::#f(#m);));
                iter
            }
            (true, None, None) if l.unbounded => {
                // Spanned so that its error without `alloc` points at the loop.
                let span = l.span;
                code.extend(quote_spanned!(span=> let mut #tape = ::matgrad::__private::unbounded_tape();));
                iter
            }
            // Room for the iterations is reserved in the loop's head, where the iterable's
            // temporaries live through the loop as in the user's `for`.
            (true, None, None) => {
                code.extend(quote!(let mut #tape = ::matgrad::__private::VecTape::with_capacity(0);));
                quote!(::matgrad::__private::reserve_for(&mut #tape, ::core::iter::IntoIterator::into_iter(#iter)))
            }
            (false, ..) => iter,
        };
        let pat = &l.pat;
        let mut body = TokenStream::new();
        if let Some(k) = l.stop {
            // Before the iteration's values are taken from the carried ones.
            let flag = self.ident(l.carried[k].out);
            body.extend(quote!(if !#flag { break; }));
        }
        for c in &l.carried {
            if plan.read[c.inner] {
                let (inner, out) = (self.ident(c.inner), self.ident(c.out));
                body.extend(quote!(let #inner = #out;));
            }
        }
        body.extend(self.block_forward(&l.body, plan, None));
        if part {
            let results: Vec<ValueId> = l.carried.iter().map(|c| c.result).collect();
            let saved = self.saved(&l.body, plan).into_iter().map(|v| self.saved_value(&l.body, plan, v, &results));
            let extra = self.saved_extra(&l.body, plan);
            let saved = saved.chain(extra.into_iter().map(|i| i.to_token_stream()));
            if exact {
                let k = self.tape_index(l);
                body.extend(quote!(#tape.put(#k, (#(#saved,)*)); #k += 1;));
            } else {
                body.extend(quote!(#tape.push((#(#saved,)*));));
            }
        }
        for (k, c) in l.carried.iter().enumerate() {
            let repeated = l.carried[..k].iter().any(|o| o.result == c.result);
            let r = self.result(c.result, plan, key, end, repeated);
            let out = self.ident(c.out);
            body.extend(quote!(#out = #r;));
        }
        let span = l.span;
        // The exact tape's count is a counter beside the loop's own pattern, on purpose (see
        // `exact_tape`).
        let allow = (exact && part).then(|| quote!(#[allow(clippy::explicit_counter_loop)]));
        code.extend(quote_spanned!(span=> #allow for #pat in #iter { #body }));
        code
    }

    /// Whether a loop's tape is an `ExactTape`: the loop runs exactly its constant trip count
    /// (nothing stops it early), so iteration `k` is kept at index `k` and the reverse pass
    /// counts down from the end.
    fn exact_tape(&self, l: &Loop) -> bool {
        l.fixed_len.is_some() && l.stop.is_none() && !l.unbounded
    }

    /// The forward pass's count of an exact tape's iterations, and the reverse pass's index.
    fn tape_index(&self, l: &Loop) -> Ident {
        format_ident!("{}_k", self.ident(l.tape), span = Span::mixed_site())
    }

    fn reverse_loop(&self, stmt: &Stmt, l: &Loop, plan: &Plan, born: &mut [bool]) -> TokenStream {
        if !plan.stmt_participates(self.values, stmt) {
            return TokenStream::new();
        }
        let mut code = self.pre_zero(l.tape, plan, born);
        let carried: Vec<_> = l.carried.iter().filter(|c| plan.carried_participates(self.values, c)).collect();
        let carry = |c: &crate::ir::Carried| format_ident!("d_{}_carry", self.ident(c.out), span = Span::mixed_site());
        for c in &carried {
            let dc = carry(c);
            let init = if born[c.out] {
                self.adj(c.out).to_token_stream()
            } else {
                let r = self.reference(c.out);
                quote!(::matgrad::__private::zero_like(#r))
            };
            code.extend(quote!(let mut #dc = #init;));
        }
        let mut body = TokenStream::new();
        for c in &carried {
            if !self.values[c.result].active {
                continue;
            }
            let dc = carry(c);
            let seed = if plan.participates(self.values, c.inner) {
                quote!(#dc)
            } else {
                quote!(::matgrad::__private::take_zeroed(&mut #dc))
            };
            body.extend(self.accumulate(c.result, seed, plan, born));
        }
        body.extend(self.block_reverse(&l.body, plan, born));
        for c in &carried {
            if !plan.participates(self.values, c.inner) {
                continue;
            }
            let dc = carry(c);
            if born[c.inner] {
                let d = self.adj(c.inner);
                body.extend(quote!(#dc = #d;));
            } else {
                // The plan says a contribution reaches the carried value; none did.
                body.extend(quote!(::core::compile_error!("matgrad: internal error: no adjoint for a loop-carried value; please report this function");));
            }
        }
        let saved = self.restore(&l.body, self.saved(&l.body, plan), self.saved_extra(&l.body, plan));
        let (tape, item) =
            (self.ident(l.tape), format_ident!("{}_item", self.ident(l.tape), span = Span::mixed_site()));
        match (&l.fixed_len, self.exact_tape(l)) {
            (Some(n), true) => {
                let k = self.tape_index(l);
                code.extend(quote! {
                    for #k in (0..#n).rev() {
                        #[allow(unused_variables)]
                        let (#(#saved,)*) = #tape.take(#k);
                        #body
                    }
                });
            }
            _ => code.extend(quote! {
                while let ::core::option::Option::Some(#item) = #tape.pop() {
                    #[allow(unused_variables)]
                    let (#(#saved,)*) = #item;
                    #body
                }
            }),
        }
        for c in &carried {
            if plan.participates(self.values, c.inner) && self.values[c.before].active {
                let dc = carry(c);
                code.extend(self.accumulate(c.before, quote!(#dc), plan, born));
            }
        }
        code
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

    /// The identifiers of the derivative matrices a differentiated `map` stores.
    fn map_partials(&self, node: &Node, closure: &Closure) -> Vec<(ValueId, Ident)> {
        std::iter::once(closure.param)
            .chain(closure.second.map(|(_, b)| b))
            .chain(closure.captures.iter().copied())
            .filter(|&inner| self.values[inner].active)
            .enumerate()
            .map(|(k, inner)| (inner, self.partial_ident(node.out, k)))
            .collect()
    }

    /// The name of the `k`-th derivative matrix the differentiated map of `out` stores.
    fn partial_ident(&self, out: ValueId, k: usize) -> Ident {
        format_ident!("{}_d{}", self.ident(out), k, span = Span::mixed_site())
    }

    fn forward_map_d(&self, node: &Node, input: ValueId, closure: &Closure, move_input: bool) -> TokenStream {
        let partials = self.map_partials(node, closure);
        let inner: Vec<ValueId> = partials.iter().map(|(i, _)| *i).collect();
        let names = partials.iter().map(|(_, n)| n);
        let (out, p, span) = (self.ident(node.out), self.ident(closure.param), node.span);
        let x = self.operand(input, move_input, span);
        let (code, y, ds) = self.body(&closure.body, Some(quote!(::matgrad::__private::one_like(&#p))), &inner);
        if let Some(lane) = self.lane_body(closure, &inner, &code, &y, &ds) {
            let lanes = match closure.second {
                Some((other, b)) => {
                    let (other, b) = (self.reference(other), self.ident(b));
                    quote_spanned! {span=>
                        ::matgrad::__private::map_d2_lanes(
                            #x, #other, |#p, #b| { #code (#y, [#(#ds),*]) }, |#p, #b| { #lane },
                        )
                    }
                }
                None => quote_spanned! {span=>
                    ::matgrad::__private::map_d_lanes(#x, |#p| { #code (#y, [#(#ds),*]) }, |#p| { #lane })
                },
            };
            // Lanes pay where every kernel the closure reads runs vectorised on the target; the
            // constant condition leaves one path to compile (the other is not instantiated).
            let lanes = match reads_ident(&lane, &["exp", "exp_adj"]) {
                true => {
                    let scalar = self.scalar_map_d(closure, &x, p, &code, &y, &ds, span);
                    quote_spanned! {span=> if ::matgrad::__private::lanes::EXP_IN_LANES { #lanes } else { #scalar } }
                }
                false => lanes,
            };
            return quote_spanned! {span=> let (#out, [#(#names),*]) = #lanes; };
        }
        let scalar = self.scalar_map_d(closure, &x, p, &code, &y, &ds, span);
        quote_spanned! {span=> let (#out, [#(#names),*]) = #scalar; }
    }

    /// The call of `map_d` (`map_d_at`, `map_d2`) that evaluates a differentiated closure entry
    /// by entry: its value and partials.
    #[allow(clippy::too_many_arguments)]
    fn scalar_map_d(
        &self,
        closure: &Closure,
        x: &TokenStream,
        p: &Ident,
        code: &TokenStream,
        y: &TokenStream,
        ds: &[TokenStream],
        span: Span,
    ) -> TokenStream {
        match (&closure.at, closure.second) {
            (Some(at), _) => quote_spanned! {span=>
                ::matgrad::__private::map_d_at(#x, |#at, #p| { #code (#y, [#(#ds),*]) })
            },
            (None, Some((other, b))) => {
                let (other, b) = (self.reference(other), self.ident(b));
                quote_spanned! {span=> ::matgrad::__private::map_d2(#x, #other, |#p, #b| { #code (#y, [#(#ds),*]) }) }
            }
            (None, None) => quote_spanned! {span=> ::matgrad::__private::map_d(#x, |#p| { #code (#y, [#(#ds),*]) }) },
        }
    }

    /// The lane form of a differentiated closure's body (`code`, returning `(y, [ds…])`), when it
    /// has one: the same tokens with every `::matgrad::__private::f` read as
    /// `::matgrad::__private::lanes::f`, the functions of the same name and meaning over lanes.
    /// A closure has one when its body is straight-line code of `+ − × ÷`, unary `−` and the
    /// functions with a lane kernel (`exp`, `ln`, `tanh`, `sqrt`, `recip`, `powi`), every value
    /// that depends on the entry is then a lane and every other one a scalar constant (a literal or
    /// a capture nothing differentiates), no `let` in it has a type, and the value and each
    /// partial depend on the entry; not for `from_fn` (the entry's position is read) or a function
    /// generic over its scalar.
    fn lane_body(
        &self,
        closure: &Closure,
        partials: &[ValueId],
        code: &TokenStream,
        y: &TokenStream,
        ds: &[TokenStream],
    ) -> Option<TokenStream> {
        let straight = closure.body.stmts.iter().all(|stmt| match stmt {
            // (a `let` with a type, `let t: f64 = …`, would not hold a lane)
            Stmt::Node(node) => {
                node.ty.is_none() && matches!(&node.op, Op::Rule { rule, .. } if symbol::has_lane_form(rule))
            }
            _ => false,
        });
        let ret_varies = closure.body.ret.is_some_and(|r| self.values[r].active);
        let captures_constant = closure.captures.iter().all(|&c| !self.values[c].active);
        let entries_only = partials.iter().all(|&w| w == closure.param || closure.second.is_some_and(|(_, b)| b == w));
        if !(self.lanes && closure.at.is_none() && straight && ret_varies && captures_constant && entries_only) {
            return None;
        }
        lane_paths(quote!(#code (#y, [#(#ds),*])))
    }

    /// Adds `contrib` to the adjoint of `target`: the first contribution starts it.
    fn accumulate(&self, target: ValueId, contrib: TokenStream, plan: &Plan, born: &mut [bool]) -> TokenStream {
        let d = self.adj(target);
        let contrib = match plan.negated[target] {
            true => quote!(::matgrad::__private::Neg(#contrib)),
            false => contrib,
        };
        if born[target] {
            return quote!(::matgrad::__private::add_to(&mut #d, #contrib););
        }
        born[target] = true;
        let m = (plan.contribs[target] > 1).then(|| quote!(mut));
        quote!(let #m #d = ::matgrad::__private::init(#contrib);)
    }

    /// The inverse a node's adjoints read, as a reference: the function's own, or the one shared
    /// by the sweep, computed here (into `code`) for the first rule that reads it.
    fn inverse(&self, at: reverse::InverseAt, code: &mut TokenStream) -> TokenStream {
        match at {
            reverse::InverseAt::Forward(v) => self.reference(v),
            reverse::InverseAt::Compute(f) | reverse::InverseAt::Shared(f) => {
                let inv = format_ident!("{}_inv", self.ident(f), span = Span::mixed_site());
                if let reverse::InverseAt::Compute(_) = at {
                    let f = self.reference(f);
                    code.extend(quote!(let #inv = ::matgrad::__private::factor_inverse(#f);));
                }
                quote!(&#inv)
            }
        }
    }

    fn reverse(&self, node: &Node, plan: &Plan, born: &mut [bool]) -> TokenStream {
        if !plan.participates(self.values, node.out) || !born[node.out] {
            return TokenStream::new();
        }
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
                let active: Vec<(usize, ValueId)> = args
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|&(k, a)| self.values[a].active && adjs[k] != Adj::Constant)
                    .collect();
                // Rules first, then the pass-through contributions; the last of those moves Ḡ.
                let passes = active.iter().filter(|&&(k, _)| matches!(adjs[k], Adj::Pass | Adj::PassNeg)).count();
                let mut passes_left = passes;
                let mut rules_left = active.len() - passes;
                // Terms of a sum that receive nothing else borrow Ḡ; then nothing moves it.
                let aliased = active.iter().any(|&(k, a)| adjs[k] == Adj::Pass && passes > 1 && plan.alias[a]);
                let movable_g = !aliased && !plan.alias[node.out];
                let reads_g = |k: usize| matches!(adjs[k], Adj::Rule(_) | Adj::OfAdjoint(_));
                let ordered =
                    active.iter().filter(|&&(k, _)| reads_g(k)).chain(active.iter().filter(|&&(k, _)| !reads_g(k)));
                for &(k, arg) in ordered {
                    let contrib = match adjs[k] {
                        // `s̄ I` (`s̄ Bᵀ`) to a value that keeps it as `s̄` (see `Plan::identity`,
                        // `Plan::traced`).
                        Adj::Rule(_)
                            if (rule.seeds_identity && plan.identity[arg])
                                || (k == 0 && rule.seeds_traced_lhs && plan.traced[arg] == Some(node.out)) =>
                        {
                            rules_left -= 1;
                            quote_spanned!(span=> ::matgrad::__private::trace_identity(#g_ref))
                        }
                        Adj::Rule(f) => {
                            // The last rule reading the values may take the dead ones by value.
                            rules_left -= 1;
                            // (`owning` is a property of the rule's own adjoints, `adj`)
                            let owning = rules_left == 0 && rule.owning && std::ptr::eq(adjs, rule.adj);
                            let pass = |v: ValueId| match owning && reverse::owned_in_reverse(plan, node.out, args, v) {
                                true => self.ident(v).to_token_stream(),
                                false => self.reference(v),
                            };
                            // (an `expect` message, past the rule's operands, is not passed)
                            let refs = args.iter().take(adjs.len()).map(|&a| pass(a));
                            let out = rule.needs_out.then(|| {
                                let r = pass(node.out);
                                quote!(#r,)
                            });
                            let inv = inverse.as_ref().map(|inv| quote!(#inv,));
                            let g = if owning && passes == 0 { quote!(#g) } else { g_ref.clone() };
                            let f = Ident::new(f, span);
                            quote_spanned!(span=> ::matgrad::__private::#f(#(#refs,)* #out #inv #product #g))
                        }
                        Adj::OfAdjoint(f) => {
                            rules_left -= 1;
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
                        Adj::Pass if aliased && plan.alias[arg] => {
                            born[arg] = true;
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
                        Adj::Pass | Adj::PassNeg => {
                            passes_left -= 1;
                            let flow = match passes_left == 0 && movable_g {
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
                            if adjs[k] == Adj::PassNeg && !plan.negated[node.out] {
                                quote!(::matgrad::__private::Neg(#flow))
                            } else {
                                flow
                            }
                        }
                        Adj::Constant => continue,
                    };
                    code.extend(self.accumulate(arg, contrib, plan, born));
                }
            }
            Op::Map { input, closure } => {
                // A map fused with its tangent map (see `Plan::fused`): its derivative g′ is the
                // latter's partial for the tangent's entry (∂ġ/∂ẋ = g′). The map's adjoint is
                // complete when the tangent map's sweep runs (what reads the map's value comes
                // after both), so that sweep adds the map's contribution, borrowing g′, before
                // its own, which move it; the map adds it only when the tangent map had no adjoint.
                if let Some(t) = self.fused_tangent_of(plan, node) {
                    if born[t] {
                        return code;
                    }
                    let d = self.partial_ident(t, 1);
                    let contrib = quote_spanned!(span=> ::matgrad::__private::map_adj(#d, #g));
                    return self.accumulate(*input, contrib, plan, born);
                }
                if let Some(a) = plan.fused[node.out].filter(|&a| born[a]) {
                    let (d, ga) = (self.partial_ident(node.out, 1), self.adj(a));
                    let contrib = quote_spanned!(span=> ::matgrad::__private::map_adj(&#d, #ga));
                    code.extend(self.accumulate(*input, contrib, plan, born));
                }
                // The captures' partials first, so that the entry's, last, moves Ḡ; each stored
                // derivative is read once, and moved.
                let mut partials = self.map_partials(node, closure);
                partials.rotate_left(usize::from(self.values[closure.param].active));
                let n = partials.len();
                for (i, (inner, d)) in partials.into_iter().enumerate() {
                    let (target, contrib) = if inner == closure.param {
                        let g = if i + 1 == n { quote!(#g) } else { g_ref.clone() };
                        (*input, quote_spanned!(span=> ::matgrad::__private::map_adj(#d, #g)))
                    } else if let Some((other, _)) = closure.second.filter(|&(_, b)| b == inner) {
                        (other, quote_spanned!(span=> ::matgrad::__private::map_adj(#d, #g_ref)))
                    } else {
                        (
                            crate::ir::outer_of(self.values, inner),
                            quote_spanned!(span=> ::matgrad::__private::map_capture_adj(&#d, #g_ref)),
                        )
                    };
                    code.extend(self.accumulate(target, contrib, plan, born));
                }
            }
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
                        code.extend(self.accumulate(a, contrib, plan, born));
                    }
                }
            }
            Op::Opaque { .. } => {}
        }
        code
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

/// The names `::matgrad::__private::lanes` defines (with the meaning of the same names in
/// `::matgrad::__private`, over lanes).
const LANE_NAMES: &[&str] = &[
    "by_ref",
    "one_like",
    "init",
    "add_to",
    "shared",
    "Neg",
    "mul_lhs",
    "mul_rhs",
    "div_lhs",
    "div_rhs",
    "exp",
    "exp_adj",
    "ln",
    "ln_adj",
    "tanh",
    "tanh_adj",
    "sqrt",
    "sqrt_adj",
    "recip",
    "recip_adj",
    "powi",
    "powi_adj",
];

/// `tokens` with each path `::matgrad::__private::f` written `::matgrad::__private::lanes::f`;
/// `None` when some `f` has no lane form (the closure then keeps the scalar path).
fn lane_paths(tokens: TokenStream) -> Option<TokenStream> {
    use proc_macro2::{Group, TokenTree};
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (k, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), lane_paths(g.stream())?);
                inner.set_span(g.span());
                out.push(TokenTree::Group(inner));
            }
            _ => out.push(tree.clone()),
        }
        if is_private_path(&trees[..=k]) {
            match trees.get(k + 1) {
                Some(TokenTree::Ident(name)) if LANE_NAMES.iter().any(|n| name == n) => {}
                _ => return None,
            }
            let span = tree.span();
            out.extend(quote_spanned!(span=> lanes::));
        }
    }
    Some(out.into_iter().collect())
}

/// Whether `tokens` (in groups too) hold one of the identifiers `names`.
fn reads_ident(tokens: &TokenStream, names: &[&str]) -> bool {
    tokens.clone().into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => names.iter().any(|n| i == n),
        proc_macro2::TokenTree::Group(g) => reads_ident(&g.stream(), names),
        _ => false,
    })
}

/// Whether `trees` ends with `::matgrad::__private::`.
fn is_private_path(trees: &[proc_macro2::TokenTree]) -> bool {
    use proc_macro2::TokenTree;
    let Some(tail) = trees.len().checked_sub(8).map(|k| &trees[k..]) else { return false };
    let colon = |t: &TokenTree| matches!(t, TokenTree::Punct(p) if p.as_char() == ':');
    let word = |t: &TokenTree, w: &str| matches!(t, TokenTree::Ident(i) if i == w);
    colon(&tail[0])
        && colon(&tail[1])
        && word(&tail[2], "matgrad")
        && colon(&tail[3])
        && colon(&tail[4])
        && word(&tail[5], "__private")
        && colon(&tail[6])
        && colon(&tail[7])
}
