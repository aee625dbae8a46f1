//! Emitting control flow: a branch records which arm ran in a small generated enum, a loop
//! keeps what its reverse pass reads from each iteration on a tape (an `ExactTape` indexed by
//! the iteration when it runs its constant trip count); their reverse passes match on the enum
//! and pop the tape, restoring the saved values, after the zeros of the adjoints they add to.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

use super::Emitter;
use crate::ir::{Axis, Body, Branch, Head, Kind, Loop, Op, Stmt, ValueId};
use crate::reverse::program::Site;
use crate::reverse::Plan;

impl Emitter<'_> {
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
            return !self.lasting(body, plan, r);
        }
        body.stmts.iter().any(|s| match s {
            Stmt::Node(n) if n.out == v => matches!(&n.op, Op::Rule { rule, args }
                if crate::symbol::borrows_receiver(rule) && short_lived(args[0])),
            _ => false,
        })
    }

    /// Whether `r` lives for the whole function or points into a value that does: one of the
    /// function's body, a reference to such a value, or an element of a collection field or a
    /// field of one (`&p.layers[k]`, `&layer.w`) defined in `body`.
    fn lasting(&self, body: &Body, plan: &Plan, r: ValueId) -> bool {
        if plan.def[r] == plan.root {
            return true;
        }
        // (a reference to a temporary borrows itself)
        if let Some(b) = self.values[r].borrows.filter(|&b| b != r) {
            return self.lasting(body, plan, b);
        }
        let element = |rule: &crate::symbol::Rule| {
            std::ptr::eq(rule, &crate::symbol::ELEMENT) || std::ptr::eq(rule, &crate::symbol::MEMBER)
        };
        body.stmts.iter().any(|s| match s {
            Stmt::Node(n) if n.out == r => {
                matches!(&n.op, Op::Rule { rule, args } if element(rule) && self.lasting(body, plan, args[0]))
            }
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
                Op::Map { closure, .. } if plan.fused_tangent(node.out, closure).is_some() => {}
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

    pub(super) fn forward_branch(&self, stmt: &Stmt, b: &Branch, at: (usize, usize), plan: &Plan) -> TokenStream {
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
                let code = self.block_forward(&arm.body, plan);
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

    pub(super) fn reverse_branch(&self, stmt: &Stmt, b: &Branch, plan: &Plan) -> TokenStream {
        if !plan.stmt_participates(self.values, stmt) {
            return TokenStream::new();
        }
        let mut code = self.steps(plan.program.at(Site::Enter(b.tape)), None, None);
        let e = self.enum_ident(b.tape);
        let mut arms = Vec::new();
        for (k, arm) in b.arms.iter().enumerate() {
            let mut body = self.steps(plan.program.at(Site::Arm(b.tape, k)), None, None);
            body.extend(self.block_reverse(&arm.body, plan));
            let saved = self.restore(&arm.body, self.saved(&arm.body, plan), self.saved_extra(&arm.body, plan));
            let var = format_ident!("A{}", k);
            arms.push(quote!(#[allow(unused_variables)] #e::#var((#(#saved,)*)) => { #body }));
        }
        let tape = self.ident(b.tape);
        code.extend(quote!(match #tape { #(#arms)* }));
        code
    }

    pub(super) fn forward_loop(&self, stmt: &Stmt, l: &Loop, at: (usize, usize), plan: &Plan) -> TokenStream {
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
        body.extend(self.block_forward(&l.body, plan));
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

    pub(super) fn reverse_loop(&self, stmt: &Stmt, l: &Loop, plan: &Plan) -> TokenStream {
        if !plan.stmt_participates(self.values, stmt) {
            return TokenStream::new();
        }
        let program = &plan.program;
        let mut code = self.steps(program.at(Site::Enter(l.tape)), None, None);
        let mut body = self.steps(program.at(Site::IterationStart(l.tape)), None, None);
        body.extend(self.block_reverse(&l.body, plan));
        body.extend(self.steps(program.at(Site::IterationEnd(l.tape)), None, None));
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
        code.extend(self.steps(program.at(Site::Exit(l.tape)), None, None));
        code
    }
}
