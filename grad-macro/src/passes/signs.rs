//! Sign folding, a pass over the reverse program: the adjoint of `-x` or `c - x` (a rule node
//! whose every contribution passes Ḡ on negated) is kept negated, `d_y = −ȳ`. Each contribution
//! to it is negated instead (`Neg`, which folds into the contribution's own scaling or into the
//! accumulation: `init_neg`, `sub_from`), and it passes `d_y` to its operand without a sign, so
//! that the sign costs no pass over a matrix.
//!
//! Input (`e = c - x; e.norm_squared()`, `c` constant):
//! `d_e = init(norm_squared_adj(e, d_s)); d_x = init(Neg(shared(&d_e)))`
//! Output: `d_e = init(Neg(norm_squared_adj(e, d_s))); d_x = init(shared(&d_e))` (then `moves`
//! passes `d_e` itself).

use std::collections::HashSet;

use crate::ir::{Body, Op, Value, ValueId};
use crate::reverse::program::{Expr, Program, Site, Step};
use crate::reverse::{contributed, Plan};
use crate::symbol::Adj;

/// Folds the signs of `body`'s program (with its arms and loop bodies), recording the adjoints
/// kept negated in it (see [`Program::is_negated`]).
pub fn fold(values: &[Value], body: &Body, p: &Plan, prog: &mut Program) {
    let mut negated = HashSet::new();
    kept_negated(values, body, p, &mut negated);
    // Each passes its adjoint on without a sign, then every contribution to it takes the sign
    // (in that order: the pass of a negated node to a negated operand gets its sign back).
    for &v in &negated {
        prog.rewrite(Site::Node(v), |step| match step {
            Step::Contribute { target, bind, expr: Expr::Neg(pass) } => Step::Contribute { target, bind, expr: *pass },
            step => step,
        });
    }
    prog.negate(negated);
}

/// The rule nodes of `body` taking part whose every contribution passes Ḡ on negated.
fn kept_negated(values: &[Value], body: &Body, p: &Plan, out: &mut HashSet<ValueId>) {
    body.for_each_node(&mut |n| {
        let Op::Rule { rule, args } = &n.op else { return };
        if !p.participates(values, n.out) {
            return;
        }
        let mut adjs = contributed(values, args, p.adjoints(rule, n.out)).map(|(_, _, adj)| adj).peekable();
        if adjs.peek().is_some() && adjs.all(|adj| adj == Adj::PassNeg) {
            out.insert(n.out);
        }
    });
}
