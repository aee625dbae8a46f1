//! The attribute's arguments: `#[differentiate]` or `#[differentiate(wrt(a, b))]`.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Token};

mod kw {
    syn::custom_keyword!(wrt);
    syn::custom_keyword!(forward);
}

#[derive(Default)]
pub struct Args {
    /// The parameters listed in `wrt(...)`, in order; `None` without `wrt`.
    pub wrt: Option<Vec<Ident>>,
    /// `forward` (its span): also generate forward mode, `_jvp` and (for a scalar value) `_hvp`.
    pub forward: Option<proc_macro2::Span>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        args.parse_rest(input)?;
        Ok(args)
    }
}

/// `#[custom_vjp(rule)]` or `#[custom_vjp(rule, wrt(a, b))]`.
pub struct RuleArgs {
    /// The function computing the adjoints.
    pub rule: syn::Path,
    pub args: Args,
}

impl Parse for RuleArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() || input.peek(kw::wrt) {
            return Err(syn::Error::new(
                input.span(),
                crate::ctxt::layout("`#[custom_vjp]` names the function computing the adjoints first: `#[custom_vjp(my_rule)]`, with `fn my_rule(<the parameters>, value: &R, adjoint: R) -> <gradients>`"),
            ));
        }
        let rule: syn::Path = input.parse()?;
        let mut args = Args::default();
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
            args.parse_rest(input)?;
        }
        Ok(RuleArgs { rule, args })
    }
}

impl Args {
    fn parse_rest(&mut self, input: ParseStream) -> syn::Result<()> {
        let args = self;
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::wrt) {
                let key: kw::wrt = input.parse()?;
                if !input.peek(syn::token::Paren) {
                    return Err(input.error("write `wrt(x, …)`: the parameters to differentiate go in parentheses"));
                }
                let content;
                syn::parenthesized!(content in input);
                let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, param_name)?;
                if args.wrt.is_some() {
                    return Err(syn::Error::new(
                        key.span,
                        crate::ctxt::layout("duplicate `wrt` argument: list every parameter in one `wrt(...)`"),
                    ));
                }
                if names.is_empty() {
                    return Err(syn::Error::new(
                        key.span,
                        crate::ctxt::layout(
                            "`wrt()` lists no parameter: name the parameters to differentiate, as in `wrt(w, b)`",
                        ),
                    ));
                }
                args.wrt = Some(names.into_iter().collect());
            } else if lookahead.peek(kw::forward) {
                let key: kw::forward = input.parse()?;
                if args.forward.replace(key.span).is_some() {
                    return Err(syn::Error::new(key.span, crate::ctxt::layout("duplicate `forward` argument")));
                }
            } else if input.peek(Ident) {
                let unknown: Ident = input.parse()?;
                return Err(syn::Error::new(
                    unknown.span(),
                    crate::ctxt::layout(&format!("unknown argument `{unknown}`: `#[differentiate]` takes `wrt(a, b)`, the parameters to differentiate, and `forward` (forward mode: `_jvp`, `_hvp`)")),
                ));
            } else {
                return Err(lookahead.error());
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    }
}

/// A parameter name in `wrt(...)`.
fn param_name(input: ParseStream) -> syn::Result<Ident> {
    input.parse().map_err(|e| syn::Error::new(e.span(), "`wrt` lists parameter names, as in `wrt(x, y)`"))
}
