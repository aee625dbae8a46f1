//! Lowering control flow: branches (`if`, `if let`, `match`) and `for` loops become statements
//! holding bodies of their own. A variable assigned inside becomes an output of the statement
//! (the value it has after it); the bodies see the values it had before.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Pat};

use super::Lower;
use crate::ir::{Arm, Axis, Body, Branch, Carried, Head, Kind, Loop, Stmt, ValueId};

/// The code of one arm.
enum ArmSrc<'e> {
    Block(&'e syn::Block),
    Expr(&'e Expr),
    /// The `else` the user did not write.
    Empty,
}

impl ArmSrc<'_> {
    /// Whether the arm ends with an expression that gives its value.
    fn has_tail(&self) -> bool {
        match self {
            ArmSrc::Block(b) => matches!(b.stmts.last(), Some(syn::Stmt::Expr(e, None)) if !is_statement_like(e)),
            ArmSrc::Expr(e) => !is_statement_like(e),
            ArmSrc::Empty => false,
        }
    }
}

/// Everything a lowering attempt adds, so that it can be undone and redone.
struct Mark {
    values: usize,
    errors: usize,
    poisoned: usize,
    captures: usize,
}

impl Lower<'_> {
    /// `if`/`else` chains, `if let` and `match`. With `want_value`, every arm must end with a
    /// value: the branch's value.
    pub(super) fn branch(&mut self, e: &Expr, want_value: bool) -> Option<ValueId> {
        let span = e.span();
        let mut srcs: Vec<ArmSrc> = Vec::new();
        let mut heads: Vec<&Expr> = Vec::new();
        let mut match_arms: Vec<&syn::Arm> = Vec::new();
        let mut scrutinee = None;
        match e {
            Expr::If(first) => {
                let mut cur = first;
                loop {
                    heads.push(&cur.cond);
                    srcs.push(ArmSrc::Block(&cur.then_branch));
                    match cur.else_branch.as_ref().map(|(_, e)| &**e) {
                        Some(Expr::If(next)) => cur = next,
                        Some(Expr::Block(b)) => {
                            srcs.push(ArmSrc::Block(&b.block));
                            break;
                        }
                        Some(other) => {
                            srcs.push(ArmSrc::Expr(other));
                            break;
                        }
                        None => {
                            srcs.push(ArmSrc::Empty);
                            break;
                        }
                    }
                }
            }
            Expr::Match(m) => {
                scrutinee = Some(&*m.expr);
                for arm in &m.arms {
                    match_arms.push(arm);
                    srcs.push(ArmSrc::Expr(&arm.body));
                }
            }
            _ => return None,
        }

        // The conditions (or scrutinee), patterns and guards, renamed. They choose the arm and
        // are not differentiated; a pattern may bind only constants.
        let mut inputs = Vec::new();
        let mut bindings: Vec<Vec<ValueId>> = vec![Vec::new(); srcs.len()];
        let head = if let Some(scrut) = scrutinee {
            let (tokens, reads, active) = self.condition(scrut, false)?;
            inputs.extend(reads);
            let mut pats = Vec::new();
            for (k, arm) in match_arms.iter().enumerate() {
                bindings[k] = self.pattern_bindings(&arm.pat, active, scrut)?;
                let pat = &arm.pat;
                let guard = match &arm.guard {
                    Some((if_token, g)) => {
                        self.scopes.push(self.bound_names(&arm.pat, &bindings[k]));
                        let renamed = self.condition(g, false);
                        self.scopes.pop();
                        let (tokens, reads, _) = renamed?;
                        inputs.extend(reads);
                        quote!(#if_token #tokens)
                    }
                    None => TokenStream::new(),
                };
                pats.push(quote!(#pat #guard));
            }
            Head::Match { scrutinee: tokens, pats }
        } else {
            let mut conds = Vec::new();
            for (k, cond) in heads.iter().enumerate() {
                let tokens = match cond {
                    Expr::Let(l) => {
                        let (tokens, reads, active) = self.condition(&l.expr, false)?;
                        inputs.extend(reads);
                        bindings[k] = self.pattern_bindings(&l.pat, active, &l.expr)?;
                        let (let_token, pat, eq) = (&l.let_token, &l.pat, &l.eq_token);
                        quote!(#let_token #pat #eq #tokens)
                    }
                    other => {
                        let (tokens, reads, _) = self.condition(other, false)?;
                        inputs.extend(reads);
                        tokens
                    }
                };
                conds.push(tokens);
            }
            Head::If { conds }
        };

        // The variables the arms assign, with their values before the branch.
        let names = self.assigned(srcs.iter().filter_map(|s| match s {
            ArmSrc::Block(b) => Some(Assigned::Block(b)),
            ArmSrc::Expr(e) => Some(Assigned::Expr(e)),
            ArmSrc::Empty => None,
        }));
        let pre: Vec<ValueId> = names.iter().filter_map(|n| self.lookup(&n.1)).collect();
        if pre.len() != names.len() {
            return None;
        }

        let errors_before = self.cx.len();
        let mut arms = Vec::new();
        let mut missing_value = None;
        let mut failed = false;
        for (k, src) in srcs.iter().enumerate() {
            let mut scope = self.bound_names_of(&bindings[k]);
            scope.extend(names.iter().map(|n| n.0.clone()).zip(pre.iter().copied()));
            self.scopes.push(scope);
            let outer = std::mem::take(&mut self.stmts);
            let tail = match src {
                ArmSrc::Block(b) => self.block(&b.stmts),
                ArmSrc::Expr(e) => self.arm_expr(e),
                ArmSrc::Empty => None,
            };
            let mut results: Vec<ValueId> = names.iter().filter_map(|n| self.lookup(&n.1)).collect();
            let stmts = std::mem::replace(&mut self.stmts, outer);
            self.scopes.pop();
            if want_value {
                match tail {
                    Some(t) => results.insert(0, t),
                    // A tail that did not lower was reported where it failed.
                    None if src.has_tail() => failed = true,
                    None => missing_value = missing_value.or(Some(k)),
                }
            }
            arms.push(Arm { body: Body { stmts, ret: None, bound: bindings[k].clone() }, results });
        }
        if failed && missing_value.is_none() {
            return None;
        }
        if let Some(k) = missing_value {
            if self.cx.len() == errors_before {
                let what = match srcs[k] {
                    ArmSrc::Empty => {
                        "this `if` has no `else`, so it has no value when the condition is false: add an `else` arm"
                    }
                    _ => "every arm of a branch used as a value must end with a value (an expression without `;`)",
                };
                self.cx.push(syn::Error::new(span, crate::ctxt::layout(what)));
            }
            return None;
        }

        // One output per position; a position where every arm gives the same value needs none.
        let npos = arms.first().map_or(0, |a| a.results.len());
        let mut outs = Vec::new();
        let mut value_of = Vec::new();
        let mut keep = Vec::new();
        for j in 0..npos {
            let first = arms[0].results[j];
            if arms.iter().all(|a| a.results[j] == first) {
                value_of.push(first);
                continue;
            }
            let active = arms.iter().any(|a| self.values[a.results[j]].active);
            let hint =
                if want_value && j == 0 { "branch".to_string() } else { names[j - usize::from(want_value)].0.clone() };
            let out = self.fresh(&hint, Kind::Node, active, span);
            // Every arm has the branch's type: one owned result makes it owned.
            self.values[out].owned = arms.iter().any(|a| self.values[a.results[j]].owned);
            outs.push(out);
            keep.push(j);
            value_of.push(out);
        }
        for arm in &mut arms {
            arm.results = keep.iter().map(|&j| arm.results[j]).collect();
        }
        let tape = self.fresh("branch", Kind::Node, false, span);
        self.stmts.push(Stmt::Branch(Box::new(Branch { head, arms, outs, tape, inputs, span })));
        let offset = usize::from(want_value);
        for (n, &v) in names.iter().zip(&value_of[offset..]) {
            self.rebind(&n.0, v);
        }
        want_value.then(|| value_of[0])
    }

    /// A `for` loop over a constant iterable, or over the columns, rows or entries of a
    /// differentiated matrix (see [`Self::matrix_iteration`]).
    pub(super) fn for_loop(&mut self, f: &syn::ExprForLoop) {
        self.for_loop_over(f, None)
    }

    /// A `for` loop; `sized_by`: the matrix whose columns, rows or entries it runs over.
    fn for_loop_over(&mut self, f: &syn::ExprForLoop, sized_by: Option<(ValueId, Axis)>) {
        if let Some(label) = &f.label {
            return self.cx.error_spanned_by(label, "loop labels are not supported in a `#[differentiate]` body");
        }
        if let Some(rewritten) = self.field_loop(f) {
            return self.for_loop(&rewritten);
        }
        let Some((mut iter, mut inputs, mut active)) = self.condition(&f.expr, false) else { return };
        if active {
            // The iterable may read skipped fields of a differentiated struct (`0..p.steps`).
            let Some(c) = self.condition(&f.expr, true) else { return };
            (iter, inputs, active) = c;
        }
        if active {
            if let Some((rewritten, sized_by)) = self.matrix_iteration(f) {
                return self.for_loop_over(&rewritten, sized_by);
            }
            return self.cx.error_spanned_by(
                &f.expr,
                "a loop must run over constants (a range such as `0..n`, or a constant collection) or over a differentiated matrix's `column_iter()`, `row_iter()` or `iter()` (with `enumerate()` and `zip` with constants), not over other iterators of a differentiated value: loop over indices, as in `for j in 0..m.ncols() { let col = m.column(j); … }`",
            );
        }
        let fixed_len = fixed_len(&f.expr, inputs.is_empty());
        let unbounded = matches!(&*f.expr, Expr::Range(r) if r.end.is_none());
        let names = self.assigned(std::iter::once(Assigned::Block(&f.body)));
        // `if !flag { break; }` first, with a flag the body assigns: the loop's stopping
        // condition (from `desugar`). Otherwise the statement stays (and its `break` is refused).
        let (stop_flag, body_stmts) = match f.body.stmts.split_first() {
            Some((first, rest)) => match crate::desugar::stop_flag(first) {
                Some(flag) if names.iter().any(|n| n.0 == flag) => (Some(flag), rest),
                _ => (None, &f.body.stmts[..]),
            },
            None => (None, &f.body.stmts[..]),
        };
        let before: Vec<ValueId> = names.iter().filter_map(|n| self.lookup(&n.1)).collect();
        if before.len() != names.len() {
            return;
        }
        let span = f.span();

        // A variable is differentiated in the loop if it is before it, or becomes so in the
        // body: lower the body again until that is settled.
        let mut active: Vec<bool> = before.iter().map(|&b| self.values[b].active).collect();
        let mark = self.mark();
        let (vars, inners, body_stmts, results) = loop {
            // The pattern's bindings are constants, as the iterable is.
            let Some(vars) = self.pattern_bindings(&f.pat, false, &f.expr) else { return };
            let inners: Vec<ValueId> =
                names.iter().zip(&active).map(|(n, &a)| self.fresh(&n.0, Kind::Node, a, n.1.span())).collect();
            for (&inner, &b) in inners.iter().zip(&before) {
                self.values[inner].owned = self.values[b].owned;
            }
            let mut scope: Vec<(String, ValueId)> =
                names.iter().map(|n| n.0.clone()).zip(inners.iter().copied()).collect();
            scope.extend(self.bound_names_of(&vars));
            self.scopes.push(scope);
            let outer = std::mem::take(&mut self.stmts);
            self.block(body_stmts);
            let results: Vec<ValueId> = names.iter().filter_map(|n| self.lookup(&n.1)).collect();
            let stmts = std::mem::replace(&mut self.stmts, outer);
            self.scopes.pop();
            let grown: Vec<bool> = active.iter().zip(&results).map(|(&a, &r)| a || self.values[r].active).collect();
            if grown == active || results.len() != names.len() {
                break (vars, inners, stmts, results);
            }
            active = grown;
            self.undo(&mark);
        };
        if results.len() != names.len() {
            return;
        }
        let mut carried = Vec::new();
        let mut bound: Vec<ValueId> = vars.clone();
        for (k, n) in names.iter().enumerate() {
            let out = self.fresh(&n.0, Kind::Node, active[k], span);
            // The variable keeps its type through the loop.
            self.values[out].owned = self.values[before[k]].owned || self.values[results[k]].owned;
            carried.push(Carried { before: before[k], inner: inners[k], result: results[k], out });
            bound.push(inners[k]);
            self.rebind(&n.0, out);
        }
        let tape = self.fresh("tape", Kind::Node, false, span);
        let body = Body { stmts: body_stmts, ret: None, bound };
        let pat = f.pat.to_token_stream();
        let stop = stop_flag.and_then(|flag| names.iter().position(|n| n.0 == flag));

        inputs.extend(sized_by.map(|(m, _)| m));
        let l = Loop { pat, iter, inputs, fixed_len, carried, stop, unbounded, sized_by, body, tape, span };
        self.stmts.push(Stmt::Loop(Box::new(l)));
    }

    /// A loop over the columns, rows or entries of a differentiated matrix, rewritten as a loop
    /// over their indices, so that each iteration's adjoint goes back into the place it came
    /// from. `None` when the iterable is not of this form.
    ///
    /// Input: `for (k, c) in x.column_iter().enumerate() { body }`
    /// Output: `for (k, __mg_k) in (0..x.ncols()).enumerate() { let c = x.column(__mg_k); body }`
    fn matrix_iteration(&mut self, f: &syn::ExprForLoop) -> Option<(syn::ExprForLoop, Option<(ValueId, Axis)>)> {
        let index = quote::format_ident!("__mg_k{}", self.values.len());
        let mut hoisted = None;
        let mut base = None;
        let (iter, pat, prefix) = self.iteration_parts(&f.expr, &f.pat, &index, &mut hoisted, &mut base)?;
        if let Some(syn::Stmt::Local(local)) = hoisted {
            self.local(&local);
        }
        let sized_by = base.and_then(|(e, axis)| Some((self.expr(&e)?, axis)));
        let mut f = f.clone();
        f.expr = Box::new(iter);
        f.pat = Box::new(pat);
        let at = usize::from(f.body.stmts.first().and_then(crate::desugar::stop_flag).is_some());
        f.body.stmts.insert(at, prefix);
        Some((f, sized_by))
    }

    /// The iterable, the loop's pattern and the binding of the user's pattern `pat`, for an
    /// iteration over a differentiated matrix through `iter` (its adaptors peeled one by one).
    fn iteration_parts(
        &mut self,
        iter: &Expr,
        pat: &Pat,
        index: &syn::Ident,
        hoisted: &mut Option<syn::Stmt>,
        base_out: &mut Option<(Expr, Axis)>,
    ) -> Option<(Expr, Pat, syn::Stmt)> {
        let Expr::MethodCall(m) = iter else { return None };
        let method = m.method.to_string();
        let pair = |p: &Pat| match p {
            Pat::Tuple(t) if t.elems.len() == 2 => Some((t.elems[0].clone(), t.elems[1].clone())),
            _ => None,
        };
        match (method.as_str(), m.args.len()) {
            ("enumerate", 0) => {
                let (i, p) = pair(pat)?;
                let (it, lp, prefix) = self.iteration_parts(&m.receiver, &p, index, hoisted, base_out)?;
                Some((syn::parse_quote!((#it).enumerate()), syn::parse_quote!((#i, #lp)), prefix))
            }
            ("zip", 1) => {
                let (a, b) = pair(pat)?;
                let other = &m.args[0];
                if let Some((it, lp, prefix)) = self.iteration_parts(&m.receiver, &a, index, hoisted, base_out) {
                    if self.reads_active(other) {
                        return None;
                    }
                    return Some((syn::parse_quote!((#it).zip(#other)), syn::parse_quote!((#lp, #b)), prefix));
                }
                let (it, lp, prefix) = self.iteration_parts(other, &b, index, hoisted, base_out)?;
                let recv = &m.receiver;
                if self.reads_active(recv) {
                    return None;
                }
                Some((syn::parse_quote!((#recv).zip(#it)), syn::parse_quote!((#a, #lp)), prefix))
            }
            ("column_iter" | "row_iter" | "iter", 0) => {
                if !self.reads_active(&m.receiver) || hoisted.is_some() {
                    return None;
                }
                let base: Expr = match &*m.receiver {
                    Expr::Path(p) if p.path.get_ident().is_some() => (*m.receiver).clone(),
                    other => {
                        // Computed once, before the loop, as the iterator would be.
                        let tmp = quote::format_ident!("__mg_iterated{}", self.values.len());
                        *hoisted = Some(syn::parse_quote!(let #tmp = #other;));
                        syn::parse_quote!(#tmp)
                    }
                };
                let (count, item, axis): (Expr, Expr, Axis) = match method.as_str() {
                    "column_iter" => {
                        (syn::parse_quote!(#base.ncols()), syn::parse_quote!(#base.column(#index)), Axis::Columns)
                    }
                    "row_iter" => (syn::parse_quote!(#base.nrows()), syn::parse_quote!(#base.row(#index)), Axis::Rows),
                    _ => (syn::parse_quote!(#base.len()), syn::parse_quote!(#base[#index]), Axis::Entries),
                };
                *base_out = Some((base.clone(), axis));
                // `for &v in x.iter()`: the entry itself.
                let pat = match pat {
                    Pat::Reference(r) => &*r.pat,
                    p => p,
                };
                Some((syn::parse_quote!(0..#count), syn::parse_quote!(#index), syn::parse_quote!(let #pat = #item;)))
            }
            _ => None,
        }
    }

    /// The code after `=>` in a match arm.
    fn arm_expr(&mut self, e: &Expr) -> Option<ValueId> {
        match e {
            Expr::Block(b) if b.label.is_none() => self.block(&b.block.stmts),
            e if is_statement_like(e) => {
                self.expr_stmt(e);
                None
            }
            e => self.expr(e),
        }
    }

    /// A condition, scrutinee, guard or iterable: renamed, with the values it reads and
    /// whether one of them is differentiated.
    fn condition(&mut self, e: &Expr, const_fields: bool) -> Option<(TokenStream, Vec<ValueId>, bool)> {
        let (copy, mut reads, shape_reads) = self.renamed(e, const_fields);
        if self.touched_poison {
            return None;
        }
        let active = reads.iter().any(|&v| self.values[v].active);
        reads.extend(shape_reads);
        Some((copy.to_token_stream(), reads, active))
    }

    /// The values a pattern binds (constants). A pattern on a differentiated value may bind
    /// nothing: what it binds would be taken for a constant.
    fn pattern_bindings(&mut self, pat: &Pat, scrutinee_active: bool, scrutinee: &Expr) -> Option<Vec<ValueId>> {
        let mut idents = Vec::new();
        binding_idents(pat, &mut idents);
        if scrutinee_active && !idents.is_empty() {
            self.cx.error_spanned_by(
                pat,
                format!(
                    "this pattern binds `{}` from `{}`, which depends on a differentiated parameter; a binding would lose its derivative: bind the value with `let` (as in `let v = m.try_inverse().unwrap();`) and branch on a constant",
                    idents[0],
                    scrutinee.to_token_stream()
                ),
            );
            return None;
        }
        let ids: Vec<ValueId> =
            idents.into_iter().map(|i| self.push_value(i.clone(), Kind::Node, false, i.span())).collect();
        for &v in &ids {
            self.values[v].borrowed = true;
        }
        Some(ids)
    }

    fn bound_names(&self, pat: &Pat, ids: &[ValueId]) -> Vec<(String, ValueId)> {
        let mut idents = Vec::new();
        binding_idents(pat, &mut idents);
        idents.iter().map(|i| i.to_string()).zip(ids.iter().copied()).collect()
    }

    fn bound_names_of(&self, ids: &[ValueId]) -> Vec<(String, ValueId)> {
        ids.iter().map(|&v| (self.values[v].ident.to_string(), v)).collect()
    }

    /// The variables assigned in `srcs` that are bound outside them (and, in a `map` closure,
    /// inside the closure), in order of first assignment.
    fn assigned<'e>(&self, srcs: impl Iterator<Item = Assigned<'e>>) -> Vec<(String, syn::Ident)> {
        let mut v = AssignedNames::default();
        for s in srcs {
            match s {
                Assigned::Block(b) => v.visit_block(b),
                Assigned::Expr(e) => v.visit_expr(e),
            }
        }
        let base = self.closure.as_ref().map_or(0, |f| f.base);
        let mut out: Vec<(String, syn::Ident)> = Vec::new();
        for ident in v.names {
            let name = ident.to_string();
            if out.iter().any(|(n, _)| *n == name) {
                continue;
            }
            if self.binding(&ident).is_some_and(|(depth, _)| depth >= base) {
                out.push((name, ident));
            }
        }
        out
    }

    /// Points the innermost binding of `name` at `value`.
    fn rebind(&mut self, name: &str, value: ValueId) {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.iter_mut().rev().find(|(n, _)| n == name) {
                entry.1 = value;
                return;
            }
        }
    }

    fn mark(&self) -> Mark {
        Mark {
            values: self.values.len(),
            errors: self.cx.len(),
            poisoned: self.poisoned.len(),
            captures: self.closure.as_ref().map_or(0, |f| f.captures.len()),
        }
    }

    fn undo(&mut self, m: &Mark) {
        self.values.truncate(m.values);
        self.cx.truncate(m.errors);
        self.poisoned.truncate(m.poisoned);
        if let Some(f) = self.closure.as_mut() {
            f.captures.truncate(m.captures);
        }
    }
}

enum Assigned<'e> {
    Block(&'e syn::Block),
    Expr(&'e Expr),
}

#[derive(Default)]
struct AssignedNames {
    names: Vec<syn::Ident>,
}

impl<'ast> Visit<'ast> for AssignedNames {
    fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
        self.names.extend(super::update::target(&a.left));
        syn::visit::visit_expr_assign(self, a);
    }

    fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
        if super::compound(&b.op).is_some() {
            self.names.extend(super::update::target(&b.left));
        }
        syn::visit::visit_expr_binary(self, b);
    }

    // `m.set_column(j, &v);` and the other in-place updates assign `m`.
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        if super::update::is_in_place(m) {
            self.names.extend(super::update::target(&m.receiver));
        }
        syn::visit::visit_expr_method_call(self, m);
    }

    // A closure cannot assign outside itself (reported where it is lowered); items are apart.
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// The identifiers a pattern binds (an uppercase identifier is a constant or a unit variant).
fn binding_idents(pat: &Pat, out: &mut Vec<syn::Ident>) {
    let mut all = Vec::new();
    crate::rename::pat_idents(pat, &mut all);
    out.extend(all.into_iter().filter(|i| !i.to_string().starts_with(|c: char| c.is_ascii_uppercase())));
}

/// Statements that have no value: assignments, loops, and branches whose arms end with `;`.
pub(super) fn is_statement_like(e: &Expr) -> bool {
    match e {
        Expr::Assign(_) | Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => true,
        Expr::Binary(b) => super::compound(&b.op).is_some(),
        Expr::Block(b) if b.label.is_none() => block_is_unit(&b.block),
        // `m.fill(s)`: an in-place update returns `()`.
        Expr::MethodCall(m) => super::update::is_in_place(m),
        Expr::If(i) => {
            block_is_unit(&i.then_branch)
                && i.else_branch.as_ref().is_none_or(|(_, e)| match &**e {
                    Expr::Block(b) => block_is_unit(&b.block),
                    other => is_statement_like(other),
                })
        }
        Expr::Match(m) => m.arms.iter().all(|a| match &*a.body {
            Expr::Block(b) => block_is_unit(&b.block),
            other => is_statement_like(other),
        }),
        _ => false,
    }
}

fn block_is_unit(b: &syn::Block) -> bool {
    match b.stmts.last() {
        None => true,
        Some(syn::Stmt::Expr(e, None)) => is_statement_like(e),
        Some(_) => true,
    }
}

/// The trip count of `a..b` or `a..=b` when it is known at compile time: integer literals, or
/// `0..N` with `N` a constant.
fn fixed_len(iter: &Expr, constant: bool) -> Option<TokenStream> {
    let Expr::Range(r) = iter else { return None };
    let int = |e: &Expr| match e {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => i.base10_parse::<usize>().ok(),
        _ => None,
    };
    let closed = matches!(r.limits, syn::RangeLimits::Closed(_));
    let start = r.start.as_deref()?;
    let end = r.end.as_deref()?;
    match (int(start), int(end)) {
        (Some(a), Some(b)) => {
            let n = (b + usize::from(closed)).saturating_sub(a);
            Some(proc_macro2::Literal::usize_unsuffixed(n).into_token_stream())
        }
        (Some(0), None) if constant && !closed => match end {
            Expr::Path(p) if p.qself.is_none() => Some(p.to_token_stream()),
            _ => None,
        },
        _ => None,
    }
}
