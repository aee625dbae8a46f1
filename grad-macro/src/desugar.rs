//! Desugaring: the body rewritten, syn to syn, into the smaller language that the lowering
//! knows. Every rewrite is exact: the rewritten body computes what the original computes, on
//! every path, and is itself valid Rust.
//!
//! - Early exits (`return`, `break`, `continue`, labelled or not, `break value`) become
//!   assignments to flags, and what follows an exit in its block runs under a guard on them. A
//!   branch whose arms either end with an exit or have none (a guard clause) takes the rest of
//!   the block into the arm that falls through, so the common case needs no flag.
//! - `while` and `loop` become a `for` over the unbounded range `0usize..` that stops once a
//!   flag is cleared; a loop that may stop early checks its flag first in each iteration (the
//!   lowering turns that check into the loop's stopping condition).
//! - `let (a, b) = (e₁, e₂);` binds each part; `let (s, c) = x.sin_cos();` is
//!   `let (s, c) = (x.sin(), x.cos());`.
//!
//! Closures are bodies of their own: a `return` in a closure gives the closure's value.
//!
//! Input:
//! ```text
//! let r = (x * w).norm_squared();
//! if r > cap { return (cap * r).sqrt(); }
//! r
//! ```
//! Output:
//! ```text
//! let r = (x * w).norm_squared();
//! if r > cap { (cap * r).sqrt() } else { r }
//! ```
//!
//! Input:
//! ```text
//! for k in 0..n {
//!     cost += step(k);
//!     if cost > budget { return cost; }
//!     cost *= decay;
//! }
//! cost
//! ```
//! Output:
//! ```text
//! let mut __mg_live = true;
//! let mut __mg_ret = ::matgrad::__private::placeholder::<f64>();
//! let mut __mg_go0 = true;
//! for k in 0..n {
//!     if !__mg_go0 { break; }
//!     let mut __mg_run0 = true;
//!     cost += step(k);
//!     if cost > budget {
//!         __mg_run0 = false; __mg_go0 = false; __mg_ret = cost; __mg_live = false;
//!     } else {
//!         cost *= decay;
//!     }
//! }
//! if __mg_live { cost } else { __mg_ret }
//! ```

mod leaves;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{parse_quote, parse_quote_spanned, Block, Expr, Ident, Pat, Stmt};

use crate::ctxt::Ctxt;
use leaves::Leaves;

/// Desugars the body of a function returning `ret`.
pub fn function(cx: &Ctxt, block: &Block, ret: &syn::Type) -> Block {
    check_attributes(cx, block);
    if !block.stmts.iter().any(|s| Leaves::of_stmt(&[], s).any() || needs_rewrite(s) || has_closure_to_rewrite(s)) {
        // Nothing to rewrite: the body as written (a final `return v;` is its value).
        return block.clone();
    }
    let mut block = block.clone();
    let mut next = 0;
    // Closures first, each a body of its own.
    Closures { cx, next: &mut next }.visit_block_mut(&mut block);
    let stmts = body(cx, &mut next, &block.stmts, Some(ret.to_token_stream()));
    Block { brace_token: block.brace_token, stmts }
}

/// The statements of a function's or closure's body, desugared; `ret` is the type of its value
/// when it is known.
fn body(cx: &Ctxt, next: &mut usize, stmts: &[Stmt], ret: Option<TokenStream>) -> Vec<Stmt> {
    let mut d = Desugar { cx, loops: Vec::new(), next: *next, live_used: false, ret_used: false };
    let mut out = d.block(stmts, Pos::Result);
    *next = d.next;
    let mut head: Vec<Stmt> = Vec::new();
    if d.live_used {
        let live = live();
        head.push(parse_quote!(let mut #live = true;));
    }
    if d.ret_used {
        let r = ret_var();
        let value = placeholder(ret);
        head.push(parse_quote!(let mut #r = #value;));
    }
    head.append(&mut out);
    head
}

/// `#[cfg]` and `#[cfg_attr]` inside the body (on a statement, an expression, a match arm)
/// are errors: the macro cannot evaluate them, so the gradient would differentiate the code
/// whatever the configuration. Lint attributes (`#[allow]`, …) change nothing and are kept.
fn check_attributes(cx: &Ctxt, block: &Block) {
    struct Attrs<'c>(&'c Ctxt);
    impl<'a> syn::visit::Visit<'a> for Attrs<'_> {
        fn visit_attribute(&mut self, a: &'a syn::Attribute) {
            if a.path().is_ident("cfg") || a.path().is_ident("cfg_attr") {
                self.0.error_spanned_by(a, "`#[cfg]` inside a `#[differentiate]` body is not supported: the macro cannot see which code is configured in; branch on `cfg!(…)` instead (`if cfg!(feature = \"x\") { … }`, when both configurations compile), or configure the whole function");
            }
        }
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    syn::visit::Visit::visit_block(&mut Attrs(cx), block);
}

/// Rewrites the body of every closure the macro differentiates (the argument of `map`,
/// `zip_map` or a `from_fn` constructor), innermost first. Other closures are constants, kept
/// as written.
struct Closures<'c, 'n> {
    cx: &'c Ctxt,
    next: &'n mut usize,
}

impl VisitMut for Closures<'_, '_> {
    fn visit_expr_method_call_mut(&mut self, m: &mut syn::ExprMethodCall) {
        syn::visit_mut::visit_expr_method_call_mut(self, m);
        if matches!(m.method.to_string().as_str(), "map" | "zip_map") {
            m.args.iter_mut().for_each(|a| self.differentiated(a));
        }
    }

    fn visit_expr_call_mut(&mut self, c: &mut syn::ExprCall) {
        syn::visit_mut::visit_expr_call_mut(self, c);
        let from_fn = matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "from_fn"));
        if from_fn {
            c.args.iter_mut().for_each(|a| self.differentiated(a));
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

impl Closures<'_, '_> {
    /// Rewrites `arg`'s body when it is a closure.
    fn differentiated(&mut self, arg: &mut Expr) {
        let Expr::Closure(c) = arg else { return };
        let stmts = match &*c.body {
            Expr::Block(b) if b.label.is_none() => b.block.stmts.clone(),
            other => vec![Stmt::Expr(other.clone(), None)],
        };
        if !stmts.iter().any(|s| Leaves::of_stmt(&[], s).any() || needs_rewrite(s)) {
            return;
        }
        let span = c.body.span();
        let stmts = body(self.cx, self.next, &stmts, None);
        *c.body = parse_quote_spanned!(span=> { #(#stmts)* });
    }
}

/// Whether a statement holds a closure whose body has an exit (or another rewrite).
fn has_closure_to_rewrite(s: &Stmt) -> bool {
    struct Finder(bool);
    impl<'a> syn::visit::Visit<'a> for Finder {
        fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
            let stmt = Stmt::Expr((*c.body).clone(), None);
            self.0 |= Leaves::of_stmt(&[], &stmt).any() || needs_rewrite(&stmt);
            syn::visit::visit_expr_closure(self, c);
        }
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    let mut f = Finder(false);
    syn::visit::Visit::visit_stmt(&mut f, s);
    f.0
}

/// Whether a statement holds a construct that is rewritten even without exits: `while`,
/// `loop`, labels, tuple patterns.
fn needs_rewrite(s: &Stmt) -> bool {
    struct Finder(bool);
    impl<'a> syn::visit::Visit<'a> for Finder {
        fn visit_expr_while(&mut self, _: &'a syn::ExprWhile) {
            self.0 = true;
        }
        fn visit_expr_loop(&mut self, _: &'a syn::ExprLoop) {
            self.0 = true;
        }
        fn visit_label(&mut self, _: &'a syn::Label) {
            self.0 = true;
        }
        fn visit_expr_break(&mut self, _: &'a syn::ExprBreak) {
            self.0 = true;
        }
        fn visit_expr_continue(&mut self, _: &'a syn::ExprContinue) {
            self.0 = true;
        }
        fn visit_expr_return(&mut self, _: &'a syn::ExprReturn) {
            self.0 = true;
        }
        fn visit_local(&mut self, l: &'a syn::Local) {
            self.0 |= matches!(untyped(&l.pat), Pat::Tuple(_));
            syn::visit::visit_local(self, l);
        }
        fn visit_expr_closure(&mut self, _: &'a syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'a syn::Item) {}
    }
    let mut f = Finder(false);
    syn::visit::Visit::visit_stmt(&mut f, s);
    f.0
}

/// Where a block's value goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pos {
    /// Nowhere: a statement.
    Stmt,
    /// Into an expression (a `let`, a branch used as a value).
    Value,
    /// It is the value of the function (or closure), and no loop encloses it.
    Result,
}

/// A loop being rewritten.
struct LoopCx {
    label: Option<String>,
    id: usize,
    /// The variable that `break value` assigns.
    value: Option<Ident>,
    /// A `break value` leaves this loop (a `loop` without one has no value but diverges).
    valued: bool,
}

struct Desugar<'c> {
    cx: &'c Ctxt,
    /// The loops enclosing the code being rewritten, innermost last.
    loops: Vec<LoopCx>,
    next: usize,
    live_used: bool,
    ret_used: bool,
}

/// An exit statement.
enum Exit<'e> {
    Return(&'e syn::ExprReturn),
    Break(&'e syn::ExprBreak),
    Continue(&'e syn::ExprContinue),
}

/// How the derivation shows a variable this stage introduced (`__mg_ret` is `returned`).
pub fn shown_name(base: &str) -> Option<&'static str> {
    let kind = base.strip_prefix("__mg_")?.trim_end_matches(|c: char| c.is_ascii_digit());
    Some(match kind {
        "live" => "running",
        "ret" => "returned",
        "go" => "looping",
        "run" => "iterating",
        "value" => "loop_value",
        "part" | "tuple" => "part",
        _ => return None,
    })
}

/// Whether `ts` is the placeholder this stage gives a value set by an exit before it is set
/// (`::matgrad::__private::placeholder::<T>()`).
pub fn is_placeholder(ts: &proc_macro2::TokenStream) -> bool {
    let idents: Vec<String> = ts
        .clone()
        .into_iter()
        .filter_map(|t| match t {
            proc_macro2::TokenTree::Ident(i) => Some(i.to_string()),
            _ => None,
        })
        .collect();
    idents.starts_with(&["matgrad".into(), "__private".into(), "placeholder".into()])
}

fn live() -> Ident {
    format_ident!("__mg_live", span = Span::mixed_site())
}

fn ret_var() -> Ident {
    format_ident!("__mg_ret", span = Span::mixed_site())
}

/// Whether the loop goes on (cleared by an exit that leaves it).
fn go(id: usize) -> Ident {
    format_ident!("__mg_go{}", id, span = Span::mixed_site())
}

/// Whether the current iteration goes on (cleared by any exit inside it).
fn run(id: usize) -> Ident {
    format_ident!("__mg_run{}", id, span = Span::mixed_site())
}

/// A loop's stopping check as [`Desugar::looped`] writes it first in the body,
/// `if !flag { break; }`: the flag. The lowering turns it into the loop's stopping condition.
pub fn stop_flag(s: &Stmt) -> Option<String> {
    let Stmt::Expr(Expr::If(i), _) = s else { return None };
    let Expr::Unary(syn::ExprUnary { op: syn::UnOp::Not(_), expr, .. }) = &*i.cond else { return None };
    let Expr::Path(p) = &**expr else { return None };
    let flag = p.path.get_ident()?;
    let is_break = |s: &Stmt| matches!(s, Stmt::Expr(Expr::Break(b), _) if b.label.is_none() && b.expr.is_none());
    match i.then_branch.stmts.as_slice() {
        [only] if is_break(only) && i.else_branch.is_none() => Some(flag.to_string()),
        _ => None,
    }
}

/// `::matgrad::__private::placeholder::<T>()` (the type inferred when `ty` is `None`): the
/// value of a variable an exit sets, before it is set.
fn placeholder(ty: Option<TokenStream>) -> Expr {
    let ty = ty.map(|t| quote!(::<#t>));
    parse_quote!(::matgrad::__private::placeholder #ty ())
}

fn untyped(p: &Pat) -> &Pat {
    match p {
        Pat::Type(t) => &t.pat,
        other => other,
    }
}

fn exit_of(s: &Stmt) -> Option<Exit<'_>> {
    match s {
        Stmt::Expr(e, _) => exit_expr(e),
        _ => None,
    }
}

fn exit_expr(e: &Expr) -> Option<Exit<'_>> {
    match e {
        Expr::Return(r) => Some(Exit::Return(r)),
        Expr::Break(b) => Some(Exit::Break(b)),
        Expr::Continue(c) => Some(Exit::Continue(c)),
        Expr::Paren(p) => exit_expr(&p.expr),
        _ => None,
    }
}

impl<'c> Desugar<'c> {
    fn leaves(&self, s: &Stmt) -> Leaves {
        Leaves::of_stmt(&self.labels(), s)
    }

    fn labels(&self) -> Vec<Option<String>> {
        self.loops.iter().map(|l| l.label.clone()).collect()
    }

    /// The flag that says the code being rewritten still runs.
    fn running(&mut self) -> Ident {
        match self.loops.last() {
            Some(l) => run(l.id),
            None => {
                self.live_used = true;
                live()
            }
        }
    }

    /// The value a block in `pos` ends with when an exit left it.
    fn exited_value(&mut self, pos: Pos) -> Option<Stmt> {
        match pos {
            Pos::Stmt => None,
            Pos::Value => Some(Stmt::Expr(placeholder(None), None)),
            Pos::Result => {
                self.ret_used = true;
                let r = ret_var();
                Some(Stmt::Expr(parse_quote!(#r), None))
            }
        }
    }

    /// Rewrites a block whose value goes to `pos`.
    fn block(&mut self, stmts: &[Stmt], pos: Pos) -> Vec<Stmt> {
        let mut out = Vec::new();
        for (i, s) in stmts.iter().enumerate() {
            let rest = &stmts[i + 1..];
            if let Some(exit) = exit_of(s) {
                self.exit(exit, pos, &mut out);
                return out;
            }
            if let Some(nested) = self.nest(s, rest, pos) {
                out.push(nested);
                return out;
            }
            let leaves = self.leaves(s).any();
            let tail = rest.is_empty() && matches!(s, Stmt::Expr(_, None));
            out.extend(self.stmt(s, if tail { pos } else { Pos::Stmt }));
            if !leaves || tail {
                continue;
            }
            // What follows runs only while nothing has exited.
            let running = self.running();
            let mut inner = self.block(rest, pos);
            match self.exited_value(pos) {
                None if inner.is_empty() => {}
                None => out.push(parse_quote!(if #running { #(#inner)* })),
                Some(exited) => {
                    // A block with a value whose rest has none diverges (Rust accepts it only
                    // so: `let _x = loop { … return v; };` last in the function). When it
                    // runs to here, the exit has happened: the value is the exit's.
                    if !matches!(inner.last(), Some(Stmt::Expr(_, None))) {
                        inner.push(Stmt::Expr(placeholder(None), None));
                    }
                    out.push(Stmt::Expr(parse_quote!(if #running { #(#inner)* } else { #exited }), None))
                }
            }
            return out;
        }
        out
    }

    /// An exit: the flags it clears, and the value the block then ends with.
    fn exit(&mut self, exit: Exit, pos: Pos, out: &mut Vec<Stmt>) {
        match exit {
            Exit::Return(r) => {
                let Some(value) = &r.expr else {
                    return self.cx.error_spanned_by(r, "`return` needs the value: write `return value;`");
                };
                if pos == Pos::Result {
                    out.push(Stmt::Expr((**value).clone(), None));
                    return;
                }
                for l in &self.loops {
                    let (g, r) = (go(l.id), run(l.id));
                    out.push(parse_quote!(#r = false;));
                    out.push(parse_quote!(#g = false;));
                }
                let (ret, live) = (ret_var(), live());
                out.push(parse_quote!(#ret = #value;));
                out.push(parse_quote!(#live = false;));
                self.ret_used = true;
                self.live_used = true;
            }
            Exit::Break(b) => {
                let Some(t) = self.target(b.label.as_ref(), b) else { return };
                for l in &self.loops[t..] {
                    let (g, r) = (go(l.id), run(l.id));
                    out.push(parse_quote!(#r = false;));
                    out.push(parse_quote!(#g = false;));
                }
                match (&b.expr, &self.loops[t].value) {
                    (Some(v), Some(var)) => {
                        out.push(parse_quote!(#var = #v;));
                        self.loops[t].valued = true;
                    }
                    (Some(v), None) => self.cx.error_spanned_by(
                        v,
                        "`break` with a value leaves a `loop` only: write `let x = loop { … break value; };`",
                    ),
                    (None, _) => {}
                }
            }
            Exit::Continue(c) => {
                let Some(t) = self.target(c.label.as_ref(), c) else { return };
                for (k, l) in self.loops[t..].iter().enumerate() {
                    let r = run(l.id);
                    out.push(parse_quote!(#r = false;));
                    if k > 0 {
                        let g = go(l.id);
                        out.push(parse_quote!(#g = false;));
                    }
                }
            }
        }
        out.extend(self.exited_value(pos));
    }

    /// The index of the loop a `break` or `continue` leaves.
    fn target(&self, label: Option<&syn::Lifetime>, at: &dyn ToTokens) -> Option<usize> {
        let found = match label {
            None => self.loops.len().checked_sub(1),
            Some(l) => {
                let name = l.ident.to_string();
                self.loops.iter().rposition(|c| c.label.as_deref() == Some(name.as_str()))
            }
        };
        if found.is_none() {
            self.cx.error_spanned_by(at, "this `break` or `continue` has no loop to leave in a `#[differentiate]` body (labelled blocks are not supported)");
        }
        found
    }

    /// A guard clause: `if c { …; exit } rest` (or a `match` whose arms end with an exit or
    /// have none, at most one having none) becomes `if c { …; exit } else { rest }`.
    fn nest(&mut self, s: &Stmt, rest: &[Stmt], pos: Pos) -> Option<Stmt> {
        let Stmt::Expr(e @ (Expr::If(_) | Expr::Match(_)), _) = s else { return None };
        if rest.is_empty() {
            return None;
        }
        let labels = self.labels();
        let arms = arm_kinds(e, &labels)?;
        let falls = arms.iter().filter(|&&k| k == ArmKind::Falls).count();
        if falls > 1 || falls == arms.len() || arms.contains(&ArmKind::Other) {
            return None;
        }
        let new = self.map_arms(e, &mut |d, stmts, kind| match kind {
            ArmKind::Exits => d.block(stmts, pos),
            _ => {
                let mut all: Vec<Stmt> = Vec::new();
                if !stmts.is_empty() {
                    // The arm's own bindings stay in a block of their own.
                    all.push(Stmt::Expr(parse_quote!({ #(#stmts)* }), None));
                }
                all.extend(rest.iter().cloned());
                d.block(&all, pos)
            }
        });
        Some(Stmt::Expr(new, None))
    }

    /// Rebuilds a branch with each arm's statements rewritten by `f`; an `if` without `else`
    /// gets one (empty) when `f` gives it statements.
    fn map_arms(&mut self, e: &Expr, f: &mut ArmRewrite<'_, 'c>) -> Expr {
        let labels = self.labels();
        match e {
            Expr::If(i) => {
                let mut i = i.clone();
                let kind = ArmKind::of(&i.then_branch.stmts, &labels);
                i.then_branch.stmts = f(self, &i.then_branch.stmts, kind);
                let else_expr = match i.else_branch.take() {
                    Some((tok, other)) => match *other {
                        Expr::If(_) => Some((tok, Box::new(self.map_arms(&other, f)))),
                        Expr::Block(mut b) => {
                            let kind = ArmKind::of(&b.block.stmts, &labels);
                            b.block.stmts = f(self, &b.block.stmts, kind);
                            Some((tok, Box::new(Expr::Block(b))))
                        }
                        other => Some((tok, Box::new(other))),
                    },
                    None => {
                        let stmts = f(self, &[], ArmKind::Falls);
                        (!stmts.is_empty()).then(|| (Default::default(), Box::new(parse_quote!({ #(#stmts)* }))))
                    }
                };
                i.else_branch = else_expr;
                Expr::If(i)
            }
            Expr::Match(m) => {
                let mut m = m.clone();
                for arm in &mut m.arms {
                    let stmts = arm_stmts(&arm.body);
                    let kind = ArmKind::of(&stmts, &labels);
                    let new = f(self, &stmts, kind);
                    let span = arm.body.span();
                    *arm.body = parse_quote_spanned!(span=> { #(#new)* });
                    arm.comma.get_or_insert_with(Default::default);
                }
                Expr::Match(m)
            }
            other => other.clone(),
        }
    }

    /// Rewrites a statement that is not an exit; `pos` is where its value goes (`Stmt` unless
    /// it is its block's tail).
    fn stmt(&mut self, s: &Stmt, pos: Pos) -> Vec<Stmt> {
        match s {
            Stmt::Local(l) => self.local(l),
            Stmt::Expr(e, semi) => self.expr_stmt(e, *semi, pos),
            other => vec![other.clone()],
        }
    }

    fn expr_stmt(&mut self, e: &Expr, semi: Option<syn::Token![;]>, pos: Pos) -> Vec<Stmt> {
        match e {
            Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
                let leaves = self.leaves(&Stmt::Expr(e.clone(), None)).any();
                let (mut stmts, value) = self.looped(e, None);
                if let (Some(v), Pos::Value | Pos::Result, None) = (value, pos, semi) {
                    // The loop's value, unless an exit left the loop and what encloses it.
                    let tail: Expr = match leaves {
                        true => {
                            let running = self.running();
                            let exited = self.exited_value(pos);
                            parse_quote!(if #running { #v } else { #exited })
                        }
                        false => parse_quote!(#v),
                    };
                    stmts.push(Stmt::Expr(tail, None));
                }
                stmts
            }
            Expr::If(_) | Expr::Match(_) => {
                let arm_pos = if semi.is_none() { pos } else { Pos::Stmt };
                vec![Stmt::Expr(self.map_arms(e, &mut |d, stmts, _| d.block(stmts, arm_pos)), semi)]
            }
            Expr::Block(b) if b.label.is_none() => {
                let arm_pos = if semi.is_none() { pos } else { Pos::Stmt };
                let mut b = b.clone();
                b.block.stmts = self.block(&b.block.stmts, arm_pos);
                vec![Stmt::Expr(Expr::Block(b), semi)]
            }
            other => vec![Stmt::Expr(other.clone(), semi)],
        }
    }

    /// `let`: a tuple pattern binds each part; a value computed by a branch or a block is
    /// rewritten as a value; `let x = loop { … break v; };` binds the loop's value.
    fn local(&mut self, l: &syn::Local) -> Vec<Stmt> {
        if let Some(split) = self.split_tuple(l) {
            return split.iter().flat_map(|s| self.stmt(s, Pos::Stmt)).collect();
        }
        let Some(init) = &l.init else { return vec![Stmt::Local(l.clone())] };
        if init.diverge.is_some() {
            return vec![Stmt::Local(l.clone())];
        }
        let mut l = l.clone();
        match &*init.expr {
            Expr::If(_) | Expr::Match(_) => {
                let e = self.map_arms(&init.expr, &mut |d, stmts, _| d.block(stmts, Pos::Value));
                if let Some(i) = l.init.as_mut() {
                    *i.expr = e;
                }
                vec![Stmt::Local(l)]
            }
            Expr::Block(b) if b.label.is_none() => {
                let mut b = b.clone();
                b.block.stmts = self.block(&b.block.stmts, Pos::Value);
                if let Some(i) = l.init.as_mut() {
                    *i.expr = Expr::Block(b);
                }
                vec![Stmt::Local(l)]
            }
            Expr::Loop(_) => {
                let ty = match &l.pat {
                    Pat::Type(t) => Some(&*t.ty),
                    _ => None,
                };
                let (mut stmts, value) = self.looped(&init.expr, Some(ty));
                match value {
                    Some(v) => {
                        if let Some(i) = l.init.as_mut() {
                            *i.expr = parse_quote!(#v);
                        }
                        stmts.push(Stmt::Local(l));
                    }
                    None => self
                        .cx
                        .error_spanned_by(&init.expr, "this `loop` has no `break` with a value, so it has no value"),
                }
                stmts
            }
            _ => vec![Stmt::Local(l)],
        }
    }

    /// `let (a, b) = (e₁, e₂);` → each part bound through a temporary (so that `(b, a)` swaps),
    /// `let (s, c) = x.sin_cos();` → the same with `(x.sin(), x.cos())`,
    /// `let (a, b) = pair;` → `let a = pair.0; let b = pair.1;`.
    fn split_tuple(&mut self, l: &syn::Local) -> Option<Vec<Stmt>> {
        let (pat, ty) = match &l.pat {
            Pat::Type(t) => (&*t.pat, Some(&*t.ty)),
            p => (p, None),
        };
        let Pat::Tuple(tuple) = pat else { return None };
        let init = l.init.as_ref()?;
        if init.diverge.is_some() {
            return None;
        }
        let types: Vec<Option<syn::Type>> = match ty {
            Some(syn::Type::Tuple(t)) if t.elems.len() == tuple.elems.len() => {
                t.elems.iter().cloned().map(Some).collect()
            }
            Some(other) => {
                self.cx.error_spanned_by(
                    other,
                    "a tuple pattern's type must be a tuple type: `let (a, b): (f64, f64) = …;`",
                );
                return Some(Vec::new());
            }
            None => vec![None; tuple.elems.len()],
        };
        let mut out: Vec<Stmt> = Vec::new();
        let sin_cos = self.sin_cos(&init.expr, tuple, &mut out);
        let parts: Vec<Expr> = if let Some(parts) = sin_cos {
            parts
        } else {
            match &*init.expr {
                Expr::Tuple(t) if t.elems.len() == tuple.elems.len() => {
                    t.elems.iter().map(|e| self.part(e, &mut out)).collect()
                }
                Expr::Path(_) => (0..tuple.elems.len())
                    .map(|k| {
                        let (base, idx) = (&init.expr, syn::Index::from(k));
                        parse_quote!(#base.#idx)
                    })
                    .collect(),
                other => {
                    let tmp = format_ident!("__mg_tuple{}", self.next, span = Span::mixed_site());
                    self.next += 1;
                    out.push(parse_quote!(let #tmp = #other;));
                    (0..tuple.elems.len())
                        .map(|k| {
                            let idx = syn::Index::from(k);
                            parse_quote!(#tmp.#idx)
                        })
                        .collect()
                }
            }
        };
        for ((p, e), ty) in tuple.elems.iter().zip(parts).zip(types) {
            out.push(match ty {
                Some(t) => parse_quote!(let #p: #t = #e;),
                None => parse_quote!(let #p = #e;),
            });
        }
        Some(out)
    }

    /// `x.sin_cos()` bound to a pair: its parts `x.sin()` and `x.cos()`, bit for bit (std
    /// computes it so), with `x` bound first when it is not a name, and the parts bound first
    /// when a name of the pair is `x`'s. The calls carry the span of `sin_cos`.
    fn sin_cos(&mut self, e: &Expr, pair: &syn::PatTuple, out: &mut Vec<Stmt>) -> Option<Vec<Expr>> {
        let Expr::MethodCall(m) = e else { return None };
        if m.method != "sin_cos" || !m.args.is_empty() || m.turbofish.is_some() || pair.elems.len() != 2 {
            return None;
        }
        let (x, rebound): (Expr, bool) = match &*m.receiver {
            Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                let name = p.path.get_ident();
                let simple = |q: &Pat| matches!(q, Pat::Ident(i) if i.subpat.is_none() && Some(&i.ident) != name);
                ((*m.receiver).clone(), !pair.elems.iter().all(simple))
            }
            recv => (self.part(recv, out), false),
        };
        let span = m.method.span();
        let parts: [Expr; 2] = [parse_quote_spanned!(span=> #x.sin()), parse_quote_spanned!(span=> #x.cos())];
        Some(match rebound {
            false => parts.into(),
            true => parts.iter().map(|e| self.part(e, out)).collect(),
        })
    }

    /// `let __mg_partN = e;` pushed onto `out`, and the name it binds.
    fn part(&mut self, e: &Expr, out: &mut Vec<Stmt>) -> Expr {
        let tmp = format_ident!("__mg_part{}", self.next, span = Span::mixed_site());
        self.next += 1;
        out.push(parse_quote!(let #tmp = #e;));
        parse_quote!(#tmp)
    }

    /// A loop, rewritten: `for` stays a `for` (with a flag when something inside may leave
    /// it), `while` and `loop` become a `for` over `0usize..`. Returns the statements and the
    /// variable holding a `loop`'s value.
    /// `binding`: the loop is the value of a `let`, with the type it is annotated with.
    fn looped(&mut self, e: &Expr, binding: Option<Option<&syn::Type>>) -> (Vec<Stmt>, Option<Ident>) {
        let (label, body) = match e {
            Expr::ForLoop(f) => (&f.label, &f.body),
            Expr::While(w) => (&w.label, &w.body),
            Expr::Loop(l) => (&l.label, &l.body),
            _ => return (vec![Stmt::Expr(e.clone(), None)], None),
        };
        let label = label.as_ref().map(|l| l.name.ident.to_string());
        let id = self.next;
        self.next += 1;
        let value = matches!(e, Expr::Loop(_)).then(|| format_ident!("__mg_value{}", id, span = Span::mixed_site()));
        // Whether something inside may leave the loop or end an iteration early.
        let mut labels = self.labels();
        labels.push(label.clone());
        let exits_inside = body.stmts.iter().any(|s| Leaves::of_stmt(&labels, s).any());
        // Whether something can stop the loop (not only end an iteration, as `continue` does).
        let at = labels.len() - 1;
        let stops = body.stmts.iter().any(|s| Leaves::of_stmt(&labels, s).leaves_loop(at));
        self.loops.push(LoopCx { label, id, value: value.clone(), valued: false });
        let inner = self.block(&body.stmts, Pos::Stmt);
        let valued = self.loops.pop().is_some_and(|l| l.valued);
        let (g, r) = (go(id), run(id));
        let span = e.span();
        let mut out: Vec<Stmt> = Vec::new();
        if let Some(v) = &value {
            let ty = match binding {
                Some(Some(t)) => Some(t.to_token_stream()),
                // A `loop` that only a `return` leaves has type `!`, which Rust 2021 makes `()`
                // where nothing else says: `let _x = loop { … return v; };`.
                Some(None) if !valued => Some(quote!(())),
                _ => None,
            };
            let value = placeholder(ty);
            out.push(parse_quote!(let mut #v = #value;));
        }
        let flagged = exits_inside || !matches!(e, Expr::ForLoop(_));
        if let (false, Expr::ForLoop(f)) = (flagged, e) {
            let mut f = f.clone();
            f.label = None;
            f.body.stmts = inner;
            out.push(Stmt::Expr(Expr::ForLoop(f), None));
            return (out, None);
        }
        let mut head: Vec<Stmt> = Vec::new();
        if stops || !matches!(e, Expr::ForLoop(_)) {
            out.push(parse_quote!(let mut #g = true;));
            head.push(parse_quote!(if !#g { break; }));
        }
        head.push(parse_quote!(let mut #r = true;));
        let looped: Expr = match e {
            Expr::ForLoop(f) => {
                let (pat, iter) = (&f.pat, &f.expr);
                parse_quote_spanned!(span=> for #pat in #iter { #(#head)* #(#inner)* })
            }
            Expr::While(w) => {
                let cond = &w.cond;
                let step: Expr = parse_quote_spanned!(span=> if #cond { #(#inner)* } else { #g = false; });
                parse_quote_spanned!(span=> for _ in 0usize.. { #(#head)* #step })
            }
            _ => parse_quote_spanned!(span=> for _ in 0usize.. { #(#head)* #(#inner)* }),
        };
        out.push(Stmt::Expr(looped, None));
        (out, value)
    }
}

/// Rewrites the statements of one arm of a branch, knowing how the arm ends.
type ArmRewrite<'f, 'c> = dyn FnMut(&mut Desugar<'c>, &[Stmt], ArmKind) -> Vec<Stmt> + 'f;

/// How an arm of a branch ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ArmKind {
    /// With an exit, and nothing else in it leaves.
    Exits,
    /// Nothing in it leaves: it falls through to what follows the branch.
    Falls,
    /// Something leaves, elsewhere than at its end.
    Other,
}

impl ArmKind {
    fn of(stmts: &[Stmt], labels: &[Option<String>]) -> ArmKind {
        let leaves = |s: &Stmt| Leaves::of_stmt(labels, s).any();
        match stmts.split_last() {
            Some((last, init)) if exit_of(last).is_some() && !init.iter().any(leaves) => ArmKind::Exits,
            _ if !stmts.iter().any(leaves) => ArmKind::Falls,
            _ => ArmKind::Other,
        }
    }
}

/// The kind of each arm of an `if` chain (with its implicit `else`) or a `match`.
fn arm_kinds(e: &Expr, labels: &[Option<String>]) -> Option<Vec<ArmKind>> {
    let mut kinds = Vec::new();
    match e {
        Expr::If(first) => {
            let mut cur = first;
            loop {
                kinds.push(ArmKind::of(&cur.then_branch.stmts, labels));
                match cur.else_branch.as_ref().map(|(_, e)| &**e) {
                    Some(Expr::If(next)) => cur = next,
                    Some(Expr::Block(b)) => {
                        kinds.push(ArmKind::of(&b.block.stmts, labels));
                        break;
                    }
                    Some(_) => return None,
                    None => {
                        kinds.push(ArmKind::Falls);
                        break;
                    }
                }
            }
        }
        Expr::Match(m) => kinds.extend(m.arms.iter().map(|a| ArmKind::of(&arm_stmts(&a.body), labels))),
        _ => return None,
    }
    Some(kinds)
}

/// A match arm's body as statements.
fn arm_stmts(body: &Expr) -> Vec<Stmt> {
    match body {
        Expr::Block(b) if b.label.is_none() && b.attrs.is_empty() => b.block.stmts.clone(),
        other => vec![Stmt::Expr(other.clone(), None)],
    }
}
