//! Fields of a collection's elements accumulated in place, a pass over the reverse program.
//!
//! Read plainly, `layer.w` for `layer = &p.layers[k]` has an adjoint of its own, which
//! `member_adj` puts into a whole element's adjoint (the element's other fields zeros), which
//! `element_adj` adds into element `k` of the collection's: a zeroed element and two passes over
//! it per read. Where the collection's adjoint exists before the loop or branch that reads the
//! element (it starts at zeros there), each contribution to the field's adjoint is added into
//! that field of element `k` of the collection's adjoint instead ([`Expr::At`]), and the
//! field's, the element's and the reference's adjoints are not formed: a product accumulates
//! with gemm straight into the gradient's storage, as a hand-written gradient does.
//!
//! Input (in the loop's reverse pass, `t = &p.layers[k]`, `layer = &t`, `w = &layer.w`):
//! `let d_w = init(mul_lhs(w, h, &d_z)); let d_layer = init(member_adj(layer, slot_w, &d_w));`
//! `let d_t = init(d_layer); add_to(&mut d_layers, element_adj(layers, &k, &d_t));`
//! Output: `add_to(&mut d_layers, field_at(layers, &k, slot_w, mul_lhs(w, h, &d_z)));`
//!
//! It runs after `signs` (the contributions carry their final signs) and before `storage`'s
//! `aliases` and `moves`, which see the rewritten contributions as any other.

use std::collections::{HashMap, HashSet};

use crate::ir::{Body, Node, Op, Stmt, ValueId};
use crate::reverse::program::{Expr, Operand, Program, Site, Step};
use crate::symbol::{self, Rule};

/// The field reads of one element reference: every MEMBER node reading it, the values from the
/// reference to the element (each an adjoint that only passes on), and where the element is.
struct Group {
    members: Vec<(ValueId, ValueId)>,
    chain: Vec<ValueId>,
    collection: ValueId,
    index: ValueId,
}

/// Rewrites the program of `body` (with its arms and loop bodies).
pub fn fields(body: &Body, prog: &mut Program) {
    let mut nodes: HashMap<ValueId, &Node> = HashMap::new();
    body.for_each_node(&mut |n| {
        nodes.insert(n.out, n);
    });
    let mut groups: HashMap<ValueId, Group> = HashMap::new();
    collect(body, prog, &nodes, &mut Vec::new(), &mut groups);
    for group in groups.into_values() {
        if placeable(prog, &group) {
            place(prog, &group);
        }
    }
}

fn is(rule: &Rule, other: &Rule) -> bool {
    std::ptr::eq(rule, other)
}

/// The MEMBER nodes of `body` whose element's collection has an adjoint started (at zeros) before
/// an enclosing branch or loop (`started`), grouped by the reference they read.
fn collect(
    body: &Body,
    prog: &Program,
    nodes: &HashMap<ValueId, &Node>,
    started: &mut Vec<ValueId>,
    groups: &mut HashMap<ValueId, Group>,
) {
    for stmt in &body.stmts {
        let (tape, bodies): (ValueId, Vec<&Body>) = match stmt {
            Stmt::Node(n) => {
                if let Op::Rule { rule, args } = &n.op {
                    if is(rule, &symbol::MEMBER) {
                        if let Some((chain, collection, index)) = element(nodes, args[0]) {
                            if started.contains(&collection) {
                                let g = groups.entry(args[0]).or_insert(Group {
                                    members: Vec::new(),
                                    chain,
                                    collection,
                                    index,
                                });
                                g.members.push((n.out, args[2]));
                            }
                        }
                    }
                }
                continue;
            }
            Stmt::Branch(b) => (b.tape, b.arms.iter().map(|a| &a.body).collect()),
            Stmt::Loop(l) => (l.tape, vec![&l.body]),
            Stmt::Effect { .. } => continue,
        };
        let before = started.len();
        started.extend(prog.at(Site::Enter(tape)).iter().filter_map(|s| match s {
            Step::Zeros(v) => Some(*v),
            _ => None,
        }));
        bodies.into_iter().for_each(|b| collect(b, prog, nodes, started, groups));
        started.truncate(before);
    }
}

/// The values from reference `s` to an element of a collection (`s` itself, the references
/// between, the element), with the collection and the index: `None` when `s` is not one.
fn element(nodes: &HashMap<ValueId, &Node>, s: ValueId) -> Option<(Vec<ValueId>, ValueId, ValueId)> {
    let mut chain = vec![s];
    let mut v = s;
    loop {
        let Op::Rule { rule, args } = &nodes.get(&v)?.op else { return None };
        if is(rule, &symbol::ELEMENT) {
            return Some((chain, args[0], args[1]));
        }
        if !is(rule, &symbol::REF) {
            return None;
        }
        v = args[0];
        chain.push(v);
    }
}

/// Whether the group's adjoints are formed only to pass on: the fields' adjoints read only by
/// their own MEMBER steps, the chain's only by the chain's steps, and nothing else contributing
/// to the chain; none of them (nor the collection's) kept negated.
fn placeable(prog: &Program, g: &Group) -> bool {
    let members: HashSet<ValueId> = g.members.iter().map(|&(m, _)| m).collect();
    let chain: HashSet<ValueId> = g.chain.iter().copied().collect();
    let own = |site: Site| matches!(site, Site::Node(v) if members.contains(&v) || chain.contains(&v));
    if members.iter().chain(&chain).chain([&g.collection]).any(|&v| prog.is_negated(v)) {
        return false;
    }
    prog.all().all(|(site, step)| {
        let reads_ours =
            |o: &Operand| matches!(o, Operand::Adjoint { v, .. } if members.contains(v) || chain.contains(v));
        match step {
            Step::Contribute { target, expr, .. } => {
                (!chain.contains(target) || own(site)) && (own(site) || !expr.operands().iter().any(reads_ours))
            }
            Step::Alias { target, g, .. } => !members.contains(target) && !chain.contains(target) && !reads_ours(g),
            Step::Pullback { out, .. } | Step::Carry { out, .. } => !members.contains(out) && !chain.contains(out),
            Step::CarryBack { out, inner } => ![out, inner].iter().any(|v| members.contains(v) || chain.contains(v)),
            Step::Zeros(v) => !chain.contains(v),
            Step::Inverse(_) => true,
        }
    })
}

/// Adds every contribution to a field's adjoint into the collection's, and drops the steps of
/// the fields, the references and the element.
fn place(prog: &mut Program, g: &Group) {
    let slot: HashMap<ValueId, ValueId> = g.members.iter().copied().collect();
    let dropped: HashSet<ValueId> = slot.keys().chain(&g.chain).copied().collect();
    prog.rewrite_all(|site, step| match step {
        _ if matches!(site, Site::Node(v) if dropped.contains(&v)) => None,
        Step::Zeros(v) if slot.contains_key(&v) => None,
        Step::Contribute { target, expr, .. } if slot.contains_key(&target) => Some(Step::Contribute {
            target: g.collection,
            bind: None,
            expr: Expr::At {
                like: Operand::Value { v: g.collection, moved: false },
                index: Operand::Value { v: g.index, moved: false },
                slot: Operand::Value { v: slot[&target], moved: false },
                expr: Box::new(expr),
            },
        }),
        step => Some(step),
    });
}
