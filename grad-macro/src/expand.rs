//! The expansion: the user's function unchanged, and beside it
//! - `<name>_vjp(params…, adjoint)`: the value and the vector-Jacobian products of `wrt` for a
//!   given adjoint of the value: forward pass, then reverse sweep, in one function.
//! - `<name>_grad(params…)` (scalar functions): `_vjp` with adjoint 1.
//! - `<name>_pullback(params…, &value, adjoint)`: one gradient slot per parameter
//!   (`NoGradient` for parameters outside `wrt`). It is how a `#[differentiate]` function calls
//!   another (which recomputes its forward pass), and what `#[custom_vjp]` declares (which
//!   does not).
//!
//! On error, stubs with the right signatures stand next to the errors, so callers see only the
//! real error.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::{GenericParam, ItemFn, Type};

use crate::args::{Args, RuleArgs};
use crate::check::{self, Class, Signature};
use crate::ctxt::Ctxt;
use crate::lower::Lowered;
use crate::passes::simplify;
use crate::{derivation, desugar, emit, lower, tangent};

mod custom_jvp;

pub use custom_jvp::custom_jvp;

/// `#[differentiate]`.
pub fn differentiate(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match parse_fn(&item, "differentiate") {
        Ok(f) => f,
        Err(err) => return quote!(#err #item),
    };
    let cx = Ctxt::default();
    let args = syn::parse2::<Args>(args).unwrap_or_else(|e| {
        cx.push(e);
        Args::default()
    });
    let sig = check::signature(&cx, &func, &args);
    let body = desugar::function(&cx, &func.block, &sig.ret);
    let mut lowered = lower::function(&cx, &sig, &body);
    simplify::run(&mut lowered);
    let mut gen = Gen::new(&func, &sig);
    match cx.check() {
        Ok(()) => {
            gen.derivation = Some(derivation::derivation(&sig, &lowered, &func.sig.ident.to_string()));
            let seed = format_ident!("adjoint", span = Span::mixed_site());
            // A function generic over its scalar type keeps every map on the scalar path.
            let lanes = func.sig.generics.type_params().next().is_none();
            // The reverse program: maps whose derivative is a function of their value keep no
            // derivative (over lanes; a generic function's maps stay on the scalar path).
            let mut reverse_ir = lowered.clone();
            if lanes {
                simplify::value_maps(&mut reverse_ir);
            }
            let parts = emit::pullback_parts(&sig, &reverse_ir, &seed, lanes);
            let user = &func.sig.ident;
            let type_args = gen.type_args();
            let (items, forward, value, reverse) = (&parts.items, &parts.forward, &parts.value, &parts.reverse);
            let grads = &parts.grads;
            let body = quote! {
                // Calling the generated functions counts as using the function they differentiate.
                let _ = #user::<#(#type_args),*>;
                #items
                #forward
                #reverse
                (#value, #(#grads),*)
            };
            let vjp = gen.vjp(Some(body));
            let grad = gen.grad(false);
            let pullback = gen.pullback_via_vjp(false);
            let text = gen.derivation_fn(false);
            let forward = args.forward.map(|_| gen.forward_mode(lowered));
            quote!(#func #vjp #grad #pullback #text #forward)
        }
        Err(err) => {
            let stubs = gen.stubs();
            let text = gen.derivation_fn(true);
            let forward = args.forward.map(|_| gen.forward_stubs());
            let err = err.into_compile_error();
            quote!(#func #stubs #text #forward #err)
        }
    }
}

/// `#[custom_vjp(rule)]`: the user's function, differentiated by the user's rule.
pub fn custom_vjp(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match parse_fn(&item, "custom_vjp") {
        Ok(f) => f,
        Err(err) => return quote!(#err #item),
    };
    let cx = Ctxt::default();
    let rule = match syn::parse2::<RuleArgs>(args) {
        Ok(r) => Some(r),
        Err(e) => {
            cx.push(e);
            None
        }
    };
    if let Some(span) = rule.as_ref().and_then(|r| r.args.forward) {
        let msg = "`#[custom_vjp]` has no forward mode (`forward`): remove `forward`; for a function that `#[differentiate(forward)]` functions call, declare its forward rule with `#[custom_jvp(rule)]` instead (it gives reverse mode too)";
        cx.push(syn::Error::new(span, crate::ctxt::layout(msg)));
    }
    let empty = Args::default();
    let sig = check::signature(&cx, &func, rule.as_ref().map_or(&empty, |r| &r.args));
    let gen = Gen::new(&func, &sig);
    let rule = match (cx.has_errors(), rule) {
        (false, Some(rule)) => rule,
        _ => {
            let err = cx.check().err().map(|e| e.into_compile_error());
            let stubs = gen.stubs();
            return quote!(#func #stubs #err);
        }
    };
    let ret = &sig.ret;
    // The rule's expected signature: the parameters, `&value`, the value's adjoint; the
    // gradients of `wrt` (one bare, several in a tuple).
    let param_tys = sig.params.iter().map(|p| &p.ty);
    let grad_tys: Vec<&Type> = sig.wrt.iter().map(|&i| &sig.params[i].grad_ty).collect();
    let grads_ty = match grad_tys.as_slice() {
        [one] => quote!(#one),
        many => quote!((#(#many),*)),
    };
    let grad_idents: Vec<syn::Ident> =
        sig.wrt.iter().map(|&i| format_ident!("d_{}", sig.params[i].ident, span = Span::mixed_site())).collect();
    let pat = match grad_idents.as_slice() {
        [one] => quote!(#one),
        many => quote!((#(#many),*)),
    };
    let rule_path = &rule.rule;
    let rule_var = format_ident!("rule", span = Span::mixed_site());
    let args_rule = sig.params.iter().map(|p| &p.ident);
    let slots = gen.slots(&grad_idents.iter().map(|i| i.to_token_stream()).collect::<Vec<_>>());
    let (value, adjoint) = gen.value_adjoint();
    // The rule's path keeps its span, so a signature mismatch is reported on it.
    let body = quote! {
        let #rule_var: fn(#(#param_tys,)* &#ret, #ret) -> #grads_ty = #rule_path;
        let #pat = #rule_var(#(#args_rule,)* #value, #adjoint);
        (#(#slots,)*)
    };
    let pullback = gen.pullback(Some(body));
    let vjp = gen.vjp_via_pullback(false);
    let grad = gen.grad(false);
    // What a `#[differentiate(forward)]` caller calls: an error on the call saying why.
    let mut gen = gen;
    gen.no_forward_rule = true;
    let (tangent, tangent_pullback) = (gen.tangent(true), gen.tangent_pullback(None));
    quote!(#func #pullback #vjp #grad #tangent #tangent_pullback)
}

/// The name of the tangent slot of parameter `p` in `_tangent`'s signature.
fn slot_param(p: &syn::Ident) -> syn::Ident {
    format_ident!("slot_{}", p, span = Span::mixed_site())
}

fn parse_fn(item: &TokenStream, attr: &str) -> Result<ItemFn, TokenStream> {
    syn::parse2(item.clone()).map_err(|_| {
        syn::Error::new_spanned(
            item,
            format!("`#[{attr}]` applies to a function: `fn f(x: &DMatrix<f64>) -> f64 {{ … }}`"),
        )
        .into_compile_error()
    })
}

/// Writes the generated functions' signatures.
struct Gen<'a> {
    func: &'a ItemFn,
    sig: &'a Signature,
    /// The derivation text (`#[differentiate]`), shown in the docs of `_grad` and `_vjp`.
    derivation: Option<String>,
    /// `#[custom_vjp]`: the stubs of `_tangent` and `_tangent_pullback` bound their slots by
    /// a trait nothing implements, whose message says that the function has no forward rule.
    no_forward_rule: bool,
}

impl<'a> Gen<'a> {
    fn new(func: &'a ItemFn, sig: &'a Signature) -> Self {
        Gen { func, sig, derivation: None, no_forward_rule: false }
    }

    /// The derivation as a rustdoc section, after a function's first sentence.
    fn with_derivation(&self, doc: String) -> String {
        match &self.derivation {
            Some(text) => format!("{doc}\n\n# Derivation\n\n```text\n{text}```"),
            None => doc,
        }
    }

    /// `<name>_derivation() -> &'static str`: the derivation text (a stub on error).
    fn derivation_fn(&self, stub: bool) -> TokenStream {
        let (user, vis) = (&self.func.sig.ident, &self.func.vis);
        let name = self.name("derivation");
        let doc = format!(" The derivation of the gradients of [`{user}`], as in the documentation of its generated functions. Generated by `#[differentiate]`.");
        let doc = self.with_derivation(doc);
        let attrs = self.attrs();
        let body = match (&self.derivation, stub) {
            (Some(text), false) => quote!(#text),
            _ => quote!(::core::unreachable!()),
        };
        quote! {
            #(#attrs)*
            #[doc = #doc]
            #[allow(dead_code)]
            #vis fn #name() -> &'static str {
                #body
            }
        }
    }

    fn name(&self, suffix: &str) -> syn::Ident {
        format_ident!("{}_{}", self.func.sig.ident, suffix)
    }

    fn type_args(&self) -> Vec<syn::Ident> {
        self.func
            .sig
            .generics
            .params
            .iter()
            .filter_map(|p| match p {
                GenericParam::Type(t) => Some(t.ident.clone()),
                GenericParam::Const(c) => Some(c.ident.clone()),
                GenericParam::Lifetime(_) => None,
            })
            .collect()
    }

    /// The user's generics, scalar type parameters bounded by `Real`.
    fn generics(&self) -> syn::Generics {
        let mut generics = self.func.sig.generics.clone();
        for p in generics.type_params_mut() {
            p.bounds.push(syn::parse_quote!(::matgrad::__private::Real));
        }
        generics
    }

    /// The attributes `_grad`/`_vjp`/`_pullback` inherit.
    fn attrs(&self) -> impl Iterator<Item = &syn::Attribute> {
        self.func.attrs.iter().filter(|a| ["cfg", "cfg_attr", "allow", "expect"].iter().any(|n| a.path().is_ident(n)))
    }

    fn params(&self) -> Vec<TokenStream> {
        self.sig
            .params
            .iter()
            .map(|p| {
                let (i, t) = (&p.ident, &p.ty);
                quote!(#i: #t)
            })
            .collect()
    }

    fn wrt_list(&self) -> String {
        let wrt: Vec<String> = self.sig.wrt.iter().map(|&i| format!("`{}`", self.sig.params[i].ident)).collect();
        if wrt.is_empty() {
            "nothing".to_string()
        } else {
            wrt.join(", ")
        }
    }

    /// The parameters outside `wrt`, for docs.
    fn constant_list(&self) -> String {
        let rest: Vec<String> = (0..self.sig.params.len())
            .filter(|i| !self.sig.wrt.contains(i))
            .map(|i| format!("`{}`", self.sig.params[i].ident))
            .collect();
        if rest.is_empty() {
            "none of them".to_string()
        } else {
            rest.join(", ")
        }
    }

    /// One gradient slot per parameter: `grads` (in `wrt` order) or `NoGradient`.
    fn slots(&self, grads: &[TokenStream]) -> Vec<TokenStream> {
        self.slots_or(grads, quote!(::matgrad::__private::NoGradient))
    }

    /// One slot per parameter: `grads` (in `wrt` order) or `missing`.
    fn slots_or(&self, grads: &[TokenStream], missing: TokenStream) -> Vec<TokenStream> {
        (0..self.sig.params.len())
            .map(|i| match self.sig.wrt.iter().position(|&w| w == i) {
                Some(k) => grads[k].clone(),
                None => missing.clone(),
            })
            .collect()
    }

    fn slot_types(&self) -> Vec<TokenStream> {
        (0..self.sig.params.len())
            .map(|i| match self.sig.wrt.contains(&i) {
                true => self.sig.params[i].grad_ty.to_token_stream(),
                false => quote!(::matgrad::__private::NoGradient),
            })
            .collect()
    }

    /// The hygienic names of `_pullback`'s and `_vjp`'s last parameters.
    fn value_adjoint(&self) -> (syn::Ident, syn::Ident) {
        (format_ident!("value", span = Span::mixed_site()), format_ident!("adjoint", span = Span::mixed_site()))
    }

    fn grad_types(&self) -> Vec<&Type> {
        self.sig.wrt.iter().map(|&i| &self.sig.params[i].grad_ty).collect()
    }

    fn grad_names(&self) -> Vec<syn::Ident> {
        let name = |i: usize| format_ident!("d_{}", self.sig.params[i].ident, span = Span::mixed_site());
        self.sig.wrt.iter().map(|&i| name(i)).collect()
    }

    /// The parameters as arguments of a call.
    fn args(&self) -> Vec<&syn::Ident> {
        self.sig.params.iter().map(|p| &p.ident).collect()
    }

    /// A generated function: the user's attributes, a doc line, visibility and generics.
    fn item(
        &self,
        name: &str,
        doc: String,
        params: TokenStream,
        ret: TokenStream,
        body: Option<TokenStream>,
    ) -> TokenStream {
        let vis = &self.func.vis;
        let name = self.name(name);
        let generics = self.generics();
        let (params_g, where_clause) = (&generics.params, &generics.where_clause);
        let attrs = self.attrs();
        let (allow, body) = match body {
            Some(b) => (None, b),
            None => (
                Some(quote!(#[allow(unused_variables, clippy::diverging_sub_expression)])),
                quote!(::core::unreachable!()),
            ),
        };
        quote! {
            #(#attrs)*
            #[doc = #doc]
            #allow
            // `_vjp` and `_pullback` take one or two more parameters than the function.
            #[allow(clippy::too_many_arguments)]
            #vis fn #name<#params_g>(#params) -> #ret #where_clause {
                #body
            }
        }
    }

    /// `<name>_vjp(params…, adjoint) -> (value, gradients…)`.
    fn vjp(&self, body: Option<TokenStream>) -> TokenStream {
        let (user, wrt) = (&self.func.sig.ident, self.wrt_list());
        let doc = format!(
            " The value of [`{user}`] and the vector-Jacobian products with respect to {wrt}: the gradients of `⟨adjoint, {user}(…)⟩` for the adjoint of the value (its shape) given last. Generated by `#[differentiate]`."
        );
        let doc = self.with_derivation(doc);
        let params = self.params();
        let (_, adjoint) = self.value_adjoint();
        let ret = &self.sig.ret;
        let grads = self.grad_types();
        let item = self.item("vjp", doc, quote!(#(#params,)* #adjoint: #ret), quote!((#ret, #(#grads),*)), body);
        // `_grad` is `_vjp` with adjoint 1: inlined, the constant folds away.
        quote!(#[allow(dead_code)] #[inline] #item)
    }

    /// `<name>_grad(params…) -> (value, gradients…)` for a scalar value: `_vjp` with adjoint 1.
    fn grad(&self, stub: bool) -> TokenStream {
        if self.sig.ret_is_matrix {
            return TokenStream::new();
        }
        let (user, wrt) = (&self.func.sig.ident, self.wrt_list());
        let doc = format!(
            " The value of [`{user}`] and its gradient with respect to {wrt}, in that order, by reverse-mode differentiation. Generated by `#[differentiate]`."
        );
        let doc = self.with_derivation(doc);
        let params = self.params();
        let ret = &self.sig.ret;
        let grads = self.grad_types();
        let (vjp, args) = (self.name("vjp"), self.args());
        let body = (!stub).then(|| quote!(#vjp(#(#args,)* ::matgrad::__private::one::<#ret>())));
        let item = self.item("grad", doc, quote!(#(#params),*), quote!((#ret, #(#grads),*)), body);
        quote!(#[inline] #item)
    }

    /// `<name>_pullback(params…, &value, adjoint) -> (slot per parameter…)`, with `body`.
    fn pullback(&self, body: Option<TokenStream>) -> TokenStream {
        let user = &self.func.sig.ident;
        let doc = format!(
            " The gradients of `⟨adjoint, {user}(…)⟩`, one slot per parameter, given the value: the gradients of {} (the differentiated parameters), `NoGradient` for {}. A `#[differentiate]` function calling `{user}` calls it in its reverse pass. Generated by matgrad.",
            self.wrt_list(),
            self.constant_list()
        );
        let params = self.params();
        let (value, adjoint) = self.value_adjoint();
        let ret = &self.sig.ret;
        let slot_tys = self.slot_types();
        let item = self.item(
            "pullback",
            doc,
            quote!(#(#params,)* #value: &#ret, #adjoint: #ret),
            quote!((#(#slot_tys,)*)),
            body,
        );
        quote!(#[allow(dead_code, unused_variables)] #[doc(hidden)] #item)
    }

    /// `_pullback` over `_vjp`: the forward pass is recomputed (the value given is not enough).
    fn pullback_via_vjp(&self, stub: bool) -> TokenStream {
        let (vjp, args) = (self.name("vjp"), self.args());
        let (_, adjoint) = self.value_adjoint();
        let names = self.grad_names();
        let slots = self.slots(&names.iter().map(|n| n.to_token_stream()).collect::<Vec<_>>());
        let body = (!stub).then(|| {
            quote! {
                let (_, #(#names),*) = #vjp(#(#args,)* #adjoint);
                (#(#slots,)*)
            }
        });
        self.pullback(body)
    }

    /// `_vjp` over a declared `_pullback`: the function, then its rule.
    fn vjp_via_pullback(&self, stub: bool) -> TokenStream {
        let (user, pullback) = (&self.func.sig.ident, self.name("pullback"));
        let (value, adjoint) = self.value_adjoint();
        let names = self.grad_names();
        let pats = self.slots_or(&names.iter().map(|n| n.to_token_stream()).collect::<Vec<_>>(), quote!(_));
        let call_args = self.sig.params.iter().map(|p| {
            let i = &p.ident;
            match p.is_ref {
                true => quote!(#i),
                false => quote!(::core::clone::Clone::clone(&#i)),
            }
        });
        let (args, type_args) = (self.args(), self.type_args());
        let body = (!stub).then(|| {
            quote! {
                let #value = #user::<#(#type_args),*>(#(#call_args),*);
                let (#(#pats,)*) = #pullback(#(#args,)* &#value, #adjoint);
                (#value, #(#names),*)
            }
        });
        self.vjp(body)
    }

    /// `_jvp` and (for a scalar value) `_hvp` from the tangent program of `low`; their stubs
    /// beside the errors of forward mode, which leave reverse mode as it is.
    fn forward_mode(&self, low: Lowered) -> TokenStream {
        let cx = Ctxt::default();
        let mut prog = tangent::program(&cx, self.sig, low);
        if let Err(err) = cx.check() {
            let stubs = self.forward_stubs();
            let err = err.into_compile_error();
            return quote!(#stubs #err);
        }
        let hvp = (!self.sig.ret_is_matrix).then(|| self.hvp_body(&mut prog));
        let hvp = hvp.map(|body| self.hvp(Some(body)));
        tangent::pair(&mut prog);
        let tangent_pullback = self.tangent_pullback(Some(self.tangent_pullback_body(&prog)));
        let tangent = self.tangent(false);
        tangent::deactivate(&mut prog.low);
        let (items, forward, value) = emit::forward_parts(&prog.low);
        let user = &self.func.sig.ident;
        let type_args = self.type_args();
        let jvp = self.jvp(Some(quote! {
            let _ = #user::<#(#type_args),*>;
            #items
            #forward
            #value
        }));
        quote!(#jvp #hvp #tangent #tangent_pullback)
    }

    /// `let tangent_w = &into_tangent(slot_w, w);` for each `wrt` parameter: the tangents of
    /// `_tangent` and `_tangent_pullback` from what the caller passed.
    fn tangents_from_slots(&self) -> TokenStream {
        self.sig
            .wrt
            .iter()
            .map(|&i| {
                let p = &self.sig.params[i];
                let (name, slot) = (tangent::tangent_param(&p.ident), slot_param(&p.ident));
                let x = &p.ident;
                let x = if p.is_ref { quote!(#x) } else { quote!(&#x) };
                let into = match p.class {
                    Class::Float | Class::Matrix => quote!(::matgrad::__private::into_tangent(#slot, #x)),
                    _ => quote!(::matgrad::__private::into_struct_tangent(#slot, #x)),
                };
                match p.is_ref {
                    true => quote!(let #name = &#into;),
                    false => quote!(let #name = #into;),
                }
            })
            .collect()
    }

    /// The parameters and one tangent slot per parameter (`TangentSlot` of its owned type for
    /// `wrt` parameters, `NoGradient` for the others).
    fn slot_params(&self) -> Vec<TokenStream> {
        let mut params = self.params();
        params.extend(self.sig.params.iter().enumerate().map(|(i, p)| {
            let slot = slot_param(&p.ident);
            match self.sig.wrt.contains(&i) {
                true if self.no_forward_rule => {
                    quote!(#slot: impl ::matgrad::__private::NoForwardRule)
                }
                true if matches!(p.class, Class::Float | Class::Matrix) => {
                    let g = &p.grad_ty;
                    quote!(#slot: impl ::matgrad::__private::TangentSlot<#g>)
                }
                true => {
                    let g = &p.grad_ty;
                    quote!(#slot: impl ::matgrad::__private::StructTangentSlot<#g>)
                }
                false => quote!(#slot: ::matgrad::__private::NoGradient),
            }
        }));
        params
    }

    /// `<name>_tangent(params…, slots…) -> (value, tangent)`: `_jvp` as a `#[differentiate(forward)]`
    /// caller calls it, a tangent slot per parameter.
    fn tangent(&self, stub: bool) -> TokenStream {
        let user = &self.func.sig.ident;
        let doc = format!(" `{user}_jvp` with one tangent slot per parameter, as a `#[differentiate(forward)]` function calling `{user}` calls it. Generated by matgrad.");
        let ret = &self.sig.ret;
        let (jvp, args) = (self.name("jvp"), self.args());
        let tangents = self.sig.wrt.iter().map(|&i| tangent::tangent_param(&self.sig.params[i].ident));
        let from_slots = self.tangents_from_slots();
        let body = (!stub).then(|| {
            quote! {
                #from_slots
                #jvp(#(#args,)* #(#tangents),*)
            }
        });
        let params = self.slot_params();
        let item = self.item("tangent", doc, quote!(#(#params),*), quote!((#ret, #ret)), body);
        quote!(#[allow(dead_code, unused_variables)] #[doc(hidden)] #item)
    }

    /// `<name>_tangent_pullback(params…, slots…, &(value, tangent), adjoint) -> (slots…)`: the
    /// reverse pass of the tangent program, for `_hvp` of a caller.
    fn tangent_pullback(&self, body: Option<TokenStream>) -> TokenStream {
        let user = &self.func.sig.ident;
        let doc = format!(" The gradients of `⟨adjoint, {user}_tangent(…)⟩`, one slot per parameter and per tangent slot: what `_hvp` of a `#[differentiate(forward)]` function calling `{user}` calls. Generated by matgrad.");
        let ret = &self.sig.ret;
        let (value, adjoint) = self.value_adjoint();
        let mut slot_tys = self.slot_types();
        slot_tys.extend(self.slot_types());
        let params = self.slot_params();
        let item = self.item(
            "tangent_pullback",
            doc,
            quote!(#(#params,)* #value: &(#ret, #ret), #adjoint: (#ret, #ret)),
            quote!((#(#slot_tys,)*)),
            body,
        );
        quote!(#[allow(dead_code, unused_variables)] #[doc(hidden)] #item)
    }

    fn tangent_pullback_body(&self, prog: &tangent::Program) -> TokenStream {
        let mut wrt: Vec<usize> = self.sig.wrt.iter().map(|&i| prog.low.params[i]).collect();
        wrt.extend(&prog.tangents);
        let (_, adjoint) = self.value_adjoint();
        let parts = emit::pullback_parts_of(&prog.low, &wrt, &adjoint);
        let (items, forward, reverse) = (&parts.items, &parts.forward, &parts.reverse);
        let k = self.sig.wrt.len();
        let (gs, hs) = parts.grads.split_at(k);
        let mut slots = self.slots(gs);
        slots.extend(self.slots(hs));
        let from_slots = self.tangents_from_slots();
        let (user, type_args) = (&self.func.sig.ident, self.type_args());
        quote! {
            let _ = #user::<#(#type_args),*>;
            #items
            #from_slots
            #forward
            #reverse
            (#(#slots,)*)
        }
    }

    /// `_hvp`'s body: the reverse pass of `ḟ = ⟨∇f, t⟩` for its parameters (H·t) and its
    /// tangents (∇f), seeded with 1.
    fn hvp_body(&self, prog: &mut tangent::Program) -> TokenStream {
        let keep = format_ident!("value", span = Span::mixed_site());
        tangent::keep_value(prog, &keep);
        let mut wrt: Vec<usize> = self.sig.wrt.iter().map(|&i| prog.low.params[i]).collect();
        wrt.extend(&prog.tangents);
        let seed = format_ident!("adjoint", span = Span::mixed_site());
        let parts = emit::pullback_parts_of(&prog.low, &wrt, &seed);
        tangent::unkeep_value(prog);
        let (items, forward, reverse) = (&parts.items, &parts.forward, &parts.reverse);
        let k = self.sig.wrt.len();
        let (hs, gs) = parts.grads.split_at(k);
        let ret = &self.sig.ret;
        let (user, type_args) = (&self.func.sig.ident, self.type_args());
        quote! {
            let _ = #user::<#(#type_args),*>;
            #items
            let #seed = ::matgrad::__private::one::<#ret>();
            #forward
            #reverse
            (#keep, #(#gs,)* #(#hs),*)
        }
    }

    /// The parameters and then one tangent per `wrt` parameter, of its type.
    fn tangent_params(&self) -> Vec<TokenStream> {
        let mut params = self.params();
        params.extend(self.sig.wrt.iter().map(|&i| {
            let p = &self.sig.params[i];
            let (t, ty) = (tangent::tangent_param(&p.ident), &p.ty);
            quote!(#t: #ty)
        }));
        params
    }

    /// `<name>_jvp(params…, tangents…) -> (value, tangent)`.
    fn jvp(&self, body: Option<TokenStream>) -> TokenStream {
        let (user, wrt) = (&self.func.sig.ident, self.wrt_list());
        let doc = format!(
            " The value of [`{user}`] and its directional derivative along the tangents of {wrt} given last (one per parameter, of its type), by forward-mode differentiation in one pass. Generated by `#[differentiate(forward)]`."
        );
        let params = self.tangent_params();
        let ret = &self.sig.ret;
        let item = self.item("jvp", doc, quote!(#(#params),*), quote!((#ret, #ret)), body);
        quote!(#[allow(dead_code)] #item)
    }

    /// `<name>_hvp(params…, v…) -> (value, gradients…, Hessian-vector products…)`.
    fn hvp(&self, body: Option<TokenStream>) -> TokenStream {
        let (user, wrt) = (&self.func.sig.ident, self.wrt_list());
        let doc = format!(
            " The value of [`{user}`], its gradients with respect to {wrt}, and the Hessian-vector products H·v for the directions v given last (one per parameter, of its type), in one pass: the reverse pass of the forward-mode tangent. Generated by `#[differentiate(forward)]`."
        );
        let params = self.tangent_params();
        let ret = &self.sig.ret;
        let grads = self.grad_types();
        let item = self.item("hvp", doc, quote!(#(#params),*), quote!((#ret, #(#grads,)* #(#grads),*)), body);
        quote!(#[allow(dead_code)] #item)
    }

    /// Stubs of `_jvp`, `_hvp`, `_tangent` and `_tangent_pullback`.
    fn forward_stubs(&self) -> TokenStream {
        let jvp = self.jvp(None);
        let hvp = (!self.sig.ret_is_matrix).then(|| self.hvp(None));
        let tangent = self.tangent(true);
        let pullback = self.tangent_pullback(None);
        quote!(#jvp #hvp #tangent #pullback)
    }

    /// Stubs of every generated function, for when the expansion failed.
    fn stubs(&self) -> TokenStream {
        let vjp = self.vjp(None);
        let grad = self.grad(true);
        let pullback = self.pullback(None);
        quote!(#vjp #grad #pullback)
    }
}
