//! The reverse sweep as a program: every contribution the sweep makes, written as the adjoint
//! op it applies ([`Expr`]) to what it reads ([`Operand`]: a forward value, an adjoint, a shared
//! inverse, a stored partial, each moved or borrowed), and how its result reaches the target's
//! adjoint ([`Step::Contribute`]: binding it or added in place, negated where the target's
//! adjoint is kept negated).
//!
//! The steps are listed by [`Site`], the places of the sweep: the seed, each node, each arm of
//! a branch, and before, in and after the reverse pass of a branch or loop (where adjoints start
//! at zeros, and a loop's carried adjoints flow). They are built once the plan is complete,
//! through each node's contributions in the sweep's order ([`Via`]); `emit` prints them in the
//! sweep's structure (reversed statements, arms matched on the tape, iterations popped from it)
//! and decides none of what they say.
//!
//! Built plainly, every operand borrowed, every adjoint owned and unsigned, every inverse
//! shared, every op's own adjoints; passes (run by `passes::reverse`) then rewrite it:
//! `passes::identities` keeps a trace's `s̄ I` as `s̄` where the op it reaches has adjoints for
//! that, `passes::share::inverses` places each inverse, `passes::signs` keeps some adjoints negated, `passes::storage::aliases` binds
//! some as references to another's, and `passes::storage::moves` moves into each step what it
//! reads last, where it can take it by value.
//!
//! Input (the rule node `z = x * w`, `Ḡ = d_z`, with `x` constant):
//! `[Contribute { target: w, bind: Some(false), expr: Call("mul_rhs", [x, w, &d_z]) }]`,
//! printed `let d_w = init(mul_rhs(x, w, &d_z));`.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;

use super::{contributed, Consumer, Plan};
use crate::ir::{outer_of, Body, Branch, Closure, Loop, Node, Op, Stmt, Value, ValueId};
use crate::symbol::{self, Adj, Rule};

/// Where an adjoint rule finds the inverse of the factorization it reads: one per factorization
/// and body, for every rule that reads it (`passes::share::inverses`).
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

/// What an adjoint op reads.
#[derive(Clone, Copy, Debug)]
pub enum Operand {
    /// A forward value, moved (by value) or borrowed.
    Value { v: ValueId, moved: bool },
    /// The adjoint of `v`: borrowed when `borrow`, else the adjoint itself (moved, or already a
    /// reference: a term's adjoint that aliases the sum's, see `passes::storage::aliases`).
    Adjoint { v: ValueId, borrow: bool },
    /// The inverse of a factorization, as a reference (see [`InverseAt`]).
    Inverse(InverseAt),
    /// The `k`-th partial the differentiated map `map` stored: borrowed when `borrow`, else
    /// moved.
    Partial { map: ValueId, k: usize, borrow: bool },
    /// The adjoint a loop carries for its carried value `out`, moved; left at zeros (taken)
    /// when `zeroed`.
    Carry { out: ValueId, zeroed: bool },
    /// The gradient of argument `k` the pullback of call `out` returned (spanned at the
    /// argument).
    Pulled { out: ValueId, k: usize, span: Span },
    /// The seed of the body's result.
    Seed,
}

/// An adjoint op.
#[derive(Clone, Debug)]
pub enum Expr {
    /// The runtime's `f` of `args` (`::matgrad::__private::f(args…)`), spanned at `span`;
    /// `by_value` when `f` takes by value what it reads last (computing in its buffer), so
    /// that `passes::storage::moves` may move its operands into it.
    Call { f: &'static str, args: Vec<Operand>, span: Span, by_value: bool },
    /// The operand itself.
    Operand(Operand),
    /// Ḡ passed on, lent (`shared(&d)`) because a later step may read it again:
    /// `passes::storage::moves` passes Ḡ itself ([`Expr::Operand`]) where no later step does.
    Shared(Operand),
    /// `expr` converted into the adjoint type of value `ty` (a `Vector3` set as a column of a
    /// `DMatrix`).
    As { ty: ValueId, expr: Box<Expr> },
    /// `−expr`, folded into the accumulation (no pass of its own; see `passes::signs`).
    Neg(Box<Expr>),
    /// `expr`, the adjoint of a field of element `index` of collection `like`, added into that
    /// field (reached through `slot`) of the collection's adjoint (see `passes::places`).
    At { like: Operand, index: Operand, slot: Operand, expr: Box<Expr> },
}

impl Expr {
    fn call(f: &'static str, args: Vec<Operand>, span: Span) -> Expr {
        Expr::Call { f, args, span, by_value: false }
    }

    fn call_by_value(f: &'static str, args: Vec<Operand>, span: Span, by_value: bool) -> Expr {
        Expr::Call { f, args, span, by_value }
    }

    /// The call or lent pass this contribution makes, under its sign and its conversion into an
    /// adjoint type.
    pub(crate) fn call_mut(&mut self) -> Option<&mut Expr> {
        match self {
            Expr::Call { .. } | Expr::Shared(_) => Some(self),
            Expr::As { expr, .. } | Expr::Neg(expr) | Expr::At { expr, .. } => expr.call_mut(),
            Expr::Operand(_) => None,
        }
    }

    /// Applies `f` to every operand this contribution reads.
    pub(crate) fn operands_mut(&mut self, f: &mut impl FnMut(&mut Operand)) {
        match self {
            Expr::Call { args, .. } => args.iter_mut().for_each(f),
            Expr::Operand(o) | Expr::Shared(o) => f(o),
            Expr::As { expr, .. } | Expr::Neg(expr) => expr.operands_mut(f),
            Expr::At { like, index, slot, expr } => {
                f(like);
                f(index);
                f(slot);
                expr.operands_mut(f);
            }
        }
    }

    /// Applies `f` to every forward value this contribution reads (its operands, and the
    /// adjoint type it is converted into).
    pub(crate) fn reads(&self, f: &mut impl FnMut(ValueId)) {
        match self {
            Expr::Call { args, .. } => args.iter().for_each(|a| {
                if let Operand::Value { v, .. } = a {
                    f(*v)
                }
            }),
            Expr::Operand(Operand::Value { v, .. }) | Expr::Shared(Operand::Value { v, .. }) => f(*v),
            Expr::Operand(_) | Expr::Shared(_) => {}
            Expr::As { ty, expr } => {
                expr.reads(f);
                f(*ty);
            }
            Expr::Neg(expr) => expr.reads(f),
            Expr::At { like, index, slot, expr } => {
                for o in [like, index, slot] {
                    if let Operand::Value { v, .. } = o {
                        f(*v)
                    }
                }
                expr.reads(f);
            }
        }
    }

    /// The operands this contribution reads.
    pub(crate) fn operands(&self) -> Vec<Operand> {
        match self {
            Expr::Call { args, .. } => args.clone(),
            Expr::Operand(o) | Expr::Shared(o) => vec![*o],
            Expr::As { expr, .. } | Expr::Neg(expr) => expr.operands(),
            Expr::At { like, index, slot, expr } => [*like, *index, *slot].into_iter().chain(expr.operands()).collect(),
        }
    }

    /// `self` in the adjoint type of `ty`, when there is one.
    fn in_adjoint_type(self, ty: Option<ValueId>) -> Expr {
        match ty {
            Some(ty) => Expr::As { ty, expr: Box::new(self) },
            None => self,
        }
    }

    fn negated(self, neg: bool) -> Expr {
        match neg {
            true => Expr::Neg(Box::new(self)),
            false => self,
        }
    }
}

/// One step of a consumer's reverse pass.
#[derive(Clone, Debug)]
pub enum Step {
    /// `expr` reaches `target`'s adjoint: it binds it (`let [mut] d = init(expr)`, mutable when
    /// more contributions follow) when `bind` is `Some(mutable)`, else is added in place.
    Contribute { target: ValueId, bind: Option<bool>, expr: Expr },
    /// `target`'s adjoint is `g`, the adjoint of the sum it is a term of, borrowed (read in the
    /// adjoint type of `ty` when there is one): a term that receives nothing else.
    Alias { target: ValueId, g: Operand, ty: Option<ValueId> },
    /// The inverse of factorization `f`, computed for this and every later rule that reads it
    /// (see `passes::share::inverses`).
    Inverse(ValueId),
    /// The pullback of the call `out`, from its arguments, its value and its adjoint (cloned
    /// when `clone_g`: it aliases a sum's, and the pullback takes its own).
    Pullback { out: ValueId, clone_g: bool },
    /// `target`'s adjoint starts at zeros (`let mut d = zero_like(&target)`): its contributions,
    /// inside an arm or a loop body, cannot bind it.
    Zeros(ValueId),
    /// The adjoint a loop carries for its carried value `out` starts (`let mut`): as `out`'s
    /// adjoint after the loop, moved, when `from_adjoint`, else zeros.
    Carry { out: ValueId, from_adjoint: bool },
    /// The carried adjoint of `out` becomes the adjoint of `inner`, its value at the start of
    /// the iteration just swept.
    CarryBack { out: ValueId, inner: ValueId },
}

/// Where the reverse sweep runs a list of steps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Site {
    /// The seed of the body's result.
    Seed,
    /// The reverse pass of the node with this output.
    Node(ValueId),
    /// Arm `k` of the branch with this tape, before the arm's own sweep.
    Arm(ValueId, usize),
    /// Before the reverse pass of the branch or loop with this tape.
    Enter(ValueId),
    /// The start of each iteration of the reverse pass of the loop with this tape.
    IterationStart(ValueId),
    /// The end of each iteration of that reverse pass.
    IterationEnd(ValueId),
    /// After the reverse pass of the loop with this tape.
    Exit(ValueId),
}

/// The reverse program of a body: its steps, by site.
#[derive(Default)]
pub struct Program {
    steps: HashMap<Site, Vec<Step>>,
    /// The values whose adjoints are references to another's (bound by [`Step::Alias`]).
    references: HashSet<ValueId>,
    /// The values whose adjoints are kept negated (see `passes::signs`).
    negated: HashSet<ValueId>,
}

impl Program {
    /// The steps at `site`, in order.
    pub fn at(&self, site: Site) -> &[Step] {
        self.steps.get(&site).map(Vec::as_slice).unwrap_or_default()
    }

    /// The steps at `site`, for a pass to rewrite.
    pub(crate) fn at_mut(&mut self, site: Site) -> &mut [Step] {
        self.steps.get_mut(&site).map(Vec::as_mut_slice).unwrap_or_default()
    }

    /// Puts `step` first among the steps at `site`.
    pub(crate) fn put_first(&mut self, site: Site, step: Step) {
        self.steps.entry(site).or_default().insert(0, step);
    }

    /// Replaces the steps at `site`, where there are any.
    pub(crate) fn replace(&mut self, site: Site, steps: Vec<Step>) {
        if let Some(old) = self.steps.get_mut(&site) {
            *old = steps;
        }
    }

    /// Rewrites the steps at `site`, one by one.
    pub(crate) fn rewrite(&mut self, site: Site, f: impl FnMut(Step) -> Step) {
        if let Some(steps) = self.steps.get_mut(&site) {
            *steps = std::mem::take(steps).into_iter().map(f).collect();
        }
    }

    /// Every step, with its site.
    pub(crate) fn all(&self) -> impl Iterator<Item = (Site, &Step)> {
        self.steps.iter().flat_map(|(&site, steps)| steps.iter().map(move |s| (site, s)))
    }

    /// Rewrites every step, dropping those `f` returns `None` for.
    pub(crate) fn rewrite_all(&mut self, mut f: impl FnMut(Site, Step) -> Option<Step>) {
        for (&site, steps) in self.steps.iter_mut() {
            *steps = std::mem::take(steps).into_iter().filter_map(|s| f(site, s)).collect();
        }
    }

    /// Whether `v`'s adjoint is kept negated (see `passes::signs`).
    pub(crate) fn is_negated(&self, v: ValueId) -> bool {
        self.negated.contains(&v)
    }

    /// Keeps the adjoints of `negated` negated: every contribution to them is negated.
    pub(crate) fn negate(&mut self, negated: HashSet<ValueId>) {
        for steps in self.steps.values_mut() {
            *steps = std::mem::take(steps)
                .into_iter()
                .map(|step| match step {
                    Step::Contribute { target, bind, expr } if negated.contains(&target) => {
                        Step::Contribute { target, bind, expr: Expr::Neg(Box::new(expr)) }
                    }
                    step => step,
                })
                .collect();
        }
        self.negated = negated;
    }

    /// Whether `v`'s adjoint is a reference to another's (see `passes::storage::aliases`).
    pub(crate) fn is_reference(&self, v: ValueId) -> bool {
        self.references.contains(&v)
    }

    pub(crate) fn set_reference(&mut self, v: ValueId) {
        self.references.insert(v);
    }

    /// Every read of an adjoint that is a reference reads the reference itself; a pullback given
    /// one clones it (it takes its own).
    pub(crate) fn read_references(&mut self) {
        let refs = &self.references;
        let unborrow = |o: &mut Operand| {
            if let Operand::Adjoint { v, borrow } = o {
                *borrow &= !refs.contains(v);
            }
        };
        for step in self.steps.values_mut().flatten() {
            match step {
                Step::Contribute { expr, .. } => expr.operands_mut(&mut |o| unborrow(o)),
                Step::Alias { g, .. } => unborrow(g),
                Step::Pullback { out, clone_g } => *clone_g = refs.contains(out),
                Step::Inverse(_) | Step::Zeros(_) | Step::Carry { .. } | Step::CarryBack { .. } => {}
            }
        }
    }
}

/// Builds the reverse program of `body` (with its arms and loop bodies; a closure has a plan and
/// program of its own) from its complete plan.
pub fn build(values: &[Value], body: &Body, p: &Plan) -> Program {
    let listed = &listed(values, body, p);
    let mut prog = Program::default();
    if let Some(ret) = body.ret.filter(|&r| values[r].active) {
        let mut b = Builder::new(p, Consumer::Seed);
        b.contribute(ret, Expr::Operand(Operand::Seed));
        prog.steps.insert(Site::Seed, b.steps);
    }
    walk(values, body, p, listed, &mut prog);
    prog
}

fn walk(values: &[Value], body: &Body, p: &Plan, listed: &Listed, prog: &mut Program) {
    for stmt in &body.stmts {
        match stmt {
            Stmt::Node(n) if p.participates(values, n.out) && p.started(n.out) => {
                prog.steps.insert(Site::Node(n.out), node(values, p, listed, n));
            }
            Stmt::Node(_) | Stmt::Effect { .. } => {}
            Stmt::Branch(b) => {
                if p.stmt_participates(values, stmt) {
                    prog.steps.insert(Site::Enter(b.tape), zeros(p, b.tape));
                    for (k, steps) in arms(values, p, b).into_iter().enumerate() {
                        prog.steps.insert(Site::Arm(b.tape, k), steps);
                    }
                }
                b.arms.iter().for_each(|arm| walk(values, &arm.body, p, listed, prog));
            }
            Stmt::Loop(l) => {
                if p.stmt_participates(values, stmt) {
                    carried(values, p, l, prog);
                }
                walk(values, &l.body, p, listed, prog);
            }
        }
    }
}

/// The steps of one consumer, which bind each adjoint the plan starts there at their first
/// contribution to it.
struct Builder<'p> {
    plan: &'p Plan,
    consumer: Consumer,
    /// The adjoints this consumer has bound.
    bound: Vec<ValueId>,
    steps: Vec<Step>,
}

impl<'p> Builder<'p> {
    fn new(plan: &'p Plan, consumer: Consumer) -> Self {
        Builder { plan, consumer, bound: Vec::new(), steps: Vec::new() }
    }

    /// `expr` added to `target`'s adjoint: bound by it where the plan starts the adjoint here
    /// and this is the first contribution to it, added in place otherwise (`passes::signs`
    /// negates it later where the adjoint is kept negated).
    fn contribute(&mut self, target: ValueId, expr: Expr) {
        let first = self.plan.binds(target, self.consumer) && !self.bound.contains(&target);
        if first {
            self.bound.push(target);
        }
        let bind = first.then(|| self.plan.contribs[target] > 1);
        self.steps.push(Step::Contribute { target, bind, expr });
    }
}

/// The adjoint of `v` read by reference (by `passes::storage::aliases`, the adjoint itself when
/// it is one already).
fn borrowed(v: ValueId) -> Operand {
    Operand::Adjoint { v, borrow: true }
}

/// The steps of a node's reverse pass: its rule's adjoints, its map's partials, or its call's
/// pullback.
fn node(values: &[Value], p: &Plan, listed: &Listed, node: &Node) -> Vec<Step> {
    let mut b = Builder::new(p, Consumer::Node(node.out));
    let (out, span) = (node.out, node.span);
    let listed = listed.get(&out).into_iter().flatten();
    match &node.op {
        Op::Rule { rule, args } => {
            // The inverse of the factorization its adjoints read, shared until `passes::share`
            // places it.
            let rules = contributed(values, args, p.adjoints(rule, out)).any(|(_, _, adj)| matches!(adj, Adj::Rule(_)));
            let reads_inverse = rules && rule.reads_inverse_with(p.identity[out]);
            let inverse = args.first().filter(|_| reads_inverse).map(|&f| InverseAt::Shared(f));
            for c in listed {
                if let Some(expr) = rule_expr(p, rule, args, out, c.slot, &c.via, inverse, span) {
                    b.contribute(c.target, expr);
                }
            }
        }
        Op::Map { .. } => {
            for c in listed {
                let (f, partial, g, by_value) = match c.via {
                    // (the map's adjoint, moved)
                    Via::FusedMap { tangent, map, borrow_partial } => (
                        "map_adj",
                        Operand::Partial { map: tangent, k: 1, borrow: borrow_partial },
                        Operand::Adjoint { v: map, borrow: false },
                        true,
                    ),
                    Via::Partial { of } => (
                        match of {
                            Of::Entry | Of::Second => "map_adj",
                            Of::Capture => "map_capture_adj",
                        },
                        Operand::Partial { map: out, k: c.slot, borrow: of == Of::Capture },
                        borrowed(out),
                        of == Of::Entry,
                    ),
                    _ => continue,
                };
                b.contribute(c.target, Expr::call_by_value(f, vec![partial, g], span, by_value));
            }
        }
        Op::Call { args, spans, .. } => {
            b.steps.push(Step::Pullback { out, clone_g: false });
            for (k, &a) in args.iter().enumerate().filter(|&(_, &a)| values[a].active) {
                let pulled = Operand::Pulled { out, k, span: spans[k] };
                b.contribute(a, Expr::call("gradient", vec![pulled], spans[k]));
            }
        }
        Op::Opaque { .. } => {}
    }
    b.steps
}

/// The contribution of rule node `out` (`rule` of `args`) through its operand `slot` (`None`
/// for a map's kinds, which a rule node does not list).
#[allow(clippy::too_many_arguments)]
fn rule_expr(
    p: &Plan,
    rule: &'static Rule,
    args: &[ValueId],
    out: ValueId,
    slot: usize,
    via: &Via,
    inverse: Option<InverseAt>,
    span: Span,
) -> Option<Expr> {
    let ty = symbol::adj_type_of(rule, args, slot);
    Some(match via {
        Via::TraceIdentity => Expr::call("trace_identity", vec![borrowed(out)], span),
        Via::Rule { f, owning } => {
            // (an `expect` message, past the rule's operands, is not passed)
            let operands = rule.adjoint_operands().into_iter().map(|k| args[k]);
            let mut reads: Vec<Operand> = operands.map(|v| Operand::Value { v, moved: false }).collect();
            reads.extend(rule.needs_out.then_some(Operand::Value { v: out, moved: false }));
            reads.extend(inverse.map(Operand::Inverse));
            // The product `P` of a left factor whose adjoint is kept as `s̄`.
            reads.extend(p.traced[out].map(|v| Operand::Value { v, moved: false }));
            reads.push(borrowed(out));
            Expr::call_by_value(f, reads, span, *owning)
        }
        Via::OfAdjoint(f) => {
            // The op's constant operands (indices) come first.
            let consts = args.iter().zip(p.adjoints(rule, out)).filter(|(_, adj)| **adj == Adj::Constant);
            let mut reads: Vec<Operand> = consts.map(|(&v, _)| Operand::Value { v, moved: false }).collect();
            reads.push(borrowed(out));
            Expr::call(f, reads, span).in_adjoint_type(ty)
        }
        // (moved instead of shared by the last pass, see `passes::storage::moves`)
        Via::Pass { neg } => Expr::Shared(borrowed(out)).in_adjoint_type(ty).negated(*neg),
        Via::Partial { .. } | Via::FusedMap { .. } => return None,
    })
}

/// The steps of rule node `n`'s reverse pass written again from the plan (once
/// `passes::identities` has changed which adjoints it takes, or its operands do).
pub(crate) fn node_steps(values: &[Value], p: &Plan, n: &Node) -> Vec<Step> {
    let Op::Rule { rule, args } = &n.op else { return Vec::new() };
    let listed = Listed::from([(n.out, node_contributions(values, p, rule, args, n.out))]);
    node(values, p, &listed, n)
}

/// The steps of each arm of branch `b`: the adjoints of the branch's outputs passed to the
/// arm's results.
fn arms(values: &[Value], p: &Plan, br: &Branch) -> Vec<Vec<Step>> {
    let arm = |arm: &crate::ir::Arm| {
        let mut b = Builder::new(p, Consumer::Arms(br.tape));
        for (j, &o) in br.outs.iter().enumerate() {
            let r = arm.results[j];
            if p.participates(values, o) && p.started(o) && values[r].active {
                b.contribute(r, Expr::Operand(Operand::Adjoint { v: o, borrow: false }));
            }
        }
        b.steps
    };
    br.arms.iter().map(arm).collect()
}

/// The adjoints the plan starts at zeros before the reverse pass of the branch or loop with
/// tape `tape` (see [`Start::Zeros`](super::Start::Zeros)).
fn zeros(p: &Plan, tape: ValueId) -> Vec<Step> {
    let targets = p.region_targets.get(&tape).into_iter().flatten();
    targets.filter(|&&t| p.start[t] == Some(super::Start::Zeros(tape))).map(|&t| Step::Zeros(t)).collect()
}

/// The steps of loop `l`'s reverse pass: before it, its zeros and carried adjoints (from the
/// adjoints of the values after the loop); at the start of each iteration, the carried adjoints
/// into the body's results; at its end, the carried adjoints taken from the values at the
/// iteration's start; after the loop, the carried adjoints into the values before it.
fn carried(values: &[Value], p: &Plan, l: &Loop, prog: &mut Program) {
    let taking_part = || l.carried.iter().filter(|c| p.carried_participates(values, c));
    let mut enter = zeros(p, l.tape);
    enter.extend(taking_part().map(|c| Step::Carry { out: c.out, from_adjoint: p.started(c.out) }));
    let mut seed = Builder::new(p, Consumer::LoopSeed(l.tape));
    for c in taking_part().filter(|c| values[c.result].active) {
        // The carried adjoint moves into the body's result when the iteration's sweep gives it
        // back (the value at the iteration's start has an adjoint); otherwise it is left at
        // zeros.
        let zeroed = !p.started(c.inner);
        seed.contribute(c.result, Expr::Operand(Operand::Carry { out: c.out, zeroed }));
    }
    let back = taking_part().filter(|c| p.started(c.inner)).map(|c| Step::CarryBack { out: c.out, inner: c.inner });
    let mut exit = Builder::new(p, Consumer::LoopExit(l.tape));
    for c in taking_part().filter(|c| p.participates(values, c.inner) && values[c.before].active) {
        exit.contribute(c.before, Expr::Operand(Operand::Carry { out: c.out, zeroed: false }));
    }
    prog.steps.insert(Site::Enter(l.tape), enter);
    prog.steps.insert(Site::IterationStart(l.tape), seed.steps);
    prog.steps.insert(Site::IterationEnd(l.tape), back.collect());
    prog.steps.insert(Site::Exit(l.tape), exit.steps);
}

/// Each rule or map node's contributions, by its output, in the sweep's order.
fn listed(values: &[Value], body: &Body, p: &Plan) -> Listed {
    let mut listed = Listed::new();
    contributions(values, body, p, &mut listed);
    listed
}

/// The contributions of each rule or map node taking part, by its output, in the sweep's order.
type Listed = std::collections::HashMap<ValueId, Vec<Contribution>>;

/// How a rule or map node's contribution reaches one operand's adjoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// `s̄`, to an operand whose adjoint `s̄ I` (or `s̄ Bᵀ`) is kept as `s̄` (see
    /// `Plan::identity`, `Plan::traced`).
    TraceIdentity,
    /// The adjoint rule `f` of the operands it reads (`Rule::adjoint_operands`), the output where
    /// the rule reads it, and Ḡ; `owning` when it is the last of the node's rules to read them and
    /// takes by value what it reads last (`Rule::owning`; see `passes::storage::moves`).
    Rule { f: &'static str, owning: bool },
    /// The rule `f` of Ḡ alone (and the op's constant operands).
    OfAdjoint(&'static str),
    /// Ḡ itself (moved by the last pass, see `passes::storage::moves`; borrowed as the
    /// operand's adjoint by a term of a sum that receives nothing else, see
    /// `passes::storage::aliases`); negated when `neg` (`Adj::PassNeg`; `passes::signs` drops
    /// the sign where the output's adjoint is kept negated).
    Pass { neg: bool },
    /// A map's stored partial (the contribution's `slot`) times Ḡ, entry by entry, for `of`.
    Partial { of: Of },
    /// The contribution of the map `map` fused with its tangent map `tangent` (see
    /// `Plan::fused`): the tangent map's partial for the tangent's entry (g′) times the map's
    /// adjoint, moved. Made by the tangent map, borrowing the partial before its own
    /// contributions move it (`borrow_partial`), or by the map when the tangent map has no
    /// adjoint.
    FusedMap { tangent: ValueId, map: ValueId, borrow_partial: bool },
}

/// What a map's partial is the derivative with respect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Of {
    /// The closure's parameter: the map's input.
    Entry,
    /// The entry of a `zip_map`'s second matrix.
    Second,
    /// A captured scalar: its adjoint sums the products over the entries.
    Capture,
}

/// One contribution of a node's reverse pass, to the value `target`: through the rule's operand
/// `slot`, or a map's stored partial `slot` (its input's, its second matrix's, its captures', in
/// that order, of those that are active).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    pub slot: usize,
    pub target: ValueId,
    pub via: Via,
}

/// Lists the contributions of every rule and map node of `body` (and of its arms and loop
/// bodies) that takes part, into `listed`.
fn contributions(values: &[Value], body: &Body, p: &Plan, listed: &mut Listed) {
    body.for_each_node(&mut |node| {
        if !p.participates(values, node.out) {
            return;
        }
        let list = match &node.op {
            Op::Rule { rule, args } => node_contributions(values, p, rule, args, node.out),
            Op::Map { input, closure } => map_contributions(values, p, node.out, *input, closure),
            Op::Call { .. } | Op::Opaque { .. } => return,
        };
        listed.insert(node.out, list);
    });
}

/// The contributions of map node `out` (of `input`): its partials times Ḡ, the captures' first
/// so that the entry's, last, moves Ḡ; of a map fused with its tangent map (see `Plan::fused`),
/// the map's own contribution where the tangent map makes it or, when that has no adjoint, the
/// map does.
fn map_contributions(values: &[Value], p: &Plan, out: ValueId, input: ValueId, closure: &Closure) -> Vec<Contribution> {
    let fused = |tangent, map, borrow_partial| Contribution {
        slot: 0,
        target: input,
        via: Via::FusedMap { tangent, map, borrow_partial },
    };
    // The map of a fused pair: the tangent map's partial is its derivative.
    if let Some(t) = p.fused_tangent(out, closure) {
        return match p.started(t) {
            true => Vec::new(),
            false => vec![fused(t, out, false)],
        };
    }
    let mut list: Vec<Contribution> =
        p.fused[out].filter(|&a| p.started(a)).map(|a| fused(out, a, true)).into_iter().collect();
    let mut partials: Vec<(usize, ValueId)> = closure.partials(values).into_iter().enumerate().collect();
    partials.rotate_left(usize::from(values[closure.param].active));
    for (k, v) in partials {
        let (target, of) = match closure.second {
            _ if v == closure.param => (input, Of::Entry),
            Some((other, b)) if b == v => (other, Of::Second),
            _ => (outer_of(values, v), Of::Capture),
        };
        list.push(Contribution { slot: k, target, via: Via::Partial { of } });
    }
    list
}

/// The contributions of rule node `out` (`rule` of `args`), in the order the sweep makes them:
/// those that read Ḡ first (the last of them may take what it reads last by value), then those
/// that pass Ḡ through.
fn node_contributions(
    values: &[Value],
    p: &Plan,
    rule: &'static Rule,
    args: &[ValueId],
    out: ValueId,
) -> Vec<Contribution> {
    let adjs = p.adjoints(rule, out);
    let active: Vec<(usize, ValueId)> =
        crate::reverse::contributed(values, args, adjs).map(|(k, a, _)| (k, a)).collect();
    let passes = active.iter().filter(|&&(k, _)| matches!(adjs[k], Adj::Pass | Adj::PassNeg)).count();
    let mut rules_left = active.len() - passes;
    let reads_g = |k: usize| matches!(adjs[k], Adj::Rule(_) | Adj::OfAdjoint(_));
    let ordered = active.iter().filter(|&&(k, _)| reads_g(k)).chain(active.iter().filter(|&&(k, _)| !reads_g(k)));
    let mut list = Vec::new();
    for &(k, arg) in ordered {
        let via = match adjs[k] {
            Adj::Rule(_)
                if (rule.seeds_identity && p.identity[arg])
                    || (k == 0 && rule.seeds_traced_lhs && p.traced[arg] == Some(out)) =>
            {
                rules_left -= 1;
                Via::TraceIdentity
            }
            Adj::Rule(f) => {
                rules_left -= 1;
                // The last rule reading the values may take the dead ones by value (`owning` is a
                // property of the rule's own adjoints, `adj`).
                Via::Rule { f, owning: rules_left == 0 && rule.owning && std::ptr::eq(adjs, rule.adj) }
            }
            Adj::OfAdjoint(f) => {
                rules_left -= 1;
                Via::OfAdjoint(f)
            }
            Adj::Pass | Adj::PassNeg => Via::Pass { neg: adjs[k] == Adj::PassNeg },
            Adj::Constant => continue,
        };
        list.push(Contribution { slot: k, target: arg, via });
    }
    list
}
