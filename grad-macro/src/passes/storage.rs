//! Storage in the reverse plan: where each value lives and dies, so that `emit` only prints.
//! A forward value is moved at its last use in the forward pass, or into the adjoint rule that
//! reads it last in the reverse sweep (when nothing else reads it there); a view keeps what it
//! borrows from moving; the terms of a sum whose adjoint is all they receive borrow it; a branch
//! or loop's reverse pass reads the outer values whose adjoints start at zeros before it (the
//! zeros are made from them).
//!
//! `reverse::program` writes the reverse program plainly, every operand borrowed. Once it is
//! written, [`reverse_reads`] reads off it which forward values the sweep reads and who reads
//! each last, [`run`] plans the forward pass's moves from that (`Plan::forward_moves`: each
//! node takes by value what it reads last where its op's form can, `Rule::takes_by_value`;
//! `emit` only prints them), and two passes rewrite the program: [`aliases`] binds the adjoint
//! of a sum's term that receives nothing else as a reference to the sum's, and [`moves`] moves
//! into each step what it reads last and can take by value (Ḡ into the last step reading it,
//! the dead forward values into the last rule computing in their buffers).

use crate::ir::{Body, Kind, Op, Stmt, Value, ValueId};
use crate::reverse::program::{Expr, InverseAt, Operand, Program, Site, Step};
use crate::reverse::{Plan, BLOCKED};
use crate::symbol::Fwd;

/// Plans where values live once the reverse program's reads are known ([`reverse_reads`]): each
/// value's last use in the forward pass (where it may be moved), what views keep alive, and who
/// may move what the reverse pass reads.
pub fn run(values: &[Value], body: &Body, p: &mut Plan) {
    last_uses(values, body, p);
    keep_viewed(values, body, p);
    for (v, value) in values.iter().enumerate() {
        p.read[v] |= p.rev_needed[v];
        if !matches!(value.kind, Kind::Node) || Some(v) == body.ret {
            p.last_reader[v] = None;
        }
    }
    forward_moves(values, body, body.ret, p);
}

/// The forward pass's moves (`Plan::forward_moves`): each node of `body` (with its arms and loop
/// bodies; `ret`, the function's result, is never moved) takes by value each value it reads for
/// the last time, once, that the reverse sweep does not read.
fn forward_moves(values: &[Value], body: &Body, ret: Option<ValueId>, p: &mut Plan) {
    let key = body.key();
    for (i, stmt) in body.stmts.iter().enumerate() {
        match stmt {
            Stmt::Node(node) => {
                let (reads, rule): (Vec<ValueId>, _) = match &node.op {
                    Op::Rule { args, rule } => (args.clone(), Some(rule)),
                    Op::Call { args, .. } => (args.clone(), None),
                    Op::Map { input, closure } => {
                        (std::iter::once(*input).chain(closure.second.map(|(y, _)| y)).collect(), None)
                    }
                    Op::Opaque { .. } => continue,
                };
                // A rule's form takes some operands by value (a runtime helper only an owned
                // matrix: a view is lent).
                let takes = |k: usize| match rule {
                    Some(r) => r.takes_by_value(k) && (!matches!(r.fwd, Fwd::Runtime(_)) || values[reads[k]].owned),
                    None => true,
                };
                let moved =
                    (0..reads.len()).map(|k| takes(k) && movable(values, p, ret, &reads, k, (key, i))).collect();
                p.forward_moves.insert(node.out, moved);
            }
            Stmt::Branch(b) => b.arms.iter().for_each(|arm| forward_moves(values, &arm.body, None, p)),
            Stmt::Loop(l) => forward_moves(values, &l.body, None, p),
            Stmt::Effect { .. } => {}
        }
    }
}

/// The forward values the reverse sweep reads, read off the reverse program in the sweep's
/// order (`Plan::rev_needed`), each with its last reader (`Plan::last_reader`): the rule node
/// whose steps read it last, where it may be moved into them, or [`BLOCKED`] where that is
/// something else (a pullback, a shared inverse, a rule in a branch or loop the value is defined
/// outside of, the zeros an adjoint starts from, a tape).
pub fn reverse_reads(values: &[Value], body: &Body, p: &mut Plan, prog: &Program) {
    for stmt in body.stmts.iter().rev() {
        match stmt {
            Stmt::Node(node) if p.participates(values, node.out) => {
                let steps = prog.at(Site::Node(node.out));
                // What a shared inverse is computed from (or the function's own inverse) first:
                // the rule reading it as an operand may still take it by value.
                for step in steps {
                    match step {
                        Step::Inverse(f) => read_blocked(p, *f),
                        Step::Contribute { expr, .. } => {
                            for o in expr.operands() {
                                if let Operand::Inverse(InverseAt::Forward(v) | InverseAt::Shared(v)) = o {
                                    read_blocked(p, v);
                                }
                            }
                        }
                        // The callee's pullback reads the arguments and the value.
                        Step::Pullback { out, .. } => {
                            if let Op::Call { args, .. } = &node.op {
                                args.iter().for_each(|&a| read_blocked(p, a));
                            }
                            read_blocked(p, *out);
                        }
                        _ => {}
                    }
                }
                let mut read = |v: ValueId| {
                    p.rev_needed[v] = true;
                    p.last_reader[v] = Some(if p.def[v] == p.def[node.out] { node.out } else { BLOCKED });
                };
                for step in steps {
                    match step {
                        Step::Contribute { expr, .. } => expr.reads(&mut read),
                        Step::Alias { ty: Some(ty), .. } => read(*ty),
                        _ => {}
                    }
                }
            }
            Stmt::Node(_) | Stmt::Effect { .. } => {}
            Stmt::Branch(b) if p.stmt_participates(values, stmt) => {
                b.arms.iter().for_each(|arm| reverse_reads(values, &arm.body, p, prog));
                region_read(p, b.tape, prog);
            }
            Stmt::Loop(l) if p.stmt_participates(values, stmt) => {
                // Without an adjoint after the loop, a carried adjoint starts at zeros of its
                // shape.
                for c in &l.carried {
                    if p.carried_participates(values, c) && !p.participates(values, c.out) {
                        read_blocked(p, c.out);
                    }
                }
                reverse_reads(values, &l.body, p, prog);
                region_read(p, l.tape, prog);
            }
            Stmt::Branch(_) | Stmt::Loop(_) => {}
        }
    }
}

/// The reverse pass of the branch or loop with tape `tape` reads the tape, and the outer values
/// whose adjoints start at zeros before it (`Step::Zeros`: the zeros are made from them).
fn region_read(p: &mut Plan, tape: ValueId, prog: &Program) {
    p.rev_needed[tape] = true;
    for step in prog.at(Site::Enter(tape)) {
        if let Step::Zeros(t) = step {
            read_blocked(p, *t);
        }
    }
}

/// Which adjoints borrow another's, a pass over the reverse program: a term of a sum
/// (`Plan::terms`) whose adjoint receives nothing else, is not kept negated, is not the
/// result and lives in the sum's body (a term defined outside a loop accumulates over
/// iterations) is bound as a reference to the sum's adjoint (`Step::Alias`) instead of a copy
/// of it; every later read of it reads that reference, and a pullback given it clones it.
pub fn aliases(body: &Body, p: &Plan, prog: &mut Program) {
    let aliased = |v: ValueId, sum: ValueId, prog: &Program| {
        p.contribs[v] == 1 && !prog.is_negated(v) && p.def[v] == p.def[sum] && Some(v) != body.ret
    };
    for &(v, sum) in &p.terms {
        if !aliased(v, sum, prog) {
            continue;
        }
        for step in prog.at_mut(Site::Node(sum)) {
            if let Step::Contribute { target, expr, .. } = step {
                if *target == v {
                    let ty = match expr {
                        Expr::As { ty, .. } => Some(*ty),
                        _ => None,
                    };
                    *step = Step::Alias { target: v, g: Operand::Adjoint { v: sum, borrow: true }, ty };
                }
            }
        }
        prog.set_reference(v);
    }
    prog.read_references();
}

/// Moves in the reverse program: in each rule or map node's steps, Ḡ goes by value into the
/// last step that reads it where that step can take it (a pass of Ḡ, or a rule computing in its
/// buffer: `Expr::Call::by_value`), unless a term of the sum borrows it; and a rule computing in
/// its buffers takes by value the forward values it is the last reader of (`owned_in_reverse`).
pub fn moves(body: &Body, p: &Plan, prog: &mut Program) {
    body.for_each_node(&mut |node| {
        let args: &[ValueId] = match &node.op {
            Op::Rule { args, .. } => args,
            Op::Map { .. } => &[],
            Op::Call { .. } | Op::Opaque { .. } => return,
        };
        let reference = prog.is_reference(node.out);
        let steps = prog.at_mut(Site::Node(node.out));
        move_values(p, node.out, args, steps);
        move_adjoint(node.out, reference, steps);
    });
}

/// The forward values (operands `args` and output `out`) that the rules of node `out` computing
/// in their buffers read last, moved into them.
fn move_values(p: &Plan, out: ValueId, args: &[ValueId], steps: &mut [Step]) {
    for step in steps {
        let Step::Contribute { expr, .. } = step else { continue };
        let Some(Expr::Call { args: reads, by_value: true, .. }) = expr.call_mut() else { continue };
        for read in reads {
            if let Operand::Value { v, moved } = read {
                let own = *v == out || args.contains(v);
                *moved = own && Some(*v) != p.traced[out] && owned_in_reverse(p, out, args, *v);
            }
        }
    }
}

/// Ḡ, the adjoint of node `out`, moved into the last of its steps that reads it, where that
/// step can take it by value and no term of the sum borrows it (`Step::Alias`).
fn move_adjoint(out: ValueId, reference: bool, steps: &mut [Step]) {
    if steps.iter().any(|s| matches!(s, Step::Alias { .. })) {
        return;
    }
    let reads_g = |step: &Step| match step {
        Step::Contribute { expr, .. } => {
            expr.operands().iter().any(|o| matches!(o, Operand::Adjoint { v, .. } if *v == out))
        }
        _ => false,
    };
    let Some(last) = steps.iter_mut().rev().find(|s| reads_g(s)) else { return };
    let Step::Contribute { expr, .. } = last else { return };
    let Some(call) = expr.call_mut() else { return };
    match call {
        // A pass: Ḡ itself, unless it is a reference already (the adjoint of a sum's term).
        Expr::Shared(_) if !reference => *call = Expr::Operand(Operand::Adjoint { v: out, borrow: false }),
        Expr::Shared(_) => {}
        Expr::Call { args, by_value: true, .. } => {
            for a in args {
                if let Operand::Adjoint { v, borrow } = a {
                    *borrow &= *v != out;
                }
            }
        }
        _ => {}
    }
}

/// Whether the forward statement `at` of body `key`, reading `v` as operand `k` of `args`, may
/// move `v`.
fn movable(
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

/// Records that the reverse pass reads `v` where it may not move it.
fn read_blocked(p: &mut Plan, v: ValueId) {
    p.rev_needed[v] = true;
    p.last_reader[v] = Some(BLOCKED);
}
