//! Which exits leave a piece of code: a `return`, or a `break` or `continue` whose loop
//! encloses the code (a loop inside it catches its own). Closures and items are apart.

use syn::visit::Visit;
use syn::Stmt;

/// The exits that leave a statement.
#[derive(Default, Debug)]
pub struct Leaves {
    /// A `return`.
    pub ret: bool,
    /// The enclosing loops (indices into the labels given) that a `break` or `continue` inside
    /// leaves or continues.
    pub targets: Vec<usize>,
    /// The loops a `break` leaves, and those a `continue` continues (together, `targets`).
    pub broken: Vec<usize>,
    pub continued: Vec<usize>,
}

impl Leaves {
    /// The exits leaving `s`, inside loops labelled `outer` (innermost last).
    pub fn of_stmt(outer: &[Option<String>], s: &Stmt) -> Leaves {
        let mut v = Visitor { outer, inner: Vec::new(), found: Leaves::default() };
        v.visit_stmt(s);
        v.found
    }

    /// Whether anything leaves.
    pub fn any(&self) -> bool {
        self.ret || !self.targets.is_empty()
    }

    /// Whether something leaves the loop `at` (a `break` of it or of a loop around it, a
    /// `continue` of a loop around it, a `return`), rather than only ending an iteration.
    pub fn leaves_loop(&self, at: usize) -> bool {
        self.ret
            || self.broken.iter().any(|&t| t <= at || t == usize::MAX)
            || self.continued.iter().any(|&t| t < at || t == usize::MAX)
    }
}

struct Visitor<'a> {
    outer: &'a [Option<String>],
    /// Loops (and labelled blocks, `true`) inside the code, innermost last.
    inner: Vec<(Option<String>, bool)>,
    found: Leaves,
}

impl Visitor<'_> {
    /// Records the target of a `break` or `continue` when it lies outside the code.
    fn jump(&mut self, label: Option<&syn::Lifetime>, is_break: bool) {
        let name = label.map(|l| l.ident.to_string());
        let caught = match &name {
            // An unlabelled jump targets the innermost loop; labelled blocks do not count.
            None => self.inner.iter().any(|(_, block)| !block),
            Some(n) => self.inner.iter().any(|(l, block)| l.as_deref() == Some(n) && (is_break || !block)),
        };
        if caught {
            return;
        }
        let target = match &name {
            None => self.outer.len().checked_sub(1),
            Some(n) => self.outer.iter().rposition(|l| l.as_deref() == Some(n.as_str())),
        };
        // A jump to no loop is rustc's error; it is counted as leaving, so that nothing after it
        // is taken for reachable.
        let target = target.unwrap_or(usize::MAX);
        self.found.targets.push(target);
        match is_break {
            true => self.found.broken.push(target),
            false => self.found.continued.push(target),
        }
    }

    fn in_loop(&mut self, label: Option<&syn::Label>, f: impl FnOnce(&mut Self)) {
        self.inner.push((label.map(|l| l.name.ident.to_string()), false));
        f(self);
        self.inner.pop();
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_expr_return(&mut self, r: &'ast syn::ExprReturn) {
        self.found.ret = true;
        syn::visit::visit_expr_return(self, r);
    }

    fn visit_expr_break(&mut self, b: &'ast syn::ExprBreak) {
        self.jump(b.label.as_ref(), true);
        syn::visit::visit_expr_break(self, b);
    }

    fn visit_expr_continue(&mut self, c: &'ast syn::ExprContinue) {
        self.jump(c.label.as_ref(), false);
    }

    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        self.visit_expr(&f.expr);
        self.in_loop(f.label.as_ref(), |v| v.visit_block(&f.body));
    }

    fn visit_expr_while(&mut self, w: &'ast syn::ExprWhile) {
        self.in_loop(w.label.as_ref(), |v| {
            v.visit_expr(&w.cond);
            v.visit_block(&w.body);
        });
    }

    fn visit_expr_loop(&mut self, l: &'ast syn::ExprLoop) {
        self.in_loop(l.label.as_ref(), |v| v.visit_block(&l.body));
    }

    fn visit_expr_block(&mut self, b: &'ast syn::ExprBlock) {
        match &b.label {
            Some(l) => {
                self.inner.push((Some(l.name.ident.to_string()), true));
                self.visit_block(&b.block);
                self.inner.pop();
            }
            None => self.visit_block(&b.block),
        }
    }

    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}
