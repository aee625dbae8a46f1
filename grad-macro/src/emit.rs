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
//! in a rule that can compute in its buffer (`symbol::takes_owned`) is moved there, as is the
//! adjoint at its last use (`2 z` above is computed in `z`'s buffer); the terms of a sum borrow
//! its adjoint; the adjoint of `-x` or `c - x` is kept negated so that the sign costs no pass.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

use crate::check::Signature;
use crate::ir::{Body, Closure, Kind, Node, Op, Stmt, Value, ValueId};
use crate::lower::Lowered;
use crate::reverse::{self, Plan};
use crate::symbol::{self, Adj, Fwd, Rule};

/// The body of `_grad`: forward pass, reverse sweep, and the tuple `(value, gradients…)`.
pub fn grad_body(sig: &Signature, low: &Lowered) -> TokenStream {
    let em = Emitter { values: &low.values };
    let ret_ty = &sig.ret;
    let seed = quote!(::matgrad::__private::one::<#ret_ty>());
    let wrt: Vec<ValueId> = sig.wrt.iter().map(|&i| low.params[i]).collect();
    let (code, value, grads) = em.body(&low.body, seed, &wrt);
    quote! {
        #code
        (#value, #(#grads),*)
    }
}

struct Emitter<'a> {
    values: &'a [Value],
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
            _ if move_it => quote!(#i),
            _ if val.is_ref() => quote_spanned!(span=> ::matgrad::__private::by_ref(#i)),
            _ => quote_spanned!(span=> ::matgrad::__private::by_ref(&#i)),
        }
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

    /// Forward pass and reverse sweep of `body`, seeding its result's adjoint with `seed`.
    /// Returns the code, the result, and the adjoints of `wrt` (zeros where none arrived).
    fn body(&self, body: &Body, seed: TokenStream, wrt: &[ValueId]) -> (TokenStream, TokenStream, Vec<TokenStream>) {
        let plan = reverse::plan(self.values, body);
        let mut born = vec![false; self.values.len()];
        let mut code = TokenStream::new();
        for (i, stmt) in body.stmts.iter().enumerate() {
            code.extend(self.forward(stmt, i, &plan, body.ret));
        }
        if let Some(ret) = body.ret.filter(|&r| self.values[r].active) {
            code.extend(self.accumulate(ret, seed, &plan, &mut born));
        }
        for stmt in body.stmts.iter().rev() {
            if let Stmt::Node(node) = stmt {
                code.extend(self.reverse(node, &plan, &mut born));
            }
        }
        let value = body.ret.map(|r| self.plain(r)).unwrap_or_else(|| quote!(::core::unreachable!()));
        let grads = wrt
            .iter()
            .map(|&w| {
                if born[w] {
                    self.adj(w).to_token_stream()
                } else {
                    let r = self.reference(w);
                    quote!(::matgrad::__private::zero_like(#r))
                }
            })
            .collect();
        (code, value, grads)
    }

    fn forward(&self, stmt: &Stmt, at: usize, plan: &Plan, ret: Option<ValueId>) -> TokenStream {
        let node = match stmt {
            Stmt::Effect { tokens, .. } => return tokens.clone(),
            Stmt::Node(node) => node,
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
                self.forward_rule(rule, args, span, |k| reverse::movable(self.values, plan, ret, args, k, at))
            }
            Op::Opaque { tokens, .. } => tokens.clone(),
            Op::Map { input, closure } => {
                if plan.participates(self.values, node.out) {
                    let move_input = reverse::movable(self.values, plan, ret, &[*input], 0, at);
                    return self.forward_map_d(node, *input, closure, move_input);
                }
                let x = self.operand(*input, false, span);
                let p = self.ident(closure.param);
                let (code, y, _) = self.body(&closure.body, TokenStream::new(), &[]);
                quote_spanned!(span=> #x.map(|#p| { #code #y }))
            }
        };
        quote_spanned!(span=> let #out #ty = #value;)
    }

    fn forward_rule(&self, rule: &Rule, args: &[ValueId], span: Span, movable: impl Fn(usize) -> bool) -> TokenStream {
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
            Fwd::Index => {
                let (m, idx) = (self.operand(args[0], false, span), self.plain(args[1]));
                quote_spanned!(span=> #m[#idx])
            }
            Fwd::Method(name) => {
                let name = Ident::new(name, span);
                let recv = self.operand(args[0], false, span);
                let rest = args[1..].iter().map(|&a| self.operand(a, false, span));
                quote_spanned!(span=> #recv.#name(#(#rest),*))
            }
            Fwd::Runtime(name) => {
                let name = Ident::new(name, span);
                let all = args.iter().zip(rule.adj).map(|(&a, adj)| match adj {
                    Adj::Constant => self.plain(a),
                    _ => self.operand(a, false, span),
                });
                quote_spanned!(span=> ::matgrad::__private::#name(#(#all),*))
            }
        }
    }

    /// The identifiers of the derivative matrices a differentiated `map` stores.
    fn map_partials(&self, node: &Node, closure: &Closure) -> Vec<(ValueId, Ident)> {
        std::iter::once(closure.param)
            .chain(closure.captures.iter().copied())
            .filter(|&inner| self.values[inner].active)
            .enumerate()
            .map(|(k, inner)| (inner, format_ident!("{}_d{}", self.ident(node.out), k, span = Span::mixed_site())))
            .collect()
    }

    fn forward_map_d(&self, node: &Node, input: ValueId, closure: &Closure, move_input: bool) -> TokenStream {
        let partials = self.map_partials(node, closure);
        let inner: Vec<ValueId> = partials.iter().map(|(i, _)| *i).collect();
        let names = partials.iter().map(|(_, n)| n);
        let (out, p, span) = (self.ident(node.out), self.ident(closure.param), node.span);
        let x = self.operand(input, move_input, span);
        let (code, y, ds) = self.body(&closure.body, quote!(::matgrad::__private::one_like(&#p)), &inner);
        quote_spanned! {span=>
            let (#out, [#(#names),*]) = ::matgrad::__private::map_d(#x, |#p| { #code (#y, [#(#ds),*]) });
        }
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
                let active: Vec<(usize, ValueId)> = args
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|&(k, a)| self.values[a].active && rule.adj[k] != Adj::Constant)
                    .collect();
                // Rules first, then the pass-through contributions; the last of those moves Ḡ.
                let passes = active.iter().filter(|&&(k, _)| matches!(rule.adj[k], Adj::Pass | Adj::PassNeg)).count();
                let mut passes_left = passes;
                let mut rules_left = active.len() - passes;
                // Terms of a sum that receive nothing else borrow Ḡ; then nothing moves it.
                let aliased = active.iter().any(|&(k, a)| rule.adj[k] == Adj::Pass && passes > 1 && plan.alias[a]);
                let movable_g = !aliased && !plan.alias[node.out];
                let ordered = active
                    .iter()
                    .filter(|&&(k, _)| matches!(rule.adj[k], Adj::Rule(_)))
                    .chain(active.iter().filter(|&&(k, _)| !matches!(rule.adj[k], Adj::Rule(_))));
                for &(k, arg) in ordered {
                    let contrib = match rule.adj[k] {
                        Adj::Rule(f) => {
                            // The last rule reading the values may take the dead ones by value.
                            rules_left -= 1;
                            let owning = rules_left == 0 && symbol::takes_owned(f);
                            let pass = |v: ValueId| match owning && reverse::owned_in_reverse(plan, node.out, args, v) {
                                true => self.ident(v).to_token_stream(),
                                false => self.reference(v),
                            };
                            let refs = args.iter().map(|&a| pass(a));
                            let out = rule.needs_out.then(|| {
                                let r = pass(node.out);
                                quote!(#r,)
                            });
                            let g = if owning && passes == 0 { quote!(#g) } else { g_ref.clone() };
                            let f = Ident::new(f, span);
                            quote_spanned!(span=> ::matgrad::__private::#f(#(#refs,)* #out #g))
                        }
                        Adj::Pass if aliased && plan.alias[arg] => {
                            born[arg] = true;
                            let d = self.adj(arg);
                            code.extend(quote!(let #d = #g_ref;));
                            continue;
                        }
                        Adj::Pass | Adj::PassNeg => {
                            passes_left -= 1;
                            let flow = match passes_left == 0 && movable_g {
                                true => quote!(#g),
                                false => quote!(::matgrad::__private::shared(#g_ref)),
                            };
                            if rule.adj[k] == Adj::PassNeg && !plan.negated[node.out] {
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
                // The captures' partials first, so that the entry's, last, moves Ḡ; each stored
                // derivative is read once, and moved.
                let mut partials = self.map_partials(node, closure);
                partials.rotate_left(usize::from(self.values[closure.param].active));
                let n = partials.len();
                for (i, (inner, d)) in partials.into_iter().enumerate() {
                    let (target, contrib) = if inner == closure.param {
                        let g = if i + 1 == n { quote!(#g) } else { g_ref.clone() };
                        (*input, quote_spanned!(span=> ::matgrad::__private::map_adj(#d, #g)))
                    } else {
                        (
                            crate::ir::outer_of(self.values, inner),
                            quote_spanned!(span=> ::matgrad::__private::map_capture_adj(&#d, #g_ref)),
                        )
                    };
                    code.extend(self.accumulate(target, contrib, plan, born));
                }
            }
            Op::Opaque { .. } => {}
        }
        code
    }
}
