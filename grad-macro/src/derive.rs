//! `#[derive(Differentiable)]`: a struct's operations are its fields' operations, in
//! declaration order; a `#[differentiable(skip)]` field is a constant, cloned where a value is
//! built and left out of every sum.
//!
//! ```text
//! // Input:
//! #[derive(Clone, Differentiable)]
//! struct Mlp<T: RealField + Copy> { w: DMatrix<T>, #[differentiable(skip)] rate: f64 }
//! // Output:
//! impl<T: RealField + Copy> Differentiable for Mlp<T>
//! where DMatrix<T>: Differentiable,
//! {
//!     type Scalar = <DMatrix<T> as Differentiable>::Scalar;
//!     fn zero_like(&self) -> Self { Self { w: zero_like(&self.w), rate: clone(&self.rate) } }
//!     fn add_scaled(&mut self, a, other: &Self) { add_scaled(&mut self.w, a, &other.w); }
//!     fn dot(&self, other: &Self) -> Self::Scalar { zero() + dot(&self.w, &other.w) }
//!     …
//! }
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Member, Type};

use crate::ctxt::Ctxt;
use crate::symbol;

/// A field of the struct and whether it is differentiated.
struct Field {
    member: Member,
    ty: Type,
    vis: syn::Visibility,
    skip: bool,
}

/// The derive's entry point: the impl, or the errors beside a fallback impl.
pub fn differentiable(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(i) => i,
        Err(e) => return e.into_compile_error(),
    };
    let cx = Ctxt::default();
    let fields = fields(&cx, &input);
    let scalar = fields.iter().find(|f| !f.skip).map(|f| f.ty.clone());
    if scalar.is_none() && !cx.has_errors() {
        cx.error_spanned_by(
            &input.ident,
            "`#[derive(Differentiable)]` needs at least one field that is not `#[differentiable(skip)]`: the gradient's scalar type is its fields'",
        );
    }
    match (cx.check(), scalar) {
        (Ok(()), Some(first)) => implementation(&input, &fields, &first),
        (result, _) => {
            let err = result.err().map(syn::Error::into_compile_error);
            let fallback = fallback(&input);
            quote!(#err #fallback)
        }
    }
}

/// The fields of a struct with named or unnamed fields; an enum or a union is an error.
fn fields(cx: &Ctxt, input: &DeriveInput) -> Vec<Field> {
    for attr in input.attrs.iter().filter(|a| a.path().is_ident(symbol::DIFFERENTIABLE_ATTR)) {
        cx.error_spanned_by(
            attr,
            "`#[differentiable(skip)]` marks a field; on the struct it has no meaning: remove it",
        );
    }
    let data = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            cx.error_spanned_by(e.enum_token, "`#[derive(Differentiable)]` supports structs, not enums: a gradient must have the same variant as its value; hold the parameters of each case in a struct");
            return Vec::new();
        }
        Data::Union(u) => {
            cx.error_spanned_by(u.union_token, "`#[derive(Differentiable)]` supports structs, not unions");
            return Vec::new();
        }
    };
    let members = match data {
        Fields::Named(_) | Fields::Unnamed(_) => data.members(),
        Fields::Unit => return Vec::new(),
    };
    data.iter()
        .zip(members)
        .map(|(f, member)| Field { member, ty: f.ty.clone(), vis: f.vis.clone(), skip: skipped(cx, f) })
        .collect()
}

/// Whether a field carries `#[differentiable(skip)]` (said once).
fn skipped(cx: &Ctxt, field: &syn::Field) -> bool {
    let mut skip = false;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident(symbol::DIFFERENTIABLE_ATTR)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident(symbol::SKIP) {
                return Err(meta.error("unknown `differentiable` key: expected `skip`"));
            }
            if skip {
                return Err(meta.error("`skip` is given twice: give it once"));
            }
            skip = true;
            Ok(())
        });
        if let Err(e) = parsed {
            cx.push(e);
        }
    }
    skip
}

/// `impl Differentiable for Name<…> where <each differentiated field's type>: Differentiable
/// with the first one's scalar`.
fn implementation(input: &DeriveInput, fields: &[Field], first: &Type) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let predicates = where_clause.map(|w| {
        let p = w.predicates.iter();
        quote!(#(#p,)*)
    });
    let scalar = quote!(<#first as ::matgrad::Differentiable>::Scalar);
    let params = type_params(&input.generics);
    let mut seen: Vec<String> = Vec::new();
    let bounds = fields.iter().filter(|f| !f.skip).filter_map(|f| {
        let ty = &f.ty;
        let key = quote!(#ty).to_string();
        let repeated = seen.contains(&key);
        seen.push(key);
        // A bound that names the scalar of the same type is a cycle for rustc; a concrete
        // type's scalar is checked in the methods' bodies instead.
        let same_scalar = (seen.len() > 1 && mentions(ty, &params)).then(|| quote!(<Scalar = #scalar>));
        (!repeated).then(|| quote_spanned!(ty.span()=> #ty: ::matgrad::Differentiable #same_scalar,))
    });
    let bounds: Vec<TokenStream> = bounds.collect();
    let methods = methods(fields);
    let slots = slots(fields);
    quote! {
        #[automatically_derived]
        impl #impl_generics ::matgrad::Differentiable for #name #ty_generics
        where
            #predicates
            #(#bounds)*
        {
            type Scalar = #scalar;
            #methods
        }

        // A struct is a value of `#[differentiate]` functions, its own adjoint.
        #[automatically_derived]
        impl #impl_generics ::matgrad::Value for #name #ty_generics
        where
            #predicates
            #name #ty_generics: ::matgrad::Differentiable,
        {
            type Scalar = <Self as ::matgrad::Differentiable>::Scalar;
            type Adj = Self;
            fn zeros_adj(&self) -> Self {
                ::matgrad::Differentiable::zero_like(self)
            }
            fn inner(&self, adj: &Self) -> Self::Scalar {
                ::matgrad::Differentiable::dot(self, adj)
            }
            fn as_scalar(&self) -> ::core::option::Option<Self::Scalar> {
                ::core::option::Option::None
            }
        }

        #[automatically_derived]
        impl #impl_generics ::matgrad::Adjoint for #name #ty_generics
        where
            #predicates
            #name #ty_generics: ::matgrad::Differentiable,
        {
            type Scalar = <Self as ::matgrad::Differentiable>::Scalar;
            fn add_assign_ref(&mut self, other: &Self) {
                ::matgrad::Differentiable::add_scaled(self, ::matgrad::__private::one::<Self::Scalar>(), other);
            }
            fn sub_assign_ref(&mut self, other: &Self) {
                ::matgrad::Differentiable::add_scaled(self, -::matgrad::__private::one::<Self::Scalar>(), other);
            }
            fn neg_in_place(&mut self) {
                ::matgrad::Differentiable::scale(self, -::matgrad::__private::one::<Self::Scalar>());
            }
            fn scale_in_place(&mut self, s: Self::Scalar) {
                ::matgrad::Differentiable::scale(self, s);
            }
            fn axpy_ref(&mut self, a: Self::Scalar, x: &Self) {
                ::matgrad::Differentiable::add_scaled(self, a, x);
            }
        }

        // Its fields may be read on a value of it (`layer.w`, an element of `p.layers`).
        #[automatically_derived]
        impl #impl_generics ::matgrad::__private::Fields for #name #ty_generics #where_clause {}
        #[automatically_derived]
        impl #impl_generics ::matgrad::__private::AsValue for #name #ty_generics #where_clause {
            #[inline(always)]
            fn as_value(&self) -> &Self {
                self
            }
        }

        // Where a field read's adjoint goes (`#[differentiate]` adds it there); none for a
        // skipped field, whose gradient slot keeps the value.
        #[automatically_derived]
        #[allow(dead_code, non_snake_case)]
        impl #impl_generics #name #ty_generics #where_clause {
            #slots
        }
    }
}

/// `fn __matgrad_slot_<field>(&mut self) -> Option<&mut Field>` and
/// `fn __matgrad_const_<field>(&self) -> Skipped<Field>` (`Differentiated<Field>` for a
/// differentiated field) and `fn __matgrad_with_<field>` (see [`with_field`]), with the
/// field's visibility.
fn slots(fields: &[Field]) -> TokenStream {
    fields
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let (m, ty, vis) = (&f.member, &f.ty, &f.vis);
            let name = crate::symbol::slot_method(m);
            let body = if f.skip {
                quote!(::core::option::Option::None)
            } else {
                quote!(::core::option::Option::Some(&mut self.#m))
            };
            // Only a skipped field can be read where a constant is needed (`0..p.steps`): the
            // accessor of a differentiated one returns a type `constant_field` refuses.
            let constant = crate::symbol::const_method(m);
            let wrapper = if f.skip { quote!(Skipped) } else { quote!(Differentiated) };
            let with = with_field(fields, k);
            quote! {
                #[doc(hidden)]
                #[inline(always)]
                #vis fn #name(&mut self) -> ::core::option::Option<&mut #ty> {
                    #body
                }
                #[doc(hidden)]
                #[inline(always)]
                #vis fn #constant(&self) -> ::matgrad::__private::#wrapper<'_, #ty> {
                    ::matgrad::__private::#wrapper(&self.#m)
                }
                #with
            }
        })
        .collect()
}

/// `fn __matgrad_with_<field>(&self, v: Field) -> Self`: zeros shaped like `self` with field
/// `k` set to `v` (a skipped field keeps its value, as in `zero_like`, and `v` is dropped).
fn with_field(fields: &[Field], k: usize) -> TokenStream {
    let f = &fields[k];
    let (name, ty, vis) = (crate::symbol::with_method(&f.member), &f.ty, &f.vis);
    let inits = fields.iter().enumerate().map(|(j, g)| {
        let m = &g.member;
        match (j == k && !g.skip, g.skip) {
            (true, _) => quote!(#m: v),
            (false, true) => quote!(#m: ::core::clone::Clone::clone(&self.#m)),
            (false, false) => quote!(#m: ::matgrad::Differentiable::zero_like(&self.#m)),
        }
    });
    let bounds = fields.iter().enumerate().filter(|&(j, _)| j != k || f.skip).map(|(_, g)| {
        let t = &g.ty;
        // (under `for<'__m>`, a bound on a type without parameters is checked where the method
        // is called, not here: a field that is not `Differentiable` is reported once, on the
        // trait's impl)
        match g.skip {
            true => quote!(for<'__m> #t: ::core::clone::Clone,),
            false => quote!(for<'__m> #t: ::matgrad::Differentiable,),
        }
    });
    quote! {
        #[doc(hidden)]
        #[inline]
        #[allow(unused_variables)]
        #vis fn #name(&self, v: #ty) -> Self where #(#bounds)* {
            Self { #(#inits),* }
        }
    }
}

/// The struct's type parameters.
fn type_params(generics: &syn::Generics) -> Vec<syn::Ident> {
    generics.type_params().map(|p| p.ident.clone()).collect()
}

/// Whether `ty` names one of `params`.
fn mentions(ty: &Type, params: &[syn::Ident]) -> bool {
    fn walk(tokens: TokenStream, params: &[syn::Ident]) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => params.contains(&i),
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), params),
            _ => false,
        })
    }
    walk(quote!(#ty), params)
}

/// The trait's methods, field by field; each field's call is spanned on its type, so that a
/// type error (a field of another scalar type) points at the field.
fn methods(fields: &[Field]) -> TokenStream {
    let each = |f: fn(&Member, Span) -> TokenStream| -> Vec<TokenStream> {
        fields.iter().filter(|x| !x.skip).map(|x| f(&x.member, x.ty.span())).collect()
    };
    let add = each(|m, s| quote_spanned!(s=> ::matgrad::Differentiable::add_scaled(&mut self.#m, a, &other.#m);));
    let scale = each(|m, s| quote_spanned!(s=> ::matgrad::Differentiable::scale(&mut self.#m, a);));
    let dot = each(|m, s| quote_spanned!(s=> + ::matgrad::Differentiable::dot(&self.#m, &other.#m)));
    let len = each(|m, s| quote_spanned!(s=> + ::matgrad::Differentiable::len(&self.#m)));
    let zip = each(|m, s| quote_spanned!(s=> ::matgrad::Differentiable::zip_apply(&mut self.#m, &other.#m, f);));
    let write = each(|m, s| quote_spanned!(s=> ::matgrad::__private::write_part(&self.#m, out, &mut offset);));
    let zero = build(fields, |m, s| quote_spanned!(s=> ::matgrad::Differentiable::zero_like(&self.#m)));
    let unflat = build(fields, |m, s| quote_spanned!(s=> ::matgrad::__private::read_part(&self.#m, flat, &mut offset)));
    quote! {
        fn zero_like(&self) -> Self {
            #zero
        }
        fn add_scaled(&mut self, a: Self::Scalar, other: &Self) {
            #(#add)*
        }
        fn scale(&mut self, a: Self::Scalar) {
            #(#scale)*
        }
        fn dot(&self, other: &Self) -> Self::Scalar {
            ::matgrad::__private::nalgebra::zero::<Self::Scalar>() #(#dot)*
        }
        fn len(&self) -> usize {
            0 #(#len)*
        }
        fn zip_apply<__MatgradF: ::core::ops::FnMut(Self::Scalar, Self::Scalar) -> Self::Scalar>(&mut self, other: &Self, f: &mut __MatgradF) {
            #(#zip)*
        }
        fn write_flat(&self, out: &mut [Self::Scalar]) {
            let mut offset = 0;
            #(#write)*
        }
        fn from_flat(&self, flat: &[Self::Scalar]) -> Self {
            let mut offset = 0;
            #unflat
        }
    }
}

/// `Self { field: part(field), …, skipped: clone(&self.skipped) }`, in declaration order, each
/// part spanned on its field's type.
fn build(fields: &[Field], part: impl Fn(&Member, Span) -> TokenStream) -> TokenStream {
    let inits = fields.iter().map(|f| {
        let (m, span) = (&f.member, f.ty.span());
        let value = if f.skip { quote_spanned!(span=> ::core::clone::Clone::clone(&self.#m)) } else { part(m, span) };
        quote_spanned!(span=> #m: #value)
    });
    quote!(Self { #(#inits),* })
}

/// On error: an impl whose methods are never called, so that uses of the trait on the type
/// report only the real error.
fn fallback(input: &DeriveInput) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics ::matgrad::Differentiable for #name #ty_generics #where_clause {
            type Scalar = f64;
            fn zero_like(&self) -> Self { ::core::unreachable!() }
            fn add_scaled(&mut self, _: f64, _: &Self) { ::core::unreachable!() }
            fn scale(&mut self, _: f64) { ::core::unreachable!() }
            fn dot(&self, _: &Self) -> f64 { ::core::unreachable!() }
            fn len(&self) -> usize { ::core::unreachable!() }
            fn zip_apply<__MatgradF: ::core::ops::FnMut(f64, f64) -> f64>(&mut self, _: &Self, _: &mut __MatgradF) { ::core::unreachable!() }
            fn write_flat(&self, _: &mut [f64]) { ::core::unreachable!() }
            fn from_flat(&self, _: &[f64]) -> Self { ::core::unreachable!() }
        }
    }
}
