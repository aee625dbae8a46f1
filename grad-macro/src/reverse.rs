//! Planning the reverse sweep: which ops take part (activity), how many contributions each
//! adjoint receives (to start it with the first and accumulate the rest in place), which
//! forward values the reverse pass reads, and where a forward value is last used (so that it
//! can be moved there instead of borrowed).

use crate::ir::{outer_of, Body, Kind, Op, Stmt, Value, ValueId};
use crate::symbol::Adj;

pub struct Plan {
    /// The value reaches the body's result (reverse activity).
    pub useful: Vec<bool>,
    /// How many contributions the value's adjoint receives.
    pub contribs: Vec<usize>,
    /// The reverse pass reads the value.
    pub rev_needed: Vec<bool>,
    /// The statement that reads the value last in the forward pass.
    pub last_use: Vec<Option<usize>>,
    /// Some statement reads the value (forward or reverse).
    pub read: Vec<bool>,
}

impl Plan {
    /// Whether node output `out` takes part in the reverse sweep.
    pub fn participates(&self, values: &[Value], out: ValueId) -> bool {
        values[out].active && self.useful[out]
    }
}

/// Plans the reverse sweep of `body`, whose result's adjoint is seeded with 1.
pub fn plan(values: &[Value], body: &Body) -> Plan {
    let n = values.len();
    let mut p = Plan {
        useful: vec![false; n],
        contribs: vec![0; n],
        rev_needed: vec![false; n],
        last_use: vec![None; n],
        read: vec![false; n],
    };
    if let Some(ret) = body.ret {
        p.useful[ret] = true;
        p.read[ret] = true;
        if values[ret].active {
            p.contribs[ret] += 1;
        }
    }
    for stmt in body.stmts.iter().rev() {
        let Stmt::Node(node) = stmt else { continue };
        if !p.participates(values, node.out) {
            continue;
        }
        match &node.op {
            Op::Rule { rule, args } => {
                let mut reads_values = false;
                for (&arg, adj) in args.iter().zip(rule.adj) {
                    if !values[arg].active || *adj == Adj::Constant {
                        continue;
                    }
                    p.useful[arg] = true;
                    p.contribs[arg] += 1;
                    reads_values |= matches!(adj, Adj::Rule(_));
                }
                if reads_values {
                    args.iter().for_each(|&a| p.rev_needed[a] = true);
                    if rule.needs_out {
                        p.rev_needed[node.out] = true;
                    }
                }
            }
            Op::Map { input, closure } => {
                let outer = closure.captures.iter().map(|&c| outer_of(values, c));
                for v in std::iter::once(*input).chain(outer) {
                    if values[v].active {
                        p.useful[v] = true;
                        p.contribs[v] += 1;
                    }
                }
            }
            Op::Opaque { .. } => {}
        }
    }
    for (i, stmt) in body.stmts.iter().enumerate() {
        let inputs = match stmt {
            Stmt::Node(node) => node.op.inputs(values),
            Stmt::Effect { inputs, .. } => inputs.clone(),
        };
        for v in inputs {
            p.last_use[v] = Some(i);
            p.read[v] = true;
        }
    }
    keep_viewed(body, &mut p);
    for v in 0..n {
        p.read[v] |= p.rev_needed[v];
    }
    p
}

/// A view borrows its receiver: the receiver is not moved before the view's last use, nor at
/// all when the reverse pass reads the view. Views of views pass this on, hence the reverse
/// order.
fn keep_viewed(body: &Body, p: &mut Plan) {
    for stmt in body.stmts.iter().rev() {
        let Stmt::Node(node) = stmt else { continue };
        let Op::Rule { rule, args } = &node.op else { continue };
        if crate::symbol::borrows_receiver(rule) {
            let recv = args[0];
            p.last_use[recv] = p.last_use[recv].max(p.last_use[node.out]);
            p.rev_needed[recv] |= p.rev_needed[node.out];
        }
    }
}

/// Whether the forward statement `at`, reading `v` as operand `k` of `args`, may move `v`.
pub fn movable(values: &[Value], plan: &Plan, ret: Option<ValueId>, args: &[ValueId], k: usize, at: usize) -> bool {
    let v = args[k];
    matches!(values[v].kind, Kind::Node)
        && !plan.rev_needed[v]
        && plan.last_use[v] == Some(at)
        && Some(v) != ret
        && args.iter().filter(|&&a| a == v).count() == 1
}
