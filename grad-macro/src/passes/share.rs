//! Sharing in the reverse plan: what several adjoint rules read is computed once, decided from
//! each op's rule, never its name.
//!
//! - The inverse of a factorization (`chol.ln_determinant()` reads `C⁻¹`): the function's own
//!   `chol.inverse()` when the body computes it, else one `factor_inverse(chol)` before the first
//!   rule in the sweep that reads it, for every rule of the body that does ([`inverses`]).
//!
//! `passes::reverse` runs [`inverses`], a pass over the reverse program, once the program is
//! written and its scaled identities kept as scalars (`passes::identities`).

use std::collections::HashSet;

use crate::ir::{Body, Kind, Op, Stmt, Value, ValueId};
use crate::reverse::program::{InverseAt, Operand, Program, Site, Step};
use crate::reverse::Plan;
use crate::symbol::Inverse;

/// "share", a pass over the reverse program: the inverse of the factorization each rule node's
/// adjoints read (written `InverseAt::Shared` by the builder), one per factorization and body:
/// the function's own `chol.inverse()` when the body computes it, else one computed (a
/// `Step::Inverse`) before the first rule in the sweep that reads it, for all of them.
pub fn inverses(values: &[Value], body: &Body, p: &Plan, prog: &mut Program) {
    let mut computed = HashSet::new();
    inverses_in(values, body, p, prog, &mut computed);
}

/// [`inverses`] over `body` (with its arms and loop bodies), in the sweep's order; `computed`
/// holds the factorizations whose inverse the sweep has computed, by body.
fn inverses_in(values: &[Value], body: &Body, p: &Plan, prog: &mut Program, computed: &mut HashSet<(usize, ValueId)>) {
    for stmt in body.stmts.iter().rev() {
        match stmt {
            Stmt::Node(n) if p.participates(values, n.out) => {
                let site = Site::Node(n.out);
                let read = prog.at(site).iter().find_map(|step| match step {
                    Step::Contribute { expr, .. } => expr.operands().into_iter().find_map(|o| match o {
                        Operand::Inverse(InverseAt::Shared(f)) => Some(f),
                        _ => None,
                    }),
                    _ => None,
                });
                let Some(f) = read else { continue };
                let at = match own_inverse(values, body, f) {
                    Some(inv) => InverseAt::Forward(inv),
                    None if computed.insert((body.key(), f)) => {
                        prog.put_first(site, Step::Inverse(f));
                        InverseAt::Compute(f)
                    }
                    None => continue,
                };
                for step in prog.at_mut(site) {
                    if let Step::Contribute { expr, .. } = step {
                        expr.operands_mut(&mut |o| {
                            if let Operand::Inverse(i @ InverseAt::Shared(_)) = o {
                                *i = at;
                            }
                        });
                    }
                }
            }
            Stmt::Node(_) | Stmt::Effect { .. } => {}
            Stmt::Branch(b) => b.arms.iter().for_each(|arm| inverses_in(values, &arm.body, p, prog, computed)),
            Stmt::Loop(l) => inverses_in(values, &l.body, p, prog, computed),
        }
    }
}

/// The inverse of factorization `f` that `body` computes itself (a node whose rule is that
/// inverse), if any.
fn own_inverse(values: &[Value], body: &Body, f: ValueId) -> Option<ValueId> {
    body.stmts.iter().find_map(|s| match s {
        Stmt::Node(n) => match &n.op {
            Op::Rule { rule, args }
                if rule.inverse == Inverse::Is
                    && args.first() == Some(&f)
                    && matches!(values[n.out].kind, Kind::Node) =>
            {
                Some(n.out)
            }
            _ => None,
        },
        _ => None,
    })
}
