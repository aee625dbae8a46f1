//! Emitting `map` closures: a differentiated map stores its partials entry by entry
//! (`map_d`, `map_d2`, `map_d_at`), or over lanes when its body has a lane form; a map fused
//! with its tangent map runs as one pass (`map_pair`); the reverse pass multiplies the stored
//! partials by the adjoint.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

use super::Emitter;
use crate::ir::{Closure, Node, Op, Stmt, ValueId};
use crate::reverse::Plan;
use crate::symbol::{self, Lanes};

impl Emitter<'_> {
    /// `a = x.map(g)` and its tangent `ȧ = x.zip_map(&ẋ, ġ)` in one pass (see
    /// [`Plan::fused`]): the tangent closure, which computes the entry `y` of `a` too, returns
    /// both, with its partials when they take part in the reverse sweep. `at` is the tangent
    /// map's statement, where `x` may be moved.
    ///
    /// Output: `let (a, ȧ) = map_pair(x, &ẋ, |v, v̇| { …; (y, ẏ) });` or
    /// `let (a, ȧ, [ȧ_d0, ȧ_d1]) = map_pair_d2(x, &ẋ, |v, v̇| { …; (y, ẏ, [∂ẏ/∂v, ∂ẏ/∂v̇]) });`
    pub(super) fn forward_fused(&self, a: &Node, t: &Node, plan: &Plan) -> TokenStream {
        let Op::Map { input, closure } = &t.op else { return TokenStream::new() };
        let (Some((other, b)), Some((_, y))) = (closure.second, closure.value_of) else { return TokenStream::new() };
        let bind = |v: ValueId| match plan.read[v] {
            true => self.ident(v).to_token_stream(),
            false => quote!(_),
        };
        let (out_a, out_t, span) = (bind(a.out), bind(t.out), t.span);
        let x = self.operand(*input, plan.moves(t.out, 0), span);
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

    /// The identifiers of the derivative matrices a differentiated `map` stores.
    pub(super) fn map_partials(&self, node: &Node, closure: &Closure) -> Vec<(ValueId, Ident)> {
        let partials = closure.partials(self.values).into_iter().enumerate();
        partials.map(|(k, inner)| (inner, self.partial_ident(node.out, k))).collect()
    }

    /// The name of the `k`-th derivative matrix the differentiated map of `out` stores.
    pub(super) fn partial_ident(&self, out: ValueId, k: usize) -> Ident {
        format_ident!("{}_d{}", self.ident(out), k, span = Span::mixed_site())
    }

    pub(super) fn forward_map_d(
        &self,
        node: &Node,
        input: ValueId,
        closure: &Closure,
        move_input: bool,
    ) -> TokenStream {
        let partials = self.map_partials(node, closure);
        let inner: Vec<ValueId> = partials.iter().map(|(i, _)| *i).collect();
        let names = partials.iter().map(|(_, n)| n);
        let (out, p, span) = (self.ident(node.out), self.ident(closure.param), node.span);
        let x = self.operand(input, move_input, span);
        let (code, y, ds) = self.body(&closure.body, Some(quote!(::matgrad::__private::one_like(&#p))), &inner);
        if let Some(lane) = self.lane_body(closure, &inner, &code, &y, &ds) {
            // A closure reading `exp` pays in lanes only where its kernel runs vectorised (FMA at
            // compile time, or lanes chosen at run time); the runtime takes the scalar closure
            // elsewhere. The lane closure is given once for each lane type: the build's, and the
            // two the runtime may choose by the CPU's features (a closure has one type).
            let exp = lane_kinds(closure).contains(&Lanes::FmaKernel);
            let lanes = match closure.second {
                Some((other, b)) => {
                    let (other, b) = (self.reference(other), self.ident(b));
                    let lane = quote_spanned!(span=> #[inline(always)] |#p, #b| { #lane });
                    quote_spanned! {span=>
                        ::matgrad::__private::map_d2_lanes(
                            #exp, #x, #other, |#p, #b| { #code (#y, [#(#ds),*]) }, #lane, #lane, #lane,
                        )
                    }
                }
                None => {
                    let lane = quote_spanned!(span=> #[inline(always)] |#p| { #lane });
                    quote_spanned! {span=>
                        ::matgrad::__private::map_d_lanes(#exp, #x, |#p| { #code (#y, [#(#ds),*]) }, #lane, #lane, #lane)
                    }
                }
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
    /// functions with a lane form (`exp`, `ln`, `tanh`, `sqrt`, `recip`, `powi`, `abs`, and `max`
    /// and `min` of two scalars, ReLU's `v.max(0.0)`), every value
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
        // A closure of arithmetic and selects alone (`abs`, `max`, `min`) is vectorised by LLVM
        // on the scalar path already, faster than over lanes (ReLU over 256×128: 32 µs scalar,
        // 37–44 µs lanes): lanes only where a kernel LLVM cannot vectorise (a call to libm) sits
        // beside them, as in softplus `v.max(0.0) + (1.0 + (-v.abs()).exp()).ln()`.
        let kinds = lane_kinds(closure);
        if kinds.contains(&Lanes::Select) && !kinds.iter().any(|k| matches!(k, Lanes::Kernel | Lanes::FmaKernel)) {
            return None;
        }
        lane_paths(quote!(#code (#y, [#(#ds),*])))
    }
}

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
                Some(TokenTree::Ident(name)) if symbol::is_lane_name(&name.to_string()) => {}
                _ => return None,
            }
            let span = tree.span();
            out.extend(quote_spanned!(span=> lanes::));
        }
    }
    Some(out.into_iter().collect())
}

/// How each op of `closure`'s body runs over lanes (see [`Lanes`]).
fn lane_kinds(closure: &Closure) -> Vec<Lanes> {
    let kind = |stmt: &Stmt| match stmt {
        Stmt::Node(node) => match &node.op {
            Op::Rule { rule, .. } => Some(rule.lanes),
            _ => None,
        },
        _ => None,
    };
    closure.body.stmts.iter().filter_map(kind).collect()
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
