//! Field reads of a differentiated struct parameter: `p.w1`, `&p.w1`, `p.enc.w`, `p.0`.
//!
//! Each field path read in the body becomes a value of its own that stands for the field, as a
//! parameter does (so it is read the same way in every position: a loop, a branch arm, a `map`
//! closure), bound once at the top of the generated function. The parameter's gradient starts
//! from zeros shaped like it (`Differentiable::zero_like`) and each path's adjoint is added into
//! the same field of it, through the slot that `#[derive(Differentiable)]` generates (none for a
//! `#[differentiable(skip)]` field, whose slot keeps the value).
//!
//! Input:
//! ```ignore
//! #[differentiate(wrt(p))]
//! fn f(p: &Mlp, x: &DMatrix<f64>) -> f64 { (x * &p.w1).norm_squared() }
//! ```
//! Output (paths shortened):
//! ```ignore
//! let p_w1_3 = &p.w1;
//! let t_4 = by_ref(x) * by_ref(p_w1_3);
//! // … reverse sweep: d_p_w1_3 …
//! let d_p = { let mut g = zero_like(p); if let Some(s) = g.__matgrad_slot_w1() { add_to(s, d_p_w1_3) } g };
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Expr, Member};

use super::Lower;
use crate::ir::{Kind, ValueId};

/// A field path of a struct parameter read in the body.
#[derive(Clone)]
pub struct FieldRead {
    /// The parameter's index in the signature.
    pub param: usize,
    /// The members from the parameter to the field (`enc`, `w` for `p.enc.w`).
    pub path: Vec<Member>,
    /// The value standing for the field.
    pub value: ValueId,
    /// A field of a tangent parameter (forward mode): the tangent of the field, zeros where a
    /// field on the path is `#[differentiable(skip)]`.
    pub tangent: bool,
}

impl Lower<'_> {
    /// Makes a value for every field path of a differentiated struct parameter in `block`,
    /// before the body is lowered (a loop body is lowered more than once, and a value made
    /// inside it would be undone with it).
    pub(super) fn field_values(&mut self, block: &syn::Block) {
        let mut paths = Paths(Vec::new());
        syn::visit::Visit::visit_block(&mut paths, block);
        for (e, root, path) in paths.0 {
            let Some((_, id)) = self.binding(&root) else { continue };
            let Some(&(_, param)) = self.struct_params.iter().find(|(v, _)| *v == id) else { continue };
            if !self.fields.iter().any(|f| f.param == param && f.path == path) {
                self.new_field(&root, param, path, &e);
            }
        }
    }

    /// The value of `e` if it is a field path rooted at a differentiated struct parameter
    /// (not shadowed).
    pub(super) fn struct_field(&mut self, e: &Expr) -> Option<ValueId> {
        let (root, path) = field_path(e)?;
        let (_, id) = self.binding(&root)?;
        let param = self.struct_params.iter().find(|(v, _)| *v == id)?.1;
        let value = self.fields.iter().find(|f| f.param == param && f.path == path)?.value;
        Some(match &self.closure {
            Some(_) => self.capture(value),
            None => value,
        })
    }

    /// Whether `v` stands for a field of a struct parameter or is a differentiated collection
    /// parameter (in a closure, through its capture): indexing it reads an element.
    pub(super) fn is_field(&self, v: ValueId) -> bool {
        let outer = crate::ir::outer_of(&self.values, v);
        self.fields.iter().any(|f| f.value == outer) || self.collections.contains(&outer)
    }

    /// `&base[idx]` for a field (a `Vec`, slice or array of differentiable values, or a
    /// matrix's entry), borrowed: its adjoint goes to element `idx` of the field's.
    pub(super) fn element(&mut self, base: ValueId, idx: ValueId, span: Span) -> ValueId {
        let v = self.rule(&crate::symbol::ELEMENT, vec![base, idx], span);
        self.values[v].borrowed = true;
        self.elements.insert(v);
        v
    }

    /// The value of `base` when it is an element of a collection field or a field of one
    /// (`layer` bound to `&p.layers[k]`, `p.layers[k]`, `layer.enc`), whose fields are then
    /// [`crate::symbol::MEMBER`]s; `Some(None)` after an error.
    pub(super) fn element_of(&mut self, base: &Expr) -> Option<Option<ValueId>> {
        let v = match base {
            Expr::Paren(p) => return self.element_of(&p.expr),
            // (a name bound outside a closure: `member` reports the read)
            Expr::Path(p) if p.qself.is_none() => self.binding(p.path.get_ident()?)?.1,
            Expr::Index(_) | Expr::Field(_) if self.reads_active(base) => match self.expr(base) {
                Some(v) => v,
                None => return Some(None),
            },
            _ => return None,
        };
        self.is_element(v).then_some(Some(v))
    }

    /// Whether `v` is an element of a collection field or a field of one, or a reference to one.
    pub(super) fn is_element(&self, mut v: ValueId) -> bool {
        loop {
            if self.elements.contains(&v) {
                return true;
            }
            // (a reference to a temporary borrows itself)
            match self.values[v].borrows {
                Some(b) if b != v => v = b,
                _ => return false,
            }
        }
    }

    /// `&s.member` for `s` an element of a collection field (see [`Self::element_of`]).
    pub(super) fn member(&mut self, e: &Expr, s: ValueId, member: &Member) -> Option<ValueId> {
        if self.closure.is_some() {
            let shown = quote::ToTokens::to_token_stream(e).to_string().replace(' ', "");
            self.cx.error_spanned_by(
                e,
                format!("reading a field of a collection's element inside a `map` closure is not supported: bind it before the closure, `let v = {shown};`, and read `v` in it"),
            );
            return None;
        }
        let span = member.span();
        let (arg, slot) = (format_ident!("s", span = Span::mixed_site()), crate::symbol::slot_method(member));
        let name = self.inline(quote::ToTokens::to_token_stream(member), span);
        let slot = self.inline(quote::quote_spanned!(span=> |#arg| #arg.#slot()), span);
        let v = self.rule(&crate::symbol::MEMBER, vec![s, name, slot], e.span());
        self.values[v].borrowed = true;
        self.elements.insert(v);
        Some(v)
    }

    /// A loop over fields of a struct parameter, as a loop over indices.
    ///
    /// Input: `for w in &p.layers { … }` (or `p.layers.iter()`), `for (w, b) in
    /// p.ws.iter().zip(&p.bs) { … }`
    /// Output: `for k in 0..p.layers[..].len() { let w = &p.layers[k]; … }`, `for k in
    /// 0..min(p.ws[..].len(), p.bs[..].len()) { let w = &p.ws[k]; let b = &p.bs[k]; … }`
    pub(super) fn field_loop(&mut self, f: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
        let (fields, names) = match (&*f.pat, self.iterated_field(&f.expr)) {
            (syn::Pat::Ident(p), Some(field)) if p.subpat.is_none() && p.by_ref.is_none() => {
                (vec![field], vec![p.ident.clone()])
            }
            (syn::Pat::Tuple(t), None) => {
                let fields = self.zipped_fields(&f.expr)?;
                let names: Option<Vec<syn::Ident>> = t
                    .elems
                    .iter()
                    .map(|p| match p {
                        syn::Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() => Some(p.ident.clone()),
                        _ => None,
                    })
                    .collect();
                (fields, names.filter(|n| n.len() == 2)?)
            }
            _ => return None,
        };
        let k = format_ident!("k", span = Span::mixed_site());
        let first = &fields[0];
        let len = match fields.get(1) {
            // (the slice's `len`: an array's `.len()` finds `Differentiable::len`, its number of
            // scalars, when the trait is in scope)
            Some(second) => quote!(::core::cmp::min(#first[..].len(), #second[..].len())),
            None => quote!(#first[..].len()),
        };
        let body = &f.body.stmts;
        let (attrs, label) = (&f.attrs, &f.label);
        Some(syn::parse_quote_spanned! {f.expr.span()=>
            #(#attrs)* #label for #k in 0..#len {
                #(let #names = &#fields[#k];)*
                #(#body)*
            }
        })
    }

    /// `F` for an iterable `&F`, `F.iter()` or `F` naming a field path of a struct parameter or
    /// a differentiated collection parameter.
    fn iterated_field(&mut self, e: &Expr) -> Option<Expr> {
        let inner = match e {
            Expr::Reference(r) if r.mutability.is_none() => &*r.expr,
            Expr::MethodCall(m) if m.method == "iter" && m.args.is_empty() && m.turbofish.is_none() => &*m.receiver,
            Expr::Paren(p) => return self.iterated_field(&p.expr),
            other => other,
        };
        let (root, path) = field_path(inner)?;
        let collection = || self.binding(&root).is_some_and(|(_, id)| self.collections.contains(&id));
        let iterable = if path.is_empty() { collection() } else { self.struct_root_of(&root) };
        iterable.then(|| inner.clone())
    }

    /// `[A, B]` for `A.iter().zip(B')` with `A`, `B` fields of struct parameters (`B'` as in
    /// [`Self::iterated_field`]).
    fn zipped_fields(&mut self, e: &Expr) -> Option<Vec<Expr>> {
        let Expr::MethodCall(m) = e else { return None };
        if m.method != "zip" || m.args.len() != 1 || m.turbofish.is_some() {
            return None;
        }
        let a = self.iterated_field(&m.receiver).filter(|_| !matches!(&*m.receiver, Expr::Reference(_)))?;
        let b = self.iterated_field(&m.args[0])?;
        Some(vec![a, b])
    }

    /// Whether `root` names a differentiated struct parameter (not shadowed).
    pub(super) fn struct_root_of(&self, root: &syn::Ident) -> bool {
        self.binding(root).is_some_and(|(_, id)| self.struct_params.iter().any(|(v, _)| *v == id))
    }

    /// Whether `root` names a differentiated struct parameter or an element of a collection
    /// field (`layer` in `for layer in &p.layers`): a skipped field of it may be read where a
    /// constant is needed (`0..layer.steps`).
    pub(super) fn struct_root_or_element(&self, root: &syn::Ident) -> bool {
        self.struct_root_of(root) || self.binding(root).is_some_and(|(_, id)| self.is_element(id))
    }

    fn new_field(&mut self, root: &syn::Ident, param: usize, path: Vec<Member>, e: &Expr) {
        let key =
            format!("{root}{}", path.iter().map(|m| format!(".{}", crate::symbol::member_str(m))).collect::<String>());
        let ident = format_ident!("{}_{}", key.replace('.', "_"), self.values.len(), span = Span::mixed_site());
        let span = syn::spanned::Spanned::span(e);
        let value = self.push_value(ident, Kind::Param { is_ref: true }, true, span);
        if let Some(outer) = self.scopes.first_mut() {
            outer.push((key, value));
        }
        self.fields.push(FieldRead { param, path, value, tangent: false });
    }
}

/// The field paths written in a body, with their expressions.
struct Paths(Vec<(Expr, syn::Ident, Vec<Member>)>);

impl<'ast> syn::visit::Visit<'ast> for Paths {
    fn visit_expr_field(&mut self, f: &'ast syn::ExprField) {
        let e = Expr::Field(f.clone());
        if let Some((root, path)) = field_path(&e) {
            self.0.push((e, root, path));
        }
        syn::visit::visit_expr_field(self, f);
    }

    fn visit_macro(&mut self, _: &'ast syn::Macro) {}
}

/// `p.a.b` as (`p`, [`a`, `b`]); `None` for anything but a chain of fields on a name.
fn field_path(e: &Expr) -> Option<(syn::Ident, Vec<Member>)> {
    match e {
        Expr::Field(f) => {
            let (root, mut path) = field_path(&f.base)?;
            path.push(f.member.clone());
            Some((root, path))
        }
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Some((p.path.get_ident()?.clone(), Vec::new())),
        Expr::Paren(p) => field_path(&p.expr),
        _ => None,
    }
}

/// `&p.a.b`: the binding of a field path's value at the top of the generated function.
///
/// For a tangent parameter's field, each member is read through its constant accessor, whose
/// wrapper tells a skipped field (its tangent is zeros) from a differentiated one:
/// `let t1 = field_tangent(tangent_p.__matgrad_const_enc()); let tangent_p_enc_w =
/// field_tangent(t1.get().__matgrad_const_w()).get();` (in steps, each kept alive).
pub fn binding(root: &syn::Ident, read: &FieldRead, ident: &syn::Ident) -> TokenStream {
    let path = &read.path;
    if !read.tangent {
        return quote!(#[allow(unused_variables)] let #ident = &#root #(.#path)*;);
    }
    let mut code = TokenStream::new();
    let mut base = quote!(#root);
    for (k, m) in path.iter().enumerate() {
        let step = format_ident!("{}_{}", ident, k, span = Span::mixed_site());
        let accessor = crate::symbol::const_method(m);
        code.extend(quote!(let #step = ::matgrad::__private::field_tangent(#base.#accessor());));
        base = quote!(#step.get());
    }
    quote!(#code #[allow(unused_variables)] let #ident = #base;)
}
