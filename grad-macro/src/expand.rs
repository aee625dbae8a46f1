//! The expansion: the user's function unchanged, and beside it
//! - `<name>_pullback`: the value, and a closure mapping the value's adjoint to one gradient
//!   slot per parameter (`NoGradient` for parameters outside `wrt`). It is how a
//!   `#[differentiate]` function calls another, and what `#[custom_vjp]` declares.
//! - `<name>_grad` (scalar functions): the value and the gradients of `wrt`.
//! - `<name>_vjp`: the value and the vector-Jacobian products of `wrt` for a given adjoint of
//!   the value (for matrix-valued functions).
//!
//! On error, stubs with the right signatures stand next to the errors, so callers see only the
//! real error.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::{GenericParam, ItemFn, Type};

use crate::args::{Args, RuleArgs};
use crate::check::{self, Signature};
use crate::ctxt::Ctxt;
use crate::{emit, lower};

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
    let lowered = lower::function(&cx, &sig, &func.block);
    let gen = Gen::new(&func, &sig);
    match cx.check() {
        Ok(()) => {
            let seed = format_ident!("_seed", span = Span::mixed_site());
            let parts = emit::pullback_parts(&sig, &lowered, &seed);
            let user = &func.sig.ident;
            let type_args = gen.type_args();
            let (items, forward, value, reverse) = (&parts.items, &parts.forward, &parts.value, &parts.reverse);
            let slots = gen.slots(&parts.grads);
            let ret = &sig.ret;
            let body = quote! {
                // Calling the generated functions counts as using the function they differentiate.
                let _ = #user::<#(#type_args),*>;
                #items
                #forward
                (#value, move |#seed: #ret| { #reverse (#(#slots,)*) })
            };
            let pullback = gen.pullback(Some(body));
            let wrappers = gen.wrappers(false);
            quote!(#func #pullback #wrappers)
        }
        Err(err) => {
            let stubs = gen.stubs();
            let err = err.into_compile_error();
            quote!(#func #stubs #err)
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
    let user = &func.sig.ident;
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
    let value = format_ident!("value", span = Span::mixed_site());
    let seed = format_ident!("_seed", span = Span::mixed_site());
    let args_call = sig.params.iter().map(|p| {
        let i = &p.ident;
        if p.is_ref {
            quote!(#i)
        } else {
            quote!(::core::clone::Clone::clone(&#i))
        }
    });
    let args_rule = sig.params.iter().map(|p| &p.ident);
    let type_args = gen.type_args();
    let slots = gen.slots(&grad_idents.iter().map(|i| i.to_token_stream()).collect::<Vec<_>>());
    // The rule's path keeps its span, so a signature mismatch is reported on it.
    let body = quote! {
        let #rule_var: fn(#(#param_tys,)* &#ret, #ret) -> #grads_ty = #rule_path;
        let #value = #user::<#(#type_args),*>(#(#args_call),*);
        (::core::clone::Clone::clone(&#value), move |#seed: #ret| {
            let #pat = #rule_var(#(#args_rule,)* &#value, #seed);
            (#(#slots,)*)
        })
    };
    let pullback = gen.pullback(Some(body));
    let wrappers = gen.wrappers(false);
    quote!(#func #pullback #wrappers)
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
}

impl<'a> Gen<'a> {
    fn new(func: &'a ItemFn, sig: &'a Signature) -> Self {
        Gen { func, sig }
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

    /// One gradient slot per parameter: `grads` (in `wrt` order) or `NoGradient`.
    fn slots(&self, grads: &[TokenStream]) -> Vec<TokenStream> {
        (0..self.sig.params.len())
            .map(|i| match self.sig.wrt.iter().position(|&w| w == i) {
                Some(k) => grads[k].clone(),
                None => quote!(::matgrad::__private::NoGradient),
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

    /// `<name>_pullback`, with `body` (a stub without).
    fn pullback(&self, body: Option<TokenStream>) -> TokenStream {
        let vis = &self.func.vis;
        let name = self.name("pullback");
        let mut generics = self.generics();
        // References the closure keeps get the lifetime `'mg`.
        let mg = syn::Lifetime::new("'mg", Span::mixed_site());
        let mut uses_mg = false;
        let params: Vec<TokenStream> = self
            .sig
            .params
            .iter()
            .map(|p| {
                let i = &p.ident;
                match &p.ty {
                    Type::Reference(r) if r.lifetime.is_none() => {
                        uses_mg = true;
                        let mut r = r.clone();
                        r.lifetime = Some(mg.clone());
                        quote!(#i: #r)
                    }
                    t => quote!(#i: #t),
                }
            })
            .collect();
        if uses_mg {
            generics.params.insert(0, syn::parse_quote!(#mg));
        }
        let captured = generics.params.iter().map(|p| match p {
            GenericParam::Lifetime(l) => l.lifetime.to_token_stream(),
            GenericParam::Type(t) => t.ident.to_token_stream(),
            GenericParam::Const(c) => c.ident.to_token_stream(),
        });
        let captured: Vec<TokenStream> = captured.collect();
        let (params_g, where_clause) = (&generics.params, &generics.where_clause);
        let ret = &self.sig.ret;
        let slot_tys = self.slot_types();
        let attrs = self.attrs();
        let doc = format!(
            " The value of [`{}`] and its pullback: a function from the value's adjoint to one gradient per parameter (`NoGradient` for parameters not differentiated; differentiated here: {}). Generated by matgrad; a `#[differentiate]` function calling `{}` uses it.",
            self.func.sig.ident,
            self.wrt_list(),
            self.func.sig.ident
        );
        let body = body.unwrap_or_else(|| {
            quote! {
                (::core::unreachable!(), move |_: #ret| -> (#(#slot_tys,)*) { ::core::unreachable!() })
            }
        });
        quote! {
            #(#attrs)*
            #[doc = #doc]
            #[allow(dead_code, unreachable_code, unused_variables, unused_assignments, clippy::all)]
            #[inline]
            #vis fn #name<#params_g>(#(#params),*)
                -> (#ret, impl ::core::ops::FnOnce(#ret) -> (#(#slot_tys,)*) + use<#(#captured),*>)
                #where_clause
            {
                #body
            }
        }
    }

    /// `<name>_grad` (for a scalar value) and `<name>_vjp`, calling `<name>_pullback`.
    fn wrappers(&self, stub: bool) -> TokenStream {
        let vis = &self.func.vis;
        let generics = self.generics();
        let (params_g, where_clause) = (&generics.params, &generics.where_clause);
        let params = self.params();
        let ret = &self.sig.ret;
        let grads = self.sig.wrt.iter().map(|&i| &self.sig.params[i].grad_ty);
        let grads: Vec<&Type> = grads.collect();
        let pb = self.name("pullback");
        let args = self.sig.params.iter().map(|p| &p.ident);
        let args: Vec<&syn::Ident> = args.collect();
        let names: Vec<syn::Ident> = self
            .sig
            .wrt
            .iter()
            .map(|&i| format_ident!("d_{}", self.sig.params[i].ident, span = Span::mixed_site()))
            .collect();
        let pats = self.slots(&names.iter().map(|n| n.to_token_stream()).collect::<Vec<_>>());
        let pats = pats.iter().map(|p| if p.to_string().contains("NoGradient") { quote!(_) } else { p.clone() });
        let pats: Vec<TokenStream> = pats.collect();
        let value = format_ident!("value", span = Span::mixed_site());
        let pullback = format_ident!("pullback", span = Span::mixed_site());
        let adjoint = format_ident!("adjoint", span = Span::mixed_site());
        let call = |seed: TokenStream| {
            if stub {
                quote!(::core::unreachable!())
            } else {
                quote! {
                    let (#value, #pullback) = #pb(#(#args),*);
                    let (#(#pats,)*) = #pullback(#seed);
                    (#value, #(#names),*)
                }
            }
        };
        let allow = stub.then(|| quote!(#[allow(unused_variables, clippy::diverging_sub_expression)]));
        let attrs: Vec<&syn::Attribute> = self.attrs().collect();
        let user = &self.func.sig.ident;
        let wrt = self.wrt_list();
        let grad = (!self.sig.ret_is_matrix).then(|| {
            let name = self.name("grad");
            let doc = format!(
                " The value of [`{user}`] and its gradient with respect to {wrt}, in that order, by reverse-mode differentiation. Generated by matgrad."
            );
            let body = call(quote!(::matgrad::__private::one::<#ret>()));
            quote! {
                #(#attrs)*
                #[doc = #doc]
                #allow
                #vis fn #name<#params_g>(#(#params),*) -> (#ret, #(#grads),*) #where_clause {
                    #body
                }
            }
        });
        let vjp = {
            let name = self.name("vjp");
            let doc = format!(
                " The value of [`{user}`] and the vector-Jacobian products with respect to {wrt}: the gradients of `⟨adjoint, {user}(…)⟩`, for the adjoint (same shape as the value) given last. Generated by matgrad."
            );
            let body = call(quote!(#adjoint));
            quote! {
                #(#attrs)*
                #[doc = #doc]
                #[allow(dead_code)]
                #allow
                #vis fn #name<#params_g>(#(#params,)* #adjoint: #ret) -> (#ret, #(#grads),*) #where_clause {
                    #body
                }
            }
        };
        quote!(#grad #vjp)
    }

    /// Stubs of every generated function, for when the expansion failed.
    fn stubs(&self) -> TokenStream {
        let pullback = self.pullback(None);
        let wrappers = self.wrappers(true);
        quote!(#pullback #wrappers)
    }
}
