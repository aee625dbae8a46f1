//! In-place updates and constructors that read differentiated values, lowered to new values
//! computed from old ones (rules/update.rs in the runtime).

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprMethodCall};

use super::messages::Construct;
use super::Lower;
use crate::ir::{Kind, Op, Stmt, ValueId};
use crate::symbol::{self, Rule};

/// How a constructor lays its differentiated parts into the matrix.
#[derive(Clone, Copy)]
enum Layout {
    /// Scalar entries in row-major order (`Matrix2x3::new`, `from_row_slice`).
    RowMajor,
    /// Scalar entries in column-major order (`from_column_slice`, `from_vec`, `from_iterator`).
    ColumnMajor,
    /// Whole columns (`from_columns`) or rows (`from_rows`).
    Columns,
    Rows,
}

/// Whether `e` is a plain local variable (`m`), the target an in-place update rebinds.
fn is_local(e: &Expr) -> bool {
    matches!(e, Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some())
}

/// The variable an assignment to `place` rebinds: `m` for `m = …`, `m[(i, j)] = …` and the
/// receiver of an in-place update.
pub fn target(place: &Expr) -> Option<syn::Ident> {
    match place {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
        Expr::Index(i) if is_local(&i.expr) => target(&i.expr),
        _ => None,
    }
}

/// Whether the statement `m.name(args…)` is an in-place update with a rule.
pub fn is_in_place(m: &ExprMethodCall) -> bool {
    m.turbofish.is_none() && is_local(&m.receiver) && symbol::in_place(&m.method.to_string(), m.args.len()).is_some()
}

/// The entries of `&[a, b, …]`, `[a, b, …]` or `vec![a, b, …]`, also as an iterator
/// (`from_iterator`'s argument): `[a, b].into_iter()`, `[a, b].iter().copied()`, `.cloned()`.
fn entries(e: &Expr) -> Option<Vec<Expr>> {
    match e {
        Expr::Reference(r) if r.mutability.is_none() => entries(&r.expr),
        Expr::MethodCall(m) if entry_iterator(m) => entries(&m.receiver),
        Expr::Array(a) => Some(a.elems.iter().cloned().collect()),
        Expr::Macro(m) if m.mac.path.is_ident("vec") => m
            .mac
            .parse_body_with(Punctuated::<Expr, syn::Token![,]>::parse_terminated)
            .ok()
            .map(|p| p.into_iter().collect()),
        _ => None,
    }
}

impl Lower<'_> {
    /// `m.set_column(j, &v);` (and the other in-place methods): `m = set_column(m, &v, j)`.
    ///
    /// Input: `m.fill_diagonal(s);`
    /// Output: `let m_2 = fill_diagonal(m_1, s);`
    pub(super) fn in_place(&mut self, e: &Expr, m: &ExprMethodCall) {
        let name = m.method.to_string();
        let Some(rule) = symbol::in_place(&name, m.args.len()) else { return };
        let mut args: Vec<&Expr> = m.args.iter().collect();
        if rule.index_first {
            args.rotate_left(1);
        }
        let mut ops = vec![self.expr(&m.receiver)];
        for (a, adj) in args.into_iter().zip(&rule.adj[1..]) {
            ops.push(self.operand(a, *adj));
        }
        let ops: Option<Vec<ValueId>> = ops.into_iter().collect();
        let value = ops.map(|ops| self.typed_rule(rule, ops, e.span()));
        self.assign(&m.receiver, value);
    }

    /// `m[idx] = value`: `m = set_entry(m, value, idx)`.
    pub(super) fn assign_entry(&mut self, place: &Expr, i: &syn::ExprIndex, value: Option<ValueId>) {
        if !is_local(&i.expr) {
            return self.cx.error_spanned_by(
                &i.expr,
                "assigning into an entry of this expression is not supported: assign into an entry of a local matrix, `m[(i, j)] = e;` (index the matrix itself rather than a view such as `m.column_mut(j)`)",
            );
        }
        let base = self.expr(&i.expr);
        let idx = self.opaque(&i.index, Construct::Index);
        let (Some(value), Some(base), Some(idx)) = (value, base, idx) else { return };
        let new = self.rule(&symbol::SET_ENTRY, vec![base, value, idx], place.span());
        self.assign(&i.expr, Some(new));
    }

    /// A constructor of an nalgebra matrix type reading differentiated values: the constructor
    /// of the values (a constant: every differentiated part is overwritten next), then one
    /// `set_entry` (`set_column`, `set_row`, `fill`) per differentiated part. `None` when `c` is
    /// not such a constructor.
    ///
    /// Input: `Matrix2::new(c, -s, s, 0.0)` with `c`, `s` differentiated
    /// Output: `let t_0 = -s; let t_1 = Matrix2::new(c, t_0, s, 0.0);`
    ///         `let t_2 = set_entry(t_1, c, RowMajor(0)); let t_3 = set_entry(t_2, t_0, RowMajor(1));`
    ///         `let t_4 = set_entry(t_3, s, RowMajor(2));`
    pub(super) fn constructor(&mut self, e: &Expr, c: &syn::ExprCall, path: &syn::Path) -> Option<Option<ValueId>> {
        let n = path.segments.len();
        if n < 2 || !symbol::is_matrix_type(&path.segments[n - 2].ident.to_string()) || !self.reads_active(e) {
            return None;
        }
        let last = path.segments[n - 1].ident.to_string();
        let (layout, at) = match (last.as_str(), c.args.len()) {
            ("new", _) => (Layout::RowMajor, None),
            // The entries last, after no size, one (a dynamic dimension) or two.
            ("from_row_slice", 1..=3) => (Layout::RowMajor, Some(c.args.len() - 1)),
            ("from_column_slice" | "from_vec" | "from_iterator", 1..=3) => {
                (Layout::ColumnMajor, Some(c.args.len() - 1))
            }
            ("from_columns", 1) => (Layout::Columns, Some(0)),
            ("from_rows", 1) => (Layout::Rows, Some(0)),
            // Differentiated when the element is (sizes may read a struct's constant fields).
            ("from_element", 1..=3) if self.reads_active(&c.args[c.args.len() - 1]) => {
                return Some(self.construct_filled(e, c))
            }
            ("from_fn", 1..=3) => return self.construct_from_fn(e, c),
            _ => return None,
        };
        let parts = match at {
            None => c.args.iter().cloned().collect(),
            Some(k) => entries(&c.args[k])?,
        };
        Some(self.construct_parts(e, c, at, &parts, layout))
    }

    fn construct_parts(
        &mut self,
        e: &Expr,
        c: &syn::ExprCall,
        at: Option<usize>,
        parts: &[Expr],
        layout: Layout,
    ) -> Option<ValueId> {
        let mut active = Vec::new();
        let mut written = Vec::new();
        for (k, part) in parts.iter().enumerate() {
            if !self.reads_active(part) {
                written.push(part.clone());
                continue;
            }
            let v = self.expr(part)?;
            written.push(Expr::Verbatim(self.part_tokens(v, layout)));
            active.push((k, v, part.span()));
        }
        let mut call = c.clone();
        match at {
            None => call.args = written.into_iter().collect(),
            Some(k) => call.args[k] = rebuild(&c.args[k], written),
        }
        let reads: Vec<ValueId> = active.iter().map(|&(_, v, _)| v).collect();
        let mut acc = self.constant_reading(&Expr::Call(call), &reads, e.span())?;
        for (k, v, span) in active {
            let (rule, idx) = place(layout, k, span);
            let idx = self.inline(idx, span);
            acc = self.rule(rule, vec![acc, v, idx], span);
        }
        Some(acc)
    }

    /// `from_element(r, c, s)` (or `from_element(s)`) with a differentiated `s`: `fill`.
    fn construct_filled(&mut self, e: &Expr, c: &syn::ExprCall) -> Option<ValueId> {
        let last = c.args.len() - 1;
        let s = self.expr(&c.args[last])?;
        let mut call = c.clone();
        call.args[last] = Expr::Verbatim(self.part_tokens(s, Layout::RowMajor));
        let base = self.constant_reading(&Expr::Call(call), &[s], e.span())?;
        Some(self.rule(&symbol::FILL, vec![base, s], c.args[last].span()))
    }

    /// `from_fn(r, c, |i, j| body)` whose body reads differentiated values: `body` mapped over a
    /// constant matrix of the shape, its derivative derived as for `map`. `None` when the last
    /// argument is not a closure of two plain names (or `_`).
    ///
    /// Input: `DMatrix::from_fn(r, c, |i, j| f(i, j, s))`
    /// Output: `let t_1 = DMatrix::from_fn(r, c, |_, _| zero());`
    ///         `let (t_2, [t_2_d0]) = map_d_at(t_1, |i, j, _entry| (f(i, j, s), [∂f/∂s]));`
    fn construct_from_fn(&mut self, e: &Expr, c: &syn::ExprCall) -> Option<Option<ValueId>> {
        let last = c.args.len() - 1;
        let Expr::Closure(cl) = &c.args[last] else { return None };
        let at = closure_indices(cl)?;
        if self.closure.is_some() {
            self.cx.error_spanned_by(
                e,
                "`from_fn` inside a `map` closure is not supported: build the matrix before the closure",
            );
            return Some(None);
        }
        let mut call = c.clone();
        call.args[last] = syn::parse_quote_spanned!(cl.span()=> |_, _| ::matgrad::__private::nalgebra::zero());
        let Some(base) = self.opaque(&Expr::Call(call), Construct::Expression) else { return Some(None) };
        Some(self.map_node(e, base, "_entry", cl.span(), &cl.body, Some(at), None))
    }

    /// A differentiated part as the constructor reads it: a scalar by value, a vector owned.
    fn part_tokens(&self, v: ValueId, layout: Layout) -> TokenStream {
        let val = &self.values[v];
        let (i, span) = (&val.ident, val.span);
        let i = match &val.kind {
            Kind::Inline(t) => t.clone(),
            _ => i.to_token_stream(),
        };
        match layout {
            Layout::RowMajor | Layout::ColumnMajor => quote_spanned!(span=> ::matgrad::__private::scalar_in(#i)),
            Layout::Columns | Layout::Rows => quote_spanned!(span=> #i.clone_owned()),
        }
    }

    /// `e`, a constant expression that also reads the values `reads` (written into it).
    fn constant_reading(&mut self, e: &Expr, reads: &[ValueId], span: Span) -> Option<ValueId> {
        let id = self.opaque(e, Construct::Expression)?;
        if let Some(Stmt::Node(n)) = self.stmts.last_mut() {
            if let (true, Op::Opaque { inputs, .. }) = (n.out == id, &mut n.op) {
                inputs.extend_from_slice(reads);
                n.span = span;
            }
        }
        Some(id)
    }
}

/// The names of a `from_fn` closure's row and column (fresh ones for `_`).
fn closure_indices(cl: &syn::ExprClosure) -> Option<[syn::Ident; 2]> {
    let name = |p: &syn::Pat, k: usize| match p {
        syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
        syn::Pat::Wild(w) => Some(quote::format_ident!("__at{}", k, span = w.span())),
        _ => None,
    };
    match (cl.inputs.len(), cl.inputs.first(), cl.inputs.last()) {
        (2, Some(i), Some(j)) => Some([name(i, 0)?, name(j, 1)?]),
        _ => None,
    }
}

/// The rule writing part `k` in `layout`, and its index.
fn place(layout: Layout, k: usize, span: Span) -> (&'static Rule, TokenStream) {
    let k = Literal::usize_suffixed(k);
    match layout {
        Layout::RowMajor => (&symbol::SET_ENTRY, quote_spanned!(span=> ::matgrad::__private::RowMajor(#k))),
        Layout::ColumnMajor => (&symbol::SET_ENTRY, quote!(#k)),
        Layout::Columns => (&symbol::SET_COLUMN, quote!(#k)),
        Layout::Rows => (&symbol::SET_ROW, quote!(#k)),
    }
}

/// The argument `arg` (`&[…]`, `[…]` or `vec![…]`) with its entries replaced by `written`
/// (built as syntax, not parsed again, so that the differentiated parts stay verbatim).
fn rebuild(arg: &Expr, written: Vec<Expr>) -> Expr {
    match arg {
        Expr::MethodCall(m) if entry_iterator(m) => {
            let mut m = m.clone();
            m.receiver = Box::new(rebuild(&m.receiver, written));
            Expr::MethodCall(m)
        }
        Expr::Reference(r) => {
            let mut r = r.clone();
            r.expr = Box::new(rebuild(&r.expr, written));
            Expr::Reference(r)
        }
        // `vec![…]` as `into_vec([…])`, so that renaming does not read the macro's tokens.
        Expr::Macro(m) => {
            let func: Expr = syn::parse_quote_spanned!(m.span()=> ::matgrad::__private::into_vec);
            let args = std::iter::once(array(written)).collect();
            Expr::Call(syn::ExprCall { attrs: Vec::new(), func: Box::new(func), paren_token: Default::default(), args })
        }
        _ => array(written),
    }
}

/// `x.into_iter()`, `x.iter()`, and `.copied()` or `.cloned()` after `iter()`: an iterator over
/// the entries of `x` as written.
fn entry_iterator(m: &ExprMethodCall) -> bool {
    let plain = m.args.is_empty() && m.turbofish.is_none();
    match m.method.to_string().as_str() {
        "into_iter" | "iter" => plain,
        "copied" | "cloned" => plain && matches!(&*m.receiver, Expr::MethodCall(r) if r.method == "iter"),
        _ => false,
    }
}

fn array(elems: Vec<Expr>) -> Expr {
    Expr::Array(syn::ExprArray {
        attrs: Vec::new(),
        bracket_token: Default::default(),
        elems: elems.into_iter().collect(),
    })
}
