//! Emitting struct (and tuple) parameters: the bindings of the field paths the body reads
//! (`let p_w1 = &p.w1;`), and a parameter's gradient gathered from its own adjoint and its
//! fields' (`zero_like(p)` with each field's adjoint added into its slot).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::Emitter;
use crate::check::Signature;
use crate::ir::ValueId;
use crate::lower::{self, Lowered};

impl Emitter<'_> {
    /// A tuple's fields and a vector's coordinates are reached through these traits (a
    /// struct's through methods of its own).
    pub(super) fn field_traits(&self, low: &Lowered) {
        if !low.fields.is_empty() {
            self.items.borrow_mut().push(quote!(
                use ::matgrad::__private::{
                    Coordinates as _, TupleSlot0 as _, TupleSlot1 as _, TupleSlot2 as _, TupleSlot3 as _,
                    TupleSlot4 as _, TupleSlot5 as _,
                };
            ));
        }
    }

    /// The field bindings of a tangent program, whose parameters are the function's and the
    /// tangents (`let tangent_p_w1 = &tangent_p.w1;`): each rooted at its parameter's value.
    pub(super) fn program_field_bindings(&self, low: &Lowered) -> TokenStream {
        let bind = |f: &lower::FieldRead| lower::field_binding(self.ident(low.params[f.param]), f, self.ident(f.value));
        low.fields.iter().map(bind).collect()
    }

    /// `let p_w1 = &p.w1;` for each field path of a struct parameter that the body reads.
    pub(super) fn field_bindings(&self, sig: &Signature, low: &Lowered) -> TokenStream {
        let bind = |f: &lower::FieldRead| lower::field_binding(&sig.params[f.param].ident, f, self.ident(f.value));
        low.fields.iter().map(bind).collect()
    }

    /// Parameter `param`'s gradient: its adjoint (zeros when none arrived), and for a struct,
    /// each field path's adjoint added into the same field of it (through the slots of
    /// `#[derive(Differentiable)]`; a skipped field has none and keeps its value).
    ///
    /// Output: `{ let mut g = p.__matgrad_with_w1(init(d_p_w1)); if let Some(s) = g.__matgrad_slot_b1() { *s = init(d_p_b1) } g }`:
    /// the first named top-level field that one path alone reaches is given to the gradient as
    /// it starts (else it starts as `zero_like(p)`), each other such field is set to its
    /// adjoint, and a field that does not start at zeros, or that another path reaches into,
    /// has its adjoint added (`add_to(s, d)`).
    pub(super) fn gradient(
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
        // A field that starts at zeros and no other path reaches into (or out of) takes its
        // adjoint as it is: no pass adding it to zeros.
        let zeros = own.is_none();
        let alone = |f: &lower::FieldRead| {
            let overlaps = |o: &lower::FieldRead| o.path.starts_with(&f.path) || f.path.starts_with(&o.path);
            reached.iter().filter(|(o, _)| overlaps(o)).count() == 1
        };
        // The first such field of a struct (a named one at the top) is given to the gradient as it
        // starts, so that it is not made of zeros first.
        let given = match zeros {
            true => reached.iter().position(|(f, _)| matches!(f.path.as_slice(), [syn::Member::Named(_)]) && alone(f)),
            false => None,
        };
        let start = match (own, given) {
            (Some(own), _) => own,
            (None, Some(k)) => {
                let (f, d) = reached[k];
                let (r, with) = (self.reference(w), crate::symbol::with_method(&f.path[0]));
                let span = self.values[f.value].span;
                quote_spanned!(span=> #r.#with(::matgrad::__private::init(#d)))
            }
            (None, None) => {
                let r = self.reference(w);
                quote!(::matgrad::Differentiable::zero_like(#r))
            }
        };
        let adds = reached.iter().enumerate().filter(|&(k, _)| Some(k) != given).map(|(_, (f, d))| {
            let span = self.values[f.value].span;
            let (first, rest) = f.path.split_first().expect("a field path has a field");
            let first = crate::symbol::slot_method(first);
            let rest = rest.iter().map(crate::symbol::slot_method);
            let slot = format_ident!("slot", span = Span::mixed_site());
            let put = match zeros && alone(f) {
                true => quote!(*#slot = ::matgrad::__private::init(#d);),
                false => quote!(::matgrad::__private::add_to(#slot, #d);),
            };
            quote_spanned! {span=>
                if let ::core::option::Option::Some(#slot) = #g.#first() #(.and_then(|s| s.#rest()))* {
                    #put
                }
            }
        });
        quote!({ let mut #g = #start; #(#adds)* #g })
    }

    pub(super) fn zeros(&self, w: ValueId) -> TokenStream {
        let r = self.reference(w);
        quote!(::matgrad::__private::zero_like(#r))
    }
}
