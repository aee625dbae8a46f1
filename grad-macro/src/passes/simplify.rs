//! Rewrites of the IR between lowering and the reverse sweep's plan. Each keeps what the code
//! computes, bit for bit (the value of `_grad` is the function's), and makes the reverse sweep
//! cheaper.
//!
//! - The trace of a product that nothing else reads, `(a * b).trace()`: the forward pass
//!   computes it as written, and the reverse sweep contributes `s̄ Bᵀ` and `s̄ Aᵀ` (n²) instead
//!   of forming `s̄ I` and multiplying it by `Bᵀ` and `Aᵀ` (two n³ products). Not where the
//!   left factor's op reads the product instead (`chol.inverse()`, see `Rule::of_traced_lhs`):
//!   the product is kept, and the reverse plan gives it the same adjoints.
//!
//! Input:
//! ```text
//! t₁ = s_inv * c
//! t₂ = t₁.trace()
//! ```
//! Output:
//! ```text
//! t₂ = trace_mul(s_inv, c)     (forward: (s_inv * c).trace())
//! ```
//!
//! - A product with a transpose that nothing else reads, `x.transpose() * b` or
//!   `a * x.transpose()`: computed as written, and differentiated as one op, whose adjoints
//!   contribute `B Ḡᵀ` to `X̄` (`Ḡᵀ A` for `a * xᵀ`) instead of forming `Ḡ Bᵀ` for the
//!   transpose's adjoint and then copying its transpose.
//!
//! Input:
//! ```text
//! t₁ = x.transpose()
//! t₂ = t₁ * w
//! ```
//! Output:
//! ```text
//! t₂ = transpose_mul(x, w)     (forward: x.transpose() * w)
//! ```
//!
//! For the reverse program alone ([`value_maps`], not the tangent program, whose `map` runs in
//! one pass with its tangent): a `map` whose closure applies to its entry one scalar function
//! whose derivative is a function of its value, `x.map(|v| v.tanh())`, as that function's
//! [`Rule::value_map`] op: the forward pass computes the values alone (over lanes, as the map
//! did), and the reverse sweep `Ḡ ⊙ (1 − Y²)` from them, the products the stored derivative gave,
//! instead of storing `1 − Y²` (a buffer of the matrix's size, filled, then read).
//!
//! Input:
//! ```text
//! h = t.map(|v| v.tanh())
//! ```
//! Output:
//! ```text
//! h = map_tanh(t)              (reverse: t̄ = map_tanh_adj(h, h̄))
//! ```

use crate::ir::{Body, CallSpans, Closure, Node, Op, Stmt, Value, ValueId};
use crate::lower::Lowered;
use crate::symbol::{self, Rule};

/// Simplifies the lowered function in place.
pub fn run(low: &mut Lowered) {
    let mut reads = vec![0usize; low.values.len()];
    let mut all = Vec::new();
    low.body.stmts.iter().for_each(|s| s.reads(&low.values, &mut all));
    all.extend(low.body.ret);
    for v in all {
        reads[v] += 1;
    }
    in_every_body(&mut low.body, &mut |body| trace_of_products(body, &reads));
    in_every_body(&mut low.body, &mut |body| transposed_products(body, &reads));
}

fn is(rule: &Rule, other: Option<&'static Rule>) -> bool {
    other.is_some_and(|o| std::ptr::eq(rule, o))
}

/// Applies `rewrite` to `body` and to every body its branches and loops hold (a closure's body
/// holds scalars: none of these rewrites applies there).
fn in_every_body(body: &mut Body, rewrite: &mut impl FnMut(&mut Body)) {
    for stmt in &mut body.stmts {
        match stmt {
            Stmt::Branch(b) => b.arms.iter_mut().for_each(|arm| in_every_body(&mut arm.body, rewrite)),
            Stmt::Loop(l) => in_every_body(&mut l.body, rewrite),
            Stmt::Node(_) | Stmt::Effect { .. } => {}
        }
    }
    rewrite(body);
}

/// The position among `stmts` of the rule node computing `v`, with the node, its rule and its
/// operands.
fn rule_node(stmts: &[Stmt], v: ValueId) -> Option<(usize, &Node, &'static Rule, &[ValueId])> {
    stmts.iter().enumerate().find_map(|(j, s)| match s {
        Stmt::Node(n) if n.out == v => match &n.op {
            Op::Rule { rule, args } => Some((j, &**n, *rule, args.as_slice())),
            _ => None,
        },
        _ => None,
    })
}

/// `(a * b).trace()` as `trace_mul(a, b)` where the product is read by the trace alone and
/// computed in the same body.
fn trace_of_products(body: &mut Body, reads: &[usize]) {
    let trace = symbol::method("trace", 0);
    let mut dead = Vec::new();
    for i in 0..body.stmts.len() {
        let Some(m) = traced(&body.stmts[i], trace) else { continue };
        if reads[m] != 1 {
            continue;
        }
        let Some((j, factors)) = product(&body.stmts[..i], m) else { continue };
        if reads_traced_product(&body.stmts[..i], factors[0]) {
            continue;
        }
        if let Stmt::Node(n) = &mut body.stmts[i] {
            n.op = Op::Rule { rule: &symbol::TRACE_MUL, args: factors };
            dead.push(j);
        }
    }
    for j in dead.into_iter().rev() {
        body.stmts.remove(j);
    }
}

/// `x.transpose() * b` as `transpose_mul(x, b)` and `a * x.transpose()` as `mul_transpose(a, x)`
/// (`&x.transpose()` too) where the transpose is read by the product alone, computed in the same
/// body and bound without a type annotation. It runs after [`trace_of_products`], whose fused
/// trace reads the product's factors (and is the cheaper rewrite).
fn transposed_products(body: &mut Body, reads: &[usize]) {
    let mut dead = Vec::new();
    for i in 0..body.stmts.len() {
        let (before, rest) = body.stmts.split_at_mut(i);
        let Stmt::Node(n) = &mut rest[0] else { continue };
        let Op::Rule { rule, args } = &n.op else { continue };
        if !std::ptr::eq(*rule, &symbol::MUL) {
            continue;
        }
        let fused = [(0, &symbol::TRANSPOSE_MUL), (1, &symbol::MUL_TRANSPOSE)]
            .into_iter()
            .find_map(|(k, fused)| transpose_of(before, args[k], reads).map(|found| (k, fused, found)));
        let Some((k, fused, (nodes, x, call))) = fused else { continue };
        let mut operands = args.clone();
        operands[k] = x;
        dead.extend(nodes);
        n.op = Op::Rule { rule: fused, args: operands };
        n.call = call;
    }
    dead.sort_unstable();
    for j in dead.into_iter().rev() {
        body.stmts.remove(j);
    }
}

/// For an operand `t` of a product, read by it alone: when `stmts` compute it as `x.transpose()`
/// or `&x.transpose()` (each node read once, bound without a type annotation), the positions of
/// those nodes, `x`, and the transpose's call spans.
fn transpose_of(stmts: &[Stmt], t: ValueId, reads: &[usize]) -> Option<(Vec<usize>, ValueId, Option<CallSpans>)> {
    let node = |v: ValueId| {
        let (j, n, rule, args) = rule_node(stmts, v).filter(|(_, n, ..)| n.ty.is_none() && reads[v] == 1)?;
        Some((j, rule, *args.first()?, n.call.clone()))
    };
    let transpose = symbol::method("transpose", 0);
    match node(t)? {
        (j, rule, x, call) if is(rule, transpose) => Some((vec![j], x, call)),
        (j, rule, u, _) if std::ptr::eq(rule, &symbol::REF) => match node(u)? {
            (i, rule, x, call) if is(rule, transpose) => Some((vec![i, j], x, call)),
            _ => None,
        },
        _ => None,
    }
}

/// The matrix a `trace()` node reads.
fn traced(s: &Stmt, trace: Option<&'static Rule>) -> Option<ValueId> {
    match s {
        Stmt::Node(n) => match &n.op {
            Op::Rule { rule, args } if is(rule, trace) => args.first().copied(),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the op computing `a` among `stmts` has adjoints for being the left factor of a traced
/// product, reading the product (`Rule::of_traced_lhs`): the product is then kept, for them.
fn reads_traced_product(stmts: &[Stmt], a: ValueId) -> bool {
    rule_node(stmts, a).is_some_and(|(_, _, rule, _)| !rule.of_traced_lhs.is_empty())
}

/// The position and factors of the node computing `m = a * b` among `stmts`.
fn product(stmts: &[Stmt], m: ValueId) -> Option<(usize, Vec<ValueId>)> {
    rule_node(stmts, m)
        .filter(|(_, _, rule, _)| std::ptr::eq(*rule, &symbol::MUL))
        .map(|(j, _, _, args)| (j, args.to_vec()))
}

/// Rewrites every differentiated `map` of the reverse program whose closure is one scalar
/// function with a [`Rule::value_map`], applied to the entry: in the function's body, its
/// branches and loops (a closure's body holds scalars, no `map`). A map of a constant is left
/// as written (the user's scalar calls, bit for bit).
pub fn value_maps(low: &mut Lowered) {
    let values = &low.values;
    in_every_body(&mut low.body, &mut |body| maps_of_values(body, values));
}

fn maps_of_values(body: &mut Body, values: &[Value]) {
    for stmt in &mut body.stmts {
        let Stmt::Node(n) = stmt else { continue };
        if let Op::Map { input, closure } = &n.op {
            if let Some(rule) = value_map(closure).filter(|_| values[*input].active) {
                n.op = Op::Rule { rule, args: vec![*input] };
            }
        }
    }
}

/// The value-map op of `closure` when it is `|v| f(v)` for an `f` with one: a closure of the
/// entry alone (no second matrix, no captures, not of the entry's position) whose one statement
/// applies `f` to it and whose value is that statement's.
fn value_map(closure: &Closure) -> Option<&'static Rule> {
    if closure.second.is_some() || closure.at.is_some() || closure.value_of.is_some() || !closure.captures.is_empty() {
        return None;
    }
    let [Stmt::Node(n)] = closure.body.stmts.as_slice() else { return None };
    match &n.op {
        Op::Rule { rule, args } if args.as_slice() == [closure.param] && closure.body.ret == Some(n.out) => {
            rule.value_map
        }
        _ => None,
    }
}
