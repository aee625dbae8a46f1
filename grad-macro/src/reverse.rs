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
    /// For a forward value the reverse sweep reads: the node (by its output) whose adjoint rules
    /// read it last, where it may be moved into the rule (never a parameter or the result).
    pub last_reader: Vec<Option<ValueId>>,
    /// The value's adjoint is kept negated (`d_v = −v̄`): it comes from `-x` or `c - x` with a
    /// constant `c`, so the sign folds into the contributions to it instead of costing a pass.
    pub negated: Vec<bool>,
    /// The value's adjoint is a reference to the adjoint of the sum it is one of several terms
    /// of (`a + b`): it receives nothing else, so the sum's adjoint is not copied for it.
    pub alias: Vec<bool>,
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
        last_reader: vec![None; n],
        negated: vec![false; n],
        alias: vec![false; n],
    };
    let mut terms = Vec::new();
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
                let (mut all_neg, mut any) = (true, false);
                for (&arg, adj) in args.iter().zip(rule.adj) {
                    if !values[arg].active || *adj == Adj::Constant {
                        continue;
                    }
                    p.useful[arg] = true;
                    p.contribs[arg] += 1;
                    reads_values |= matches!(adj, Adj::Rule(_));
                    all_neg &= *adj == Adj::PassNeg;
                    any = true;
                }
                p.negated[node.out] = any && all_neg;
                let passed = |(&a, adj): (&ValueId, &Adj)| values[a].active && *adj == Adj::Pass;
                if args.iter().zip(rule.adj).filter(|&t| passed(t)).count() > 1 {
                    terms.extend(args.iter().zip(rule.adj).filter(|&t| passed(t)).map(|(&a, _)| a));
                }
                if reads_values {
                    // Statements are visited last to first: the reader kept is the sweep's last.
                    for &a in args.iter().chain(rule.needs_out.then_some(&node.out)) {
                        p.rev_needed[a] = true;
                        p.last_reader[a] = Some(node.out);
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
    for v in terms {
        p.alias[v] = matches!(values[v].kind, Kind::Node) && p.contribs[v] == 1 && !p.negated[v];
    }
    for v in 0..n {
        p.read[v] |= p.rev_needed[v];
    }
    for (v, value) in values.iter().enumerate() {
        if !matches!(value.kind, Kind::Node) || Some(v) == body.ret {
            p.last_reader[v] = None;
        }
    }
    p
}

/// Whether the reverse rule of node `out` (operands `args`) may take `v` by value: it is `v`'s
/// last reader and reads it once.
pub fn owned_in_reverse(plan: &Plan, out: ValueId, args: &[ValueId], v: ValueId) -> bool {
    plan.last_reader[v] == Some(out) && args.iter().filter(|&&a| a == v).count() <= 1
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
