//! Copies of IR bodies with renamed values: a `map` closure's tangent program recomputes the
//! entry's value beside its tangent, in a closure of its own.

use crate::ir::{Arm, Body, Branch, Carried, Closure, Head, Loop, Node, Op, Stmt, ValueId};

/// A copy of `body` reading `m(v)` for every value `v`.
pub(super) fn copy_body(body: &Body, m: &impl Fn(ValueId) -> ValueId) -> Body {
    Body {
        stmts: body.stmts.iter().map(|s| copy_stmt(s, m)).collect(),
        ret: body.ret.map(m),
        bound: body.bound.iter().map(|&v| m(v)).collect(),
    }
}

fn copy_stmt(stmt: &Stmt, m: &impl Fn(ValueId) -> ValueId) -> Stmt {
    let ms = |vs: &[ValueId]| vs.iter().map(|&v| m(v)).collect::<Vec<_>>();
    match stmt {
        Stmt::Node(n) => {
            let op = match &n.op {
                Op::Rule { rule, args } => Op::Rule { rule, args: ms(args) },
                Op::Opaque { tokens, inputs } => Op::Opaque { tokens: tokens.clone(), inputs: ms(inputs) },
                Op::Call { func, args, by_ref, spans } => {
                    Op::Call { func: func.clone(), args: ms(args), by_ref: by_ref.clone(), spans: spans.clone() }
                }
                Op::Map { input, closure } => Op::Map {
                    input: m(*input),
                    closure: Box::new(Closure {
                        param: m(closure.param),
                        captures: ms(&closure.captures),
                        body: copy_body(&closure.body, m),
                        at: closure.at.clone(),
                        second: closure.second.map(|(y, b)| (m(y), m(b))),
                        value_of: closure.value_of.map(|(a, y)| (m(a), m(y))),
                    }),
                },
            };
            Stmt::Node(Box::new(Node { out: m(n.out), op, span: n.span, call: n.call.clone(), ty: n.ty.clone() }))
        }
        Stmt::Effect { tokens, inputs } => Stmt::Effect { tokens: tokens.clone(), inputs: ms(inputs) },
        Stmt::Branch(b) => {
            let head = match &b.head {
                Head::If { conds } => Head::If { conds: conds.clone() },
                Head::Match { scrutinee, pats } => Head::Match { scrutinee: scrutinee.clone(), pats: pats.clone() },
            };
            let arms = b.arms.iter().map(|a| Arm { body: copy_body(&a.body, m), results: ms(&a.results) }).collect();
            Stmt::Branch(Box::new(Branch {
                head,
                arms,
                outs: ms(&b.outs),
                tape: m(b.tape),
                inputs: ms(&b.inputs),
                span: b.span,
            }))
        }
        Stmt::Loop(l) => Stmt::Loop(Box::new(Loop {
            pat: l.pat.clone(),
            iter: l.iter.clone(),
            inputs: ms(&l.inputs),
            fixed_len: l.fixed_len.clone(),
            carried: l
                .carried
                .iter()
                .map(|c| Carried { before: m(c.before), inner: m(c.inner), result: m(c.result), out: m(c.out) })
                .collect(),
            stop: l.stop,
            unbounded: l.unbounded,
            sized_by: l.sized_by.map(|(v, a)| (m(v), a)),
            body: copy_body(&l.body, m),
            tape: m(l.tape),
            span: l.span,
        })),
    }
}
