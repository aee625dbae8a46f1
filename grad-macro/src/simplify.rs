//! Rewrites of the IR between lowering and the reverse sweep's plan. Each computes what the code
//! computes, with a cheaper forward pass or reverse sweep.
//!
//! - The trace of a product that nothing else reads, `(a * b).trace()`, is `tr(AB) = Σᵢⱼ AᵢⱼBⱼᵢ`:
//!   the forward pass does not form `AB` (n² instead of n³), and the reverse sweep contributes
//!   `s̄ Bᵀ` and `s̄ Aᵀ` instead of multiplying `s̄ I` by `Bᵀ` and `Aᵀ` (two n³ products).
//!
//! - The trace of a Cholesky solve that nothing else reads, `chol.solve(c).trace()`, is
//!   `tr(S⁻¹C)`: computed from `chol.inverse()` (the same n³ as the solve), so that the reverse
//!   sweep needs no solve against `s̄ I`, and `chol.ln_determinant()`'s rule reuses the inverse.
//!
//! Input:
//! ```text
//! t₁ = s_inv * c
//! t₂ = t₁.trace()
//! t₃ = chol.solve(c)
//! t₄ = t₃.trace()
//! ```
//! Output:
//! ```text
//! t₂ = trace_mul(s_inv, c)
//! t₃ = chol.inverse()
//! t₄ = trace_mul(t₃, c)
//! ```

use proc_macro2::Span;
use quote::format_ident;

use crate::ir::{Body, Kind, Op, Stmt, Value, ValueId};
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
    let mut fresh = Vec::new();
    trace_of_products(&mut low.body, &reads, low.values.len(), &mut fresh);
    for (out, like) in fresh {
        let v = &low.values[like];
        let ident = format_ident!("inverse_{}", out, span = Span::mixed_site());
        let (active, span) = (v.active, v.span);
        low.values.push(Value {
            ident,
            kind: Kind::Node,
            active,
            span,
            borrowed: false,
            owned: true,
            borrows: None,
            named: false,
        });
    }
}

fn is(rule: &Rule, other: Option<&'static Rule>) -> bool {
    other.is_some_and(|o| std::ptr::eq(rule, o))
}

/// `(a * b).trace()` as `trace_mul(a, b)` where the product is read by the trace alone and
/// computed in the same body.
///
/// `chol.solve(c).trace()` likewise, as `trace_mul(chol.inverse(), c)`: the inverse is a new
/// value (its number is `next` and those after it), recorded in `fresh` with the solve's value
/// whose activity and span it takes.
fn trace_of_products(body: &mut Body, reads: &[usize], next: usize, fresh: &mut Vec<(ValueId, ValueId)>) {
    let trace = symbol::method("trace", 0);
    let mut dead = Vec::new();
    for i in 0..body.stmts.len() {
        match &mut body.stmts[i] {
            Stmt::Branch(b) => b.arms.iter_mut().for_each(|arm| trace_of_products(&mut arm.body, reads, next, fresh)),
            Stmt::Loop(l) => trace_of_products(&mut l.body, reads, next, fresh),
            _ => {}
        }
        let Some(m) = traced(&body.stmts[i], trace) else { continue };
        if reads[m] != 1 {
            continue;
        }
        if let Some((j, factors)) = product(&body.stmts[..i], m) {
            if let Stmt::Node(n) = &mut body.stmts[i] {
                n.op = Op::Rule { rule: &symbol::TRACE_MUL, args: factors };
                dead.push(j);
            }
            continue;
        }
        let Some((j, chol, c)) = cholesky_solve(&body.stmts[..i], m) else { continue };
        let (Some(inverse), Stmt::Node(solve)) = (symbol::method("inverse", 0), &mut body.stmts[j]) else { continue };
        let inv = next + fresh.len();
        fresh.push((inv, m));
        solve.out = inv;
        solve.op = Op::Rule { rule: inverse, args: vec![chol] };
        if let Stmt::Node(n) = &mut body.stmts[i] {
            n.op = Op::Rule { rule: &symbol::TRACE_MUL, args: vec![inv, c] };
        }
    }
    for j in dead.into_iter().rev() {
        body.stmts.remove(j);
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

/// The position, factorization and right-hand side of the node computing `m = chol.solve(c)`
/// among `stmts` (a Cholesky solve: `lu.solve` returns an `Option` and is another rule), with
/// no type annotation (the inverse has another shape).
fn cholesky_solve(stmts: &[Stmt], m: ValueId) -> Option<(usize, ValueId, ValueId)> {
    let solve = symbol::method("solve", 1)?;
    stmts.iter().enumerate().find_map(|(j, s)| match s {
        Stmt::Node(p) if p.out == m && p.ty.is_none() => match &p.op {
            Op::Rule { rule, args } if std::ptr::eq(*rule, solve) && args.len() == 2 => Some((j, args[0], args[1])),
            _ => None,
        },
        _ => None,
    })
}

/// The position and factors of the node computing `m = a * b` among `stmts`.
fn product(stmts: &[Stmt], m: ValueId) -> Option<(usize, Vec<ValueId>)> {
    stmts.iter().enumerate().find_map(|(j, s)| match s {
        Stmt::Node(p) if p.out == m => match &p.op {
            Op::Rule { rule, args } if std::ptr::eq(*rule, &symbol::MUL) => Some((j, args.clone())),
            _ => None,
        },
        _ => None,
    })
}
