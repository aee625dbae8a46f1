//! Sharing in the reverse plan: what several adjoint rules read is computed once, decided from
//! each op's rule, never its name.
//!
//! - The inverse of a factorization (`chol.ln_determinant()` reads `C⁻¹`): the function's own
//!   `chol.inverse()` when the body computes it, else one `factor_inverse(chol)` before the first
//!   rule in the sweep that reads it, for every rule of the body that does ([`InverseAt`]).
//! - A scaled identity: a value read by a trace alone whose op has adjoints for `Ḡ = s̄ I`
//!   (`Rule::of_identity`) keeps its adjoint as the scalar `s̄` ([`of_identity`]); the left factor
//!   of such a product, when its op has adjoints for `s̄ Bᵀ` reading the product
//!   (`Rule::of_traced_lhs`), keeps its own as `s̄` as well ([`traced_lhs`]).
//!
//! `reverse::plan` asks these while it counts contributions (the sweep's order, last to first),
//! since what is shared depends on the counts made so far.

use crate::ir::{Body, Kind, Op, Stmt, Value, ValueId};
use crate::reverse::Plan;
use crate::symbol::{Inverse, Rule};

/// Where an adjoint rule finds the inverse of the factorization it reads: one per factorization
/// and body, for every rule that reads it ("share").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InverseAt {
    /// The function's own `chol.inverse()`, a forward value.
    Forward(ValueId),
    /// Computed from the factorization (the value) before this node's adjoints, the first in
    /// the sweep to read it.
    Compute(ValueId),
    /// The one computed before an earlier node's adjoints, from this factorization.
    Shared(ValueId),
}

/// Whether node `out` (rule `rule`) of `body` takes its adjoint as a scaled identity kept as a
/// scalar: a trace in the same body is the only contribution to it, and the rule has adjoints for
/// that. (The sweep reaches the node after every contribution to it, so the count is final.)
pub fn of_identity(values: &[Value], body: &Body, p: &Plan, rule: &Rule, out: ValueId) -> bool {
    !rule.of_identity.is_empty()
        && p.identity_seed[out]
        && p.contribs[out] == 1
        && matches!(values[out].kind, Kind::Node)
        && Some(out) != body.ret
}

/// Whether node `out` (rule `rule`) of `body` keeps its adjoint `s̄ Bᵀ` as `s̄`: it is the left
/// factor of a product whose adjoint is kept as `s̄` (the product, returned), that product is
/// the only contribution to it, and the rule has adjoints for that.
pub fn traced_lhs(values: &[Value], body: &Body, p: &Plan, rule: &Rule, out: ValueId) -> Option<ValueId> {
    let ok = !rule.of_traced_lhs.is_empty()
        && p.contribs[out] == 1
        && matches!(values[out].kind, Kind::Node)
        && Some(out) != body.ret;
    p.traced_seed[out].filter(|_| ok)
}

/// "share": the inverse of factorization `f` that a node's adjoints read, one per body: a
/// `chol.inverse()` the body computes (a node whose rule is that inverse), else one computed
/// before the first adjoint in the sweep that reads it, for all of them.
pub fn inverse(values: &[Value], body: &Body, p: &mut Plan, f: ValueId) -> InverseAt {
    let own = body.stmts.iter().find_map(|s| match s {
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
    });
    if let Some(inv) = own {
        return InverseAt::Forward(inv);
    }
    match p.shared_inverse.insert((body.key(), f)) {
        true => InverseAt::Compute(f),
        false => InverseAt::Shared(f),
    }
}
