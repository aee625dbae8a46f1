//! Renames the variables of an expression copied verbatim into generated code, and records
//! which values it reads: as values, or only through their shape (`x.nrows()`).

use proc_macro2::{Ident, TokenStream, TokenTree};
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Pat};

use crate::symbol;

/// What a variable of the user's resolves to.
pub trait Resolve {
    /// The tokens to write instead of `name`, and the value read, if `name` is a variable.
    fn resolve(&mut self, name: &Ident) -> Option<(TokenStream, usize)>;
    /// Whether `name` is a differentiated struct parameter (its fields may be read as
    /// constants through `#[differentiable(skip)]`).
    fn struct_root(&mut self, _name: &Ident) -> bool {
        false
    }
    /// The value standing for `e` if it is a field path of a differentiated struct parameter
    /// (read as that value, not as the parameter).
    fn resolve_field(&mut self, _e: &Expr) -> Option<usize> {
        None
    }
}

pub struct Renamer<'r, R: Resolve> {
    pub resolve: &'r mut R,
    /// Values read as values.
    pub reads: Vec<usize>,
    /// Values read only for their shape.
    pub shape_reads: Vec<usize>,
    /// Names bound inside the expression (closure parameters, `let`s), not to rename.
    bound: Vec<Vec<String>>,
    in_shape: usize,
    /// Read field paths of differentiated struct parameters as constants, through the
    /// accessor `#[derive(Differentiable)]` generates for skipped fields only (a field that is
    /// differentiated has none: a compile error, never a gradient lost).
    pub const_fields: bool,
}

impl<'r, R: Resolve> Renamer<'r, R> {
    pub fn new(resolve: &'r mut R) -> Self {
        Renamer {
            resolve,
            reads: Vec::new(),
            shape_reads: Vec::new(),
            bound: Vec::new(),
            in_shape: 0,
            const_fields: false,
        }
    }

    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|s| s.iter().any(|b| b == name))
    }

    fn record(&mut self, id: usize) {
        if self.in_shape > 0 {
            self.shape_reads.push(id);
        } else {
            self.reads.push(id);
        }
    }

    /// Renames identifiers in a macro's tokens (their grammar is unknown: every identifier
    /// that names a variable is taken as one).
    pub fn tokens(&mut self, ts: TokenStream) -> TokenStream {
        ts.into_iter()
            .map(|tt| match tt {
                TokenTree::Ident(i) if !self.is_bound(&i.to_string()) => match self.resolve.resolve(&i) {
                    Some((toks, id)) => {
                        self.record(id);
                        TokenTree::Group(proc_macro2::Group::new(proc_macro2::Delimiter::None, toks))
                    }
                    None => TokenTree::Ident(i),
                },
                TokenTree::Group(g) => {
                    let mut ng = proc_macro2::Group::new(g.delimiter(), self.tokens(g.stream()));
                    ng.set_span(g.span());
                    TokenTree::Group(ng)
                }
                other => other,
            })
            .collect()
    }
}

fn pat_names(pat: &Pat, out: &mut Vec<String>) {
    let mut idents = Vec::new();
    pat_idents(pat, &mut idents);
    out.extend(idents.iter().map(|i| i.to_string()));
}

/// The identifiers a pattern binds (or, for an uppercase one, may name a constant).
pub fn pat_idents(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            out.push(p.ident.clone());
            if let Some((_, sub)) = &p.subpat {
                pat_idents(sub, out);
            }
        }
        Pat::Type(p) => pat_idents(&p.pat, out),
        Pat::Tuple(t) => t.elems.iter().for_each(|p| pat_idents(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| pat_idents(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| pat_idents(&f.pat, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| pat_idents(p, out)),
        Pat::Reference(r) => pat_idents(&r.pat, out),
        // Every case binds the same names.
        Pat::Or(o) => o.cases.iter().take(1).for_each(|p| pat_idents(p, out)),
        Pat::Paren(p) => pat_idents(&p.pat, out),
        _ => {}
    }
}

impl<R: Resolve> Renamer<'_, R> {
    /// Whether the root of a field chain is a name bound inside the expression.
    fn is_bound_root(&self, e: &Expr) -> bool {
        let mut base = e;
        while let Expr::Field(f) = base {
            base = &f.base;
        }
        matches!(base, Expr::Path(p) if p.path.get_ident().is_some_and(|i| self.is_bound(&i.to_string())))
    }

    /// `p.a.b` read as a constant: `*constant_field(p.a.__matgrad_const_b())`, which compiles
    /// for a skipped field only (not under a shape query,
    /// which reads any field).
    fn constant_field(&mut self, f: &syn::ExprField) -> Option<Expr> {
        let mut members = vec![&f.member];
        let mut base = &*f.base;
        while let Expr::Field(inner) = base {
            members.push(&inner.member);
            base = &inner.base;
        }
        let Expr::Path(p) = base else { return None };
        let root = p.path.get_ident().filter(|_| p.qself.is_none())?;
        if self.in_shape > 0 || self.is_bound(&root.to_string()) || !self.resolve.struct_root(root) {
            return None;
        }
        let (toks, id) = self.resolve.resolve(root)?;
        self.shape_reads.push(id);
        members.reverse();
        let (last, prefix) = members.split_last()?;
        let accessor = symbol::const_method(last);
        let span = syn::spanned::Spanned::span(f);
        let read = quote::quote_spanned!(span=> *::matgrad::__private::constant_field(#toks #(.#prefix)*.#accessor()));
        // A group without delimiters keeps the deref together where a method follows.
        let group = proc_macro2::Group::new(proc_macro2::Delimiter::None, read);
        Some(Expr::Verbatim(TokenTree::Group(group).into()))
    }
}

/// The field `constant_field` reads in `ts`, if `ts` is such a read: the tokens of its owner
/// (`p.a`) and the field's name (`b`), for the derivation to show `p.a.b` as written.
pub fn constant_field_read(ts: &TokenStream) -> Option<(TokenStream, String)> {
    let tts: Vec<TokenTree> = ts.clone().into_iter().collect();
    let (TokenTree::Group(args), path) = tts.split_last()? else { return None };
    let path: String = path.iter().map(ToString::to_string).collect();
    if path != "*::matgrad::__private::constant_field" {
        return None;
    }
    let inner: Vec<TokenTree> = args.stream().into_iter().collect();
    let [owner @ .., TokenTree::Punct(dot), TokenTree::Ident(accessor), TokenTree::Group(call)] = inner.as_slice()
    else {
        return None;
    };
    let field = accessor.to_string().strip_prefix("__matgrad_const_")?.to_string();
    (dot.as_char() == '.' && call.stream().is_empty()).then(|| (owner.iter().cloned().collect(), field))
}

impl<R: Resolve> VisitMut for Renamer<'_, R> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Field(f) if self.const_fields => match self.constant_field(f) {
                Some(c) => *e = c,
                None => visit_mut::visit_expr_mut(self, e),
            },
            // `p.w` is written as is; it reads the field's value.
            Expr::Field(_) if !self.is_bound_root(e) => match self.resolve.resolve_field(e) {
                Some(id) => self.record(id),
                None => visit_mut::visit_expr_mut(self, e),
            },
            Expr::Path(p)
                if p.qself.is_none() && p.path.segments.len() == 1 && p.path.segments[0].arguments.is_none() =>
            {
                let name = &p.path.segments[0].ident;
                if self.is_bound(&name.to_string()) {
                    return;
                }
                // Replacements are atomic (an identifier, a literal, a path): no parentheses.
                if let Some((toks, id)) = self.resolve.resolve(name) {
                    self.record(id);
                    *e = Expr::Verbatim(toks);
                }
            }
            Expr::MethodCall(m) if symbol::SHAPE_METHODS.contains(&m.method.to_string().as_str()) => {
                self.in_shape += 1;
                self.visit_expr_mut(&mut m.receiver);
                self.in_shape -= 1;
                for a in m.args.iter_mut() {
                    self.visit_expr_mut(a);
                }
            }
            Expr::Closure(c) => {
                let mut names = Vec::new();
                c.inputs.iter().for_each(|p| pat_names(p, &mut names));
                self.bound.push(names);
                self.visit_expr_mut(&mut c.body);
                self.bound.pop();
            }
            Expr::Block(b) => {
                self.bound.push(Vec::new());
                visit_mut::visit_expr_block_mut(self, b);
                self.bound.pop();
            }
            Expr::ForLoop(f) => {
                self.visit_expr_mut(&mut f.expr);
                let mut names = Vec::new();
                pat_names(&f.pat, &mut names);
                self.bound.push(names);
                self.visit_block_mut(&mut f.body);
                self.bound.pop();
            }
            Expr::Macro(m) => {
                m.mac.tokens = self.tokens(std::mem::take(&mut m.mac.tokens));
            }
            _ => visit_mut::visit_expr_mut(self, e),
        }
    }

    fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
        let mut names = Vec::new();
        pat_names(&arm.pat, &mut names);
        self.bound.push(names);
        visit_mut::visit_arm_mut(self, arm);
        self.bound.pop();
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        if let Some(init) = &mut local.init {
            self.visit_expr_mut(&mut init.expr);
        }
        let mut names = Vec::new();
        pat_names(&local.pat, &mut names);
        if let Some(top) = self.bound.last_mut() {
            top.extend(names);
        } else {
            self.bound.push(names);
        }
    }

    fn visit_stmt_macro_mut(&mut self, m: &mut syn::StmtMacro) {
        m.mac.tokens = self.tokens(std::mem::take(&mut m.mac.tokens));
    }
}
