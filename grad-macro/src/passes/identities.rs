//! Scaled identities, a pass over the reverse program ("simplify" on the adjoints): a trace's
//! adjoint to its operand is `s̄ I`, and a product with it costs a product with the identity.
//! Where the operand's op has adjoints for `Ḡ = s̄ I` (`Rule::of_identity`) and nothing else
//! contributes to it, its adjoint is kept as the scalar `s̄`; where that op is a product
//! `P = A B`, its contribution to `A` is `s̄ Bᵀ`, which the op of `A` may take as `s̄` too when it
//! has adjoints for that reading `P` (`Rule::of_traced_lhs`). The pass decides which, from each
//! op's rule (never its name) and the plan's counts, and writes the steps of those nodes again.
//!
//! Input (`x = s_inv * c; t = x.trace()`, only `s_inv` active):
//! `d_x = init(trace_adj(x, &d_t)); d_s_inv = init(mul_lhs(s_inv, c, &d_x))`
//! Output: `d_x = init(trace_identity(&d_t)); d_s_inv = init(trace_mul_lhs(s_inv, c, &d_x))`,
//! where `d_x` is the scalar `s̄`.

use crate::ir::{Body, Kind, Op, Stmt, Value, ValueId};
use crate::reverse::program::{self, Program, Site};
use crate::reverse::Plan;

/// Keeps the adjoints `s̄ I` (`Plan::identity`) and `s̄ Bᵀ` (`Plan::traced`) of `body` (with
/// its arms and loop bodies) as the scalar `s̄`, rewriting the steps of the nodes that make or
/// read them.
pub fn scaled(values: &[Value], body: &Body, p: &mut Plan, prog: &mut Program) {
    let mut seeds = Seeds { identity: vec![false; values.len()], traced: vec![None; values.len()] };
    decide(values, body, p, &mut seeds);
    body.for_each_node(&mut |node| {
        let Op::Rule { rule, args } = &node.op else { return };
        let out = node.out;
        let seeds_kept = |(k, &a): (usize, &ValueId)| {
            (rule.seeds_identity && p.identity[a]) || (k == 0 && rule.seeds_traced_lhs && p.traced[a] == Some(out))
        };
        let changed = p.identity[out] || p.traced[out].is_some() || args.iter().enumerate().any(seeds_kept);
        if changed {
            prog.replace(Site::Node(out), program::node_steps(values, p, node));
        }
    });
}

/// What the values reached so far seed: the values a trace in their body reads
/// (`identity`), and the left factor of each product whose adjoint is kept as `s̄` (`traced`:
/// the product).
struct Seeds {
    identity: Vec<bool>,
    traced: Vec<Option<ValueId>>,
}

/// Which adjoints of `body` are kept as `s̄`, in the sweep's order (a trace or a product is
/// reached before the value it reads).
fn decide(values: &[Value], body: &Body, p: &mut Plan, seeds: &mut Seeds) {
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
                b.arms.iter().for_each(|arm| decide(values, &arm.body, p, seeds));
            }
            Stmt::Loop(l) if p.stmt_participates(values, stmt) => decide(values, &l.body, p, seeds),
            Stmt::Branch(_) | Stmt::Loop(_) => {}
        }
    }
}
