//! Sharing in the reverse plan: what several adjoint rules read is computed once, decided from
//! each op's rule, never its name.
//!
//! - The inverse of a factorization (`chol.ln_determinant()` reads `C⁻¹`): the function's own
//!   `chol.inverse()` when the body computes it, else one `factor_inverse(chol)` before the first
//!   rule in the sweep that reads it, for every rule of the body that does ([`inverses`]).
//! - A scaled identity: a value read by a trace alone whose op has adjoints for `Ḡ = s̄ I`
//!   (`Rule::of_identity`) keeps its adjoint as the scalar `s̄`; the left factor of such a
//!   product, when its op has adjoints for `s̄ Bᵀ` reading the product (`Rule::of_traced_lhs`),
//!   keeps its own as `s̄` as well ([`scaled_identities`]).
//!
//! `passes::reverse` runs [`scaled_identities`] once the contributions are counted (it reads the
//! counts), before the reverse program is written, and [`inverses`], a pass over that program,
//! once it is.

use std::collections::HashSet;

use crate::ir::{Body, Kind, Op, Stmt, Value, ValueId};
use crate::reverse::program::{InverseAt, Operand, Program, Site, Step};
use crate::reverse::Plan;
use crate::symbol::Inverse;

/// Which adjoints `s̄ I` are kept as the scalar `s̄` (`Plan::identity`) and which `s̄ Bᵀ` are
/// (`Plan::traced`), decided once the contributions are counted, over `body` in the sweep's
/// order (a trace or a product is reached before the value it reads).
pub fn scaled_identities(values: &[Value], body: &Body, p: &mut Plan) {
    let mut seeds = Seeds { identity: vec![false; values.len()], traced: vec![None; values.len()] };
    identities_in(values, body, p, &mut seeds);
}

/// What the values reached so far seed: the values a trace in their body reads
/// (`identity`), and the left factor of each product whose adjoint is kept as `s̄` (`traced`:
/// the product).
struct Seeds {
    identity: Vec<bool>,
    traced: Vec<Option<ValueId>>,
}

fn identities_in(values: &[Value], body: &Body, p: &mut Plan, seeds: &mut Seeds) {
    for stmt in body.stmts.iter().rev() {
        match stmt {
            Stmt::Node(node) if p.participates(values, node.out) => {
                let (Op::Rule { rule, args }, out) = (&node.op, node.out) else { continue };
                // Each only reads the value's own contributions, all of them counted.
                let alone = p.contribs[out] == 1 && matches!(values[out].kind, Kind::Node) && Some(out) != body.ret;
                p.identity[out] = !rule.of_identity.is_empty() && seeds.identity[out] && alone;
                p.traced[out] = seeds.traced[out].filter(|_| !rule.of_traced_lhs.is_empty() && alone);
                let Some(&a) = args.first().filter(|&&a| values[a].active && p.def[a] == p.def[out]) else { continue };
                seeds.identity[a] |= rule.seeds_identity;
                if rule.seeds_traced_lhs && p.identity[out] {
                    seeds.traced[a] = Some(out);
                }
            }
            Stmt::Node(_) | Stmt::Effect { .. } => {}
            Stmt::Branch(b) if p.stmt_participates(values, stmt) => {
                b.arms.iter().for_each(|arm| identities_in(values, &arm.body, p, seeds));
            }
            Stmt::Loop(l) if p.stmt_participates(values, stmt) => identities_in(values, &l.body, p, seeds),
            Stmt::Branch(_) | Stmt::Loop(_) => {}
        }
    }
}

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
