//! `#[custom_jvp(rule)]`: a function differentiated by the user's forward rule, in both modes.
//!
//! The rule has `_jvp`'s signature: the parameters, then one tangent per `wrt` parameter (of its
//! type), returning `(value, tangent)`. It is itself a `#[differentiate]` function, as JAX's
//! `custom_jvp` rules are traced by JAX: its `rule_pullback` gives every other mode.
//!
//! - `f_jvp`, `f_tangent`: the rule (forward mode, and a forward-mode caller).
//! - `f_tangent_pullback` (a caller's `_hvp`): the rule's pullback, its slots re-packed.
//! - `f_pullback`, `f_vjp`, `f_grad` (reverse mode): the tangent is linear in the tangents, so
//!   the gradient of `⟨ḡ, J t⟩` with respect to `t` is `Jᵀ ḡ`: the rule's pullback with zero
//!   tangents and the adjoint `(0, ḡ)`, read at the tangents' slots.
//!
//! Input:
//! ```ignore
//! #[custom_jvp(softclip_jvp)]
//! fn softclip(x: f64) -> f64 { … }
//! #[differentiate]
//! fn softclip_jvp(x: f64, t: f64) -> (f64, f64) { … }
//! ```
//! Output (shortened): `fn softclip_pullback(x: f64, value: &f64, adjoint: f64) -> (f64,) {
//! let (_, r1) = softclip_jvp_pullback(x, zero_like(&x), &(*value, 0), (0, adjoint)); (r1,) }`

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};

use super::{parse_fn, Gen};
use crate::args::{Args, RuleArgs};
use crate::check::{self, Class};
use crate::ctxt::{layout, Ctxt};
use crate::tangent;

/// `#[custom_jvp(rule)]`: the user's function, differentiated by the user's forward rule.
pub fn custom_jvp(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match parse_fn(&item, "custom_jvp") {
        Ok(f) => f,
        Err(err) => return quote!(#err #item),
    };
    let cx = Ctxt::default();
    let rule = if args.is_empty() {
        let msg = "`#[custom_jvp]` names the function computing the value and its tangent first: `#[custom_jvp(my_rule)]`, with `#[differentiate] fn my_rule(<the parameters>, <one tangent per parameter>) -> (R, R)`";
        cx.push(syn::Error::new(Span::call_site(), layout(msg)));
        None
    } else {
        syn::parse2::<RuleArgs>(args).map_err(|e| cx.push(e)).ok()
    };
    if let Some(span) = rule.as_ref().and_then(|r| r.args.forward) {
        let msg = "`#[custom_jvp]` always has forward mode: remove `forward`";
        cx.push(syn::Error::new(span, layout(msg)));
    }
    let empty = Args::default();
    let sig = check::signature(&cx, &func, rule.as_ref().map_or(&empty, |r| &r.args));
    if let syn::Type::Tuple(t) = &sig.ret {
        let msg = "`#[custom_jvp]` declares the forward rule of a function returning a scalar or a matrix, not a tuple: return one value, or write the function with `#[differentiate]`";
        cx.error_spanned_by(t, msg);
    }
    let gen = Gen::new(&func, &sig);
    let rule = match (cx.has_errors(), rule) {
        (false, Some(rule)) => rule,
        _ => {
            let err = cx.check().err().map(|e| e.into_compile_error());
            let stubs = gen.stubs();
            let forward = gen.forward_stubs();
            return quote!(#func #stubs #forward #err);
        }
    };
    let _ = cx.check();
    let rules = gen.rules(&rule.rule);
    let jvp = gen.jvp(Some(gen.jvp_by_rule()));
    let tangent = gen.tangent(false);
    let tangent_pullback = gen.tangent_pullback(Some(gen.tangent_pullback_by_rule()));
    let pullback = gen.pullback(Some(gen.pullback_by_rule()));
    let vjp = gen.vjp_via_pullback(false);
    let grad = gen.grad(false);
    let hvp = (!sig.ret_is_matrix).then(|| gen.hvp(Some(gen.hvp_by_rule())));
    quote!(#func #rules #jvp #hvp #tangent #tangent_pullback #pullback #vjp #grad)
}

/// The hygienic names of the rule and its pullback in the generated bodies.
fn rule_vars() -> (syn::Ident, syn::Ident) {
    (format_ident!("rule", span = Span::mixed_site()), format_ident!("rule_pullback", span = Span::mixed_site()))
}

/// `rule_pullback` for the rule's path `rule` (spanned at it).
fn rule_pullback(rule: &syn::Path) -> syn::Path {
    let mut p = rule.clone();
    if let Some(last) = p.segments.last_mut() {
        last.ident = format_ident!("{}_pullback", last.ident, span = last.ident.span());
    }
    p
}

impl Gen<'_> {
    /// The tangent parameters' names, in `wrt` order.
    fn tangent_names(&self) -> Vec<syn::Ident> {
        self.sig.wrt.iter().map(|&i| tangent::tangent_param(&self.sig.params[i].ident)).collect()
    }

    /// `<name>_custom_jvp_rules() -> (rule, rule_pullback)` as function pointers of the types
    /// the generated functions expect: the one place that names them, so a rule whose signature
    /// does not fit is reported there, on its name, with the expected types (the rule's, and its
    /// pullback's), and nowhere else.
    fn rules(&self, rule: &syn::Path) -> TokenStream {
        let ret = &self.sig.ret;
        let mut tys: Vec<&syn::Type> = self.sig.params.iter().map(|p| &p.ty).collect();
        tys.extend(self.sig.wrt.iter().map(|&i| &self.sig.params[i].ty));
        let mut params: Vec<&check::Param> = self.sig.params.iter().collect();
        params.extend(self.sig.wrt.iter().map(|&i| &self.sig.params[i]));
        let slots = params.iter().map(|p| match p.class {
            Class::Float | Class::Matrix => p.grad_ty.to_token_stream(),
            _ => quote!(::matgrad::__private::NoGradient),
        });
        let pullback = rule_pullback(rule);
        let user = &self.func.sig.ident;
        let doc = format!(" The forward rule of `{user}` and its pullback. Generated by `#[custom_jvp]`.");
        let ty = quote! {
            (fn(#(#tys),*) -> (#ret, #ret), fn(#(#tys,)* &(#ret, #ret), (#ret, #ret)) -> (#(#slots,)*))
        };
        let item = self.item("custom_jvp_rules", doc, TokenStream::new(), ty, Some(quote!((#rule, #pullback))));
        quote!(#[allow(dead_code)] #[doc(hidden)] #item)
    }

    /// `let (rule, rule_pullback) = <name>_custom_jvp_rules();`
    fn bind_rules(&self) -> TokenStream {
        let (rules, type_args) = (self.name("custom_jvp_rules"), self.type_args());
        let (rule, pullback) = rule_vars();
        quote!(#[allow(unused_variables)] let (#rule, #pullback) = #rules::<#(#type_args),*>();)
    }

    /// `_jvp`'s body: the rule.
    fn jvp_by_rule(&self) -> TokenStream {
        let bind = self.bind_rules();
        let (rule, _) = rule_vars();
        let (args, tangents) = (self.args(), self.tangent_names());
        quote! {
            #bind
            #rule(#(#args,)* #(#tangents),*)
        }
    }

    /// The rule's slots `r0 … r(n+k−1)` (the parameters', then the tangents'), as a pattern.
    fn rule_slots(&self) -> Vec<syn::Ident> {
        let n = self.sig.params.len() + self.sig.wrt.len();
        (0..n).map(|k| format_ident!("r{}", k, span = Span::mixed_site())).collect()
    }

    /// `_tangent_pullback`'s body: the rule's pullback, its slots re-packed as the parameters'
    /// (`NoGradient` outside `wrt`) and the tangent slots'.
    fn tangent_pullback_by_rule(&self) -> TokenStream {
        let bind = self.bind_rules();
        let (_, pullback) = rule_vars();
        let (value, adjoint) = self.value_adjoint();
        let (args, tangents, r) = (self.args(), self.tangent_names(), self.rule_slots());
        let n = self.sig.params.len();
        let own: Vec<TokenStream> = self.sig.wrt.iter().map(|&i| r[i].to_token_stream()).collect();
        let of_tangents: Vec<TokenStream> = (0..self.sig.wrt.len()).map(|j| r[n + j].to_token_stream()).collect();
        let (own, of_tangents) = (self.slots(&own), self.slots(&of_tangents));
        let from_slots = self.tangents_from_slots();
        quote! {
            #bind
            #from_slots
            #[allow(unused_variables)]
            let (#(#r,)*) = #pullback(#(#args,)* #(#tangents,)* #value, #adjoint);
            (#(#own,)* #(#of_tangents,)*)
        }
    }

    /// `_hvp`'s body: the rule along `v`, then its pullback with the adjoint `(0, 1)`: the
    /// tangents' slots are ∇f, the parameters' H v.
    fn hvp_by_rule(&self) -> TokenStream {
        let bind = self.bind_rules();
        let (_, pullback) = rule_vars();
        let ret = &self.sig.ret;
        let (args, tangents, r) = (self.args(), self.tangent_names(), self.rule_slots());
        let n = self.sig.params.len();
        let gs = (0..self.sig.wrt.len()).map(|j| &r[n + j]);
        let hs = self.sig.wrt.iter().map(|&i| &r[i]);
        let (pair, adjoint) =
            (format_ident!("pair", span = Span::mixed_site()), format_ident!("adjoint", span = Span::mixed_site()));
        let jvp = self.name("jvp");
        quote! {
            #bind
            let #pair = #jvp(#(#args,)* #(#tangents),*);
            let #adjoint = (::matgrad::__private::zero_like(&#pair.0), ::matgrad::__private::one::<#ret>());
            #[allow(unused_variables)]
            let (#(#r,)*) = #pullback(#(#args,)* #(#tangents,)* &#pair, #adjoint);
            (#pair.0, #(#gs,)* #(#hs),*)
        }
    }

    /// `_pullback`'s body: the rule's pullback at zero tangents with the adjoint `(0, ḡ)`, read
    /// at the tangents' slots (`Jᵀ ḡ`).
    fn pullback_by_rule(&self) -> TokenStream {
        let bind = self.bind_rules();
        let (_, pullback) = rule_vars();
        let (value, adjoint) = self.value_adjoint();
        let (args, tangents, r) = (self.args(), self.tangent_names(), self.rule_slots());
        let zeros = self.sig.wrt.iter().zip(&tangents).map(|(&i, t)| {
            let p = &self.sig.params[i];
            let x = &p.ident;
            let x = if p.is_ref { quote!(#x) } else { quote!(&#x) };
            let zero = match p.class {
                Class::Float | Class::Matrix => quote!(::matgrad::__private::zero_like(#x)),
                _ => quote!(::matgrad::Differentiable::zero_like(#x)),
            };
            match p.is_ref {
                true => quote!(let #t = &#zero;),
                false => quote!(let #t = #zero;),
            }
        });
        let n = self.sig.params.len();
        let grads: Vec<TokenStream> = (0..self.sig.wrt.len()).map(|j| r[n + j].to_token_stream()).collect();
        let slots = self.slots(&grads);
        let pair = format_ident!("pair", span = Span::mixed_site());
        quote! {
            #bind
            #(#zeros)*
            let #pair = (::core::clone::Clone::clone(#value), ::matgrad::__private::zero_like(#value));
            let #adjoint = (::matgrad::__private::zero_like(&#adjoint), #adjoint);
            #[allow(unused_variables)]
            let (#(#r,)*) = #pullback(#(#args,)* #(#tangents,)* &#pair, #adjoint);
            (#(#slots,)*)
        }
    }
}
