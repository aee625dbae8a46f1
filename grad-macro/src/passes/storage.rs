//! Storage in the reverse plan: where each value lives and dies, so that `emit` only prints.
//! A forward value is moved at its last use in the forward pass, or into the adjoint rule that
//! reads it last in the reverse sweep (when nothing else reads it there); a view keeps what it
//! borrows from moving; the terms of a sum whose adjoint is all they receive borrow it; a branch
//! or loop's reverse pass reads the values it adds to (their zeros are made from them).
//!
//! `reverse::plan` runs [`run`] once the contributions are counted; the counting records the
//! reverse sweep's readers through [`read_blocked`] and [`region_targets`].

use crate::ir::{Body, Kind, Op, Stmt, Value, ValueId};
use crate::reverse::Plan;

/// Plans where values live once the counts are in (see `reverse::plan`): each value's last use
/// in the forward pass (where it may be moved), what views keep alive, which terms of a sum
/// borrow its adjoint, and who may move what the reverse pass reads.
pub fn run(values: &[Value], body: &Body, p: &mut Plan, terms: Vec<(ValueId, ValueId)>) {
    last_uses(values, body, p);
    keep_viewed(values, body, p);
    // A term's adjoint can be the sum's, borrowed, when the sum's is all it receives and the
    // two live in the same body (a term defined outside a loop accumulates over iterations).
    for (v, sum) in terms {
        p.alias[v] = p.contribs[v] == 1 && !p.negated[v] && p.def[v] == p.def[sum] && Some(v) != body.ret;
    }
    for (v, value) in values.iter().enumerate() {
        p.read[v] |= p.rev_needed[v];
        if !matches!(value.kind, Kind::Node) || Some(v) == body.ret {
            p.last_reader[v] = None;
        }
    }
}

/// A last reader that may not move the value.
pub const BLOCKED: ValueId = usize::MAX;

/// Whether the forward statement `at` of body `key`, reading `v` as operand `k` of `args`, may
/// move `v`.
pub fn movable(
    values: &[Value],
    plan: &Plan,
    ret: Option<ValueId>,
    args: &[ValueId],
    k: usize,
    at: (usize, usize),
) -> bool {
    let v = args[k];
    matches!(values[v].kind, Kind::Node)
        && !plan.rev_needed[v]
        && plan.last_use[v] == Some(at)
        && Some(v) != ret
        && args.iter().filter(|&&a| a == v).count() == 1
}

/// Whether the reverse rule of node `out` (operands `args`) may take `v` by value: it is `v`'s
/// last reader and reads it once.
pub fn owned_in_reverse(plan: &Plan, out: ValueId, args: &[ValueId], v: ValueId) -> bool {
    plan.last_reader[v] == Some(out) && args.iter().filter(|&&a| a == v).count() <= 1
}

pub fn last_uses(values: &[Value], body: &Body, p: &mut Plan) {
    let key = body.key();
    let mut reads = Vec::new();
    for (i, stmt) in body.stmts.iter().enumerate() {
        reads.clear();
        stmt.reads(values, &mut reads);
        for &v in &reads {
            p.read[v] = true;
            if p.def[v] == key {
                p.last_use[v] = Some((key, i));
            }
        }
        match stmt {
            Stmt::Branch(b) => {
                for arm in &b.arms {
                    last_uses(values, &arm.body, p);
                    let end = arm.body.stmts.len();
                    for &r in &arm.results {
                        if p.def[r] == arm.body.key() {
                            p.last_use[r] = Some((arm.body.key(), end));
                        }
                    }
                }
            }
            Stmt::Loop(l) => {
                last_uses(values, &l.body, p);
                let end = l.body.stmts.len();
                for c in &l.carried {
                    if p.def[c.result] == l.body.key() {
                        p.last_use[c.result] = Some((l.body.key(), end));
                    }
                }
            }
            Stmt::Node(_) | Stmt::Effect { .. } => {}
        }
    }
}

/// A view borrows its receiver (a reference the user binds, what it points into): the receiver
/// is not moved before the view's last use, nor at all (forward or reverse) when the reverse
/// pass reads the view.
/// Views of views pass this on, hence the reverse order.
pub fn keep_viewed(values: &[Value], body: &Body, p: &mut Plan) {
    for stmt in body.stmts.iter().rev() {
        match stmt {
            Stmt::Node(node) => {
                let recv = match (&node.op, values[node.out].borrows) {
                    (Op::Rule { rule, args }, _) if crate::symbol::borrows_receiver(rule) => args[0],
                    (_, Some(r)) if r != node.out => r,
                    _ => continue,
                };
                if p.def[recv] == p.def[node.out] {
                    // Read after the view's last use: where both are read (`&x + y` with
                    // `y = &x`), the receiver is not moved either.
                    let view = p.last_use[node.out];
                    if view.is_some() && view >= p.last_use[recv] {
                        p.last_use[recv] = view.map(|(key, i)| (key, i + 1));
                    }
                }
                // Read in the reverse pass through the view: not moved into a rule there.
                if p.rev_needed[node.out] {
                    read_blocked(p, recv);
                }
            }
            Stmt::Branch(b) => b.arms.iter().for_each(|a| keep_viewed(values, &a.body, p)),
            Stmt::Loop(l) => keep_viewed(values, &l.body, p),
            Stmt::Effect { .. } => {}
        }
    }
}

/// Records the outer values the reverse pass of region `stmt` (with tape `tape`) adds to: their
/// zeros are made from them before it, so they are read there.
pub fn region_targets(values: &[Value], stmt: &Stmt, tape: ValueId, p: &mut Plan) {
    let targets = p.outer_targets(values, stmt);
    for &t in &targets {
        read_blocked(p, t);
    }
    p.region_targets.insert(tape, targets);
}

/// Records that the reverse pass reads `v` where it may not move it.
pub fn read_blocked(p: &mut Plan, v: ValueId) {
    p.rev_needed[v] = true;
    p.last_reader[v] = Some(BLOCKED);
}
