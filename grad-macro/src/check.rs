//! The signature: which parameters are differentiated, and what `_grad` returns.

use proc_macro2::Span;
use quote::ToTokens;
use syn::{FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Type};

use crate::args::Args;
use crate::ctxt::Ctxt;
use crate::symbol;

/// How a parameter's type reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// f32, f64 or a generic scalar `T`.
    Float,
    /// An nalgebra matrix or vector.
    Matrix,
    /// Integers, bools, strings, tuples: never differentiated.
    Constant,
    /// A tuple: differentiated only if listed in `wrt` (its gradient a tuple, read by field:
    /// `t.0`); a constant otherwise.
    Tuple,
    /// A slice, array or `Vec` (of matrices, scalars or structs): differentiated only if listed
    /// in `wrt` (its gradient a `Vec`, or an array for an array); a constant otherwise.
    Collection,
    /// A type the macro cannot classify (an alias): differentiated only if listed in `wrt`.
    Unknown,
}

pub struct Param {
    pub ident: Ident,
    /// The type as written.
    pub ty: Type,
    /// Whether the type is `&T`.
    pub is_ref: bool,
    pub class: Class,
    /// The gradient's type: the owned type of the parameter.
    pub grad_ty: Type,
}

pub struct Signature {
    pub params: Vec<Param>,
    /// Indices into `params`, in the order the gradients are returned.
    pub wrt: Vec<usize>,
    /// The value's type.
    pub ret: Type,
    /// Whether the value is a matrix (then there is a `_vjp` but no `_grad`).
    pub ret_is_matrix: bool,
}

/// Reads the signature, reporting everything unsupported into `cx`.
pub fn signature(cx: &Ctxt, item: &ItemFn, args: &Args) -> Signature {
    let sig = &item.sig;
    if let Some(t) = &sig.asyncness {
        cx.error_spanned_by(t, "`#[differentiate]` does not support `async fn`: write a synchronous function; only its gradient is generated");
    }
    if let Some(t) = &sig.unsafety {
        cx.error_spanned_by(t, "`#[differentiate]` does not support `unsafe fn`: differentiate a safe function that wraps the unsafe call in a user rule");
    }
    if let Some(t) = &sig.constness {
        cx.error_spanned_by(t, "`#[differentiate]` does not support `const fn`: remove `const`");
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            "`#[differentiate]` does not support `extern` functions: differentiate a Rust function and wrap it",
        );
    }
    if let Some(v) = &sig.variadic {
        cx.error_spanned_by(v, "`#[differentiate]` does not support variadic functions");
    }
    let scalar_generics = generics(cx, item);
    let params: Vec<Param> = sig.inputs.iter().filter_map(|arg| param(cx, arg, &scalar_generics)).collect();
    let wrt = wrt(cx, &params, args);
    let ret = ret(cx, sig, &scalar_generics);
    // A matrix or a tuple: no `_grad`, a `_vjp` with an adjoint of the value's type.
    let ret_is_matrix = classify(&ret, &scalar_generics) == Class::Matrix || matches!(ret, Type::Tuple(_));
    Signature { params, wrt, ret, ret_is_matrix }
}

fn generics(cx: &Ctxt, item: &ItemFn) -> Vec<Ident> {
    let mut scalars = Vec::new();
    for p in &item.sig.generics.params {
        match p {
            GenericParam::Type(t) => scalars.push(t.ident.clone()),
            GenericParam::Lifetime(_) | GenericParam::Const(_) => {}
        }
    }
    if scalars.len() > 1 {
        cx.error_spanned_by(
            &item.sig.generics,
            "`#[differentiate]` supports one generic type parameter, the scalar (`fn f<T: RealField + Copy>`); make the others concrete",
        );
    }
    scalars
}

fn param(cx: &Ctxt, arg: &FnArg, generics: &[Ident]) -> Option<Param> {
    let pat = match arg {
        FnArg::Receiver(r) => {
            cx.error_spanned_by(r, "`#[differentiate]` does not support methods: write a free function that takes the value as a parameter");
            return None;
        }
        FnArg::Typed(pat) => pat,
    };
    let ident = match &*pat.pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
        other => {
            cx.error_spanned_by(other, "`#[differentiate]` needs a plain name for every parameter: write `x: Type` and destructure in the body");
            return None;
        }
    };
    let ty = (*pat.ty).clone();
    let (is_ref, inner) = match &ty {
        Type::Reference(r) => {
            if let Some(m) = &r.mutability {
                cx.error_spanned_by(
                    quote::quote!(#m #ident),
                    "`#[differentiate]` does not support `&mut` parameters: take `&T` or `T` and return what the function computes",
                );
            }
            (true, (*r.elem).clone())
        }
        t => (false, t.clone()),
    };
    let class = classify(&inner, generics);
    if class == Class::Matrix && is_view(&inner) {
        cx.error_spanned_by(
            &ty,
            "`#[differentiate]` does not support matrix-view parameters yet: take `&DMatrix<T>` or `&SMatrix<T, R, C>`",
        );
    }
    let grad_ty = match (&inner, class) {
        (Type::Slice(s), Class::Collection) => {
            let elem = &s.elem;
            syn::parse_quote_spanned!(s.bracket_token.span.join()=> ::matgrad::__private::Vec<#elem>)
        }
        _ => inner,
    };
    Some(Param { ident, ty, is_ref, class, grad_ty })
}

/// Whether `ty` (or `&ty`) is a `Vec<…>`.
fn is_vec(ty: &Type) -> bool {
    last_ident(inner_type(ty)).is_some_and(|i| i == "Vec")
}

/// `T` for `&T`, `ty` otherwise.
fn inner_type(ty: &Type) -> &Type {
    match ty {
        Type::Reference(r) => &r.elem,
        t => t,
    }
}

fn last_ident(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| &s.ident),
        Type::Paren(p) => last_ident(&p.elem),
        Type::Group(g) => last_ident(&g.elem),
        _ => None,
    }
}

fn is_view(ty: &Type) -> bool {
    last_ident(ty).is_some_and(|i| i.to_string().contains("View"))
}

fn classify(ty: &Type, generics: &[Ident]) -> Class {
    match ty {
        Type::Path(p)
            if p.qself.is_none() && p.path.segments.len() == 1 && generics.contains(&p.path.segments[0].ident) =>
        {
            Class::Float
        }
        Type::Slice(_) | Type::Array(_) => Class::Collection,
        Type::Tuple(t) if !t.elems.is_empty() => Class::Tuple,
        Type::Tuple(_) | Type::Reference(_) | Type::Ptr(_) => Class::Constant,
        _ => match last_ident(ty).map(|i| i.to_string()) {
            Some(n) if symbol::is_float_type(&n) => Class::Float,
            Some(n) if symbol::is_matrix_type(&n) || n.contains("View") && n.contains("Matrix") => Class::Matrix,
            Some(n) if symbol::is_constant_type(&n) => Class::Constant,
            Some(n) if n == "Vec" => Class::Collection,
            _ => Class::Unknown,
        },
    }
}

fn wrt(cx: &Ctxt, params: &[Param], args: &Args) -> Vec<usize> {
    let Some(names) = &args.wrt else {
        // Every parameter that may be differentiated, the unclassified ones included: a
        // suggestion never drops a gradient.
        let all: Vec<String> = params
            .iter()
            .filter(|p| !matches!(p.class, Class::Constant | Class::Collection | Class::Tuple))
            .filter(|p| !matches!(inner_type(&p.ty), Type::ImplTrait(_)))
            .map(|p| p.ident.to_string())
            .collect();
        let known: Vec<String> = params
            .iter()
            .filter(|p| matches!(p.class, Class::Float | Class::Matrix))
            .map(|p| p.ident.to_string())
            .collect();
        // A `Vec` needs `wrt` as other unclassified types do (slices and arrays are constants).
        let unknown = |p: &&Param| p.class == Class::Unknown || p.class == Class::Collection && is_vec(&p.ty);
        for p in params.iter().filter(unknown) {
            let msg = if matches!(inner_type(&p.ty), Type::ImplTrait(_)) {
                let example = if known.is_empty() {
                    String::new()
                } else {
                    format!(", as in `#[differentiate(wrt({}))]`", known.join(", "))
                };
                format!(
                    "`{}` has an `impl Trait` type, which has no gradient: give it a concrete type, or name the parameters to differentiate in `wrt(...)`{example} (then `{}` is a constant)",
                    p.ident, p.ident
                )
            } else {
                format!(
                    "cannot tell whether `{}` is differentiable from its type `{}`: to differentiate it, name it in `wrt(...)`, as in `#[differentiate(wrt({}))]`, and if its type is a struct, derive `matgrad::Differentiable` for it (`#[derive(Clone, Differentiable)]`)",
                    p.ident,
                    type_str(&p.ty),
                    all.join(", ")
                )
            };
            cx.error_spanned_by(&p.ty, msg);
        }
        return (0..params.len()).filter(|&i| matches!(params[i].class, Class::Float | Class::Matrix)).collect();
    };
    let mut out: Vec<usize> = Vec::new();
    for name in names {
        match params.iter().position(|p| p.ident == *name) {
            None => {
                let list: Vec<String> = params.iter().map(|p| format!("`{}`", p.ident)).collect();
                cx.error_spanned_by(name, format!("`wrt` names `{name}`, which is not a parameter; the parameters are {}", list.join(", ")));
            }
            Some(i) if out.contains(&i) => cx.error_spanned_by(name, format!("`{name}` is listed twice in `wrt`: list it once")),
            Some(i) if params[i].class == Class::Constant => cx.error_spanned_by(
                name,
                format!(
                    "`{name}` has type `{}`, which has no gradient: remove it from `wrt`, which takes float scalars (f32, f64), nalgebra matrices, slices, arrays, `Vec`s and tuples of them, and structs with `#[derive(Differentiable)]`",
                    type_str(&params[i].ty)
                ),
            ),
            Some(i) => out.push(i),
        }
    }
    out
}

fn ret(cx: &Ctxt, sig: &syn::Signature, generics: &[Ident]) -> Type {
    let ty = match &sig.output {
        ReturnType::Default => {
            cx.error_spanned_by(&sig.ident, "a `#[differentiate]` function must return its value: add `-> f64` (or f32) and return the scalar to differentiate");
            return syn::parse_quote_spanned!(Span::call_site()=> f64);
        }
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let (what, instead) = match &ty {
        Type::Tuple(t) if t.elems.is_empty() => {
            ("`()`".to_string(), "return the scalar to differentiate, as in `-> f64`")
        }
        Type::Never(_) => ("`!`".to_string(), "return the scalar to differentiate, as in `-> f64`"),
        Type::Tuple(t)
            if (2..=4).contains(&t.elems.len())
                && t.elems.iter().all(|e| matches!(classify(e, generics), Class::Float | Class::Matrix)) =>
        {
            return ty;
        }
        Type::Tuple(_) => (
            "a tuple of other values".to_string(),
            "return a scalar, a matrix, or a tuple of two to four of them (`-> (DMatrix<f64>, f64)`)",
        ),
        Type::Reference(r) => {
            cx.error_spanned_by(
                &ty,
                format!(
                    "a `#[differentiate]` function returns its value, not a reference: write `-> {}`",
                    type_str(&r.elem)
                ),
            );
            return (*r.elem).clone();
        }
        Type::Array(_) | Type::Slice(_) => {
            ("an array".to_string(), "return one scalar, such as the sum or the squared norm of the entries")
        }
        t => match last_ident(t).map(|i| i.to_string()) {
            Some(n) if symbol::is_constant_type(&n) => {
                (format!("`{n}`"), "return the float value to differentiate, as in `-> f64`")
            }
            _ => return ty,
        },
    };
    cx.error_spanned_by(
        &ty,
        format!(
            "a `#[differentiate]` function returns a float scalar (f32 or f64) to differentiate, or a matrix (for its vector-Jacobian product `_vjp`), not {what}: {instead}"
        ),
    );
    ty
}

/// A type as the user would write it: `&[f64]`, `DMatrix<f64>`.
pub fn type_str(ty: &Type) -> String {
    let s = ty.to_token_stream().to_string();
    let s = s.replace("& ", "&").replace(" <", "<").replace("< ", "<").replace(" >", ">").replace(" ,", ",");
    s.replace(" ;", ";").replace("[ ", "[").replace(" ]", "]")
}
