//! Planning the reverse sweep: which ops take part (activity), how many contributions each
//! adjoint receives and where it starts (bound by the first, the rest accumulated in place, or
//! zeros before the branch or loop whose reverse pass first adds to it), and which map runs as
//! one pass with its tangent map.
//! The [`Plan`] it builds is what `emit` prints from, once `passes::reverse` has run the passes
//! over it in order: [`program`] writes the sweep from the plan as the steps `emit` prints; then
//! passes rewrite them in turn: `passes::identities` (which adjoints `s̄ I` are kept as the
//! scalar `s̄`, decided from the counts), `passes::share::inverses` (one inverse of each
//! factorization for every rule that reads it), `passes::storage` (what the sweep reads, read off the program,
//! and from that the forward pass's moves), `passes::signs` (which adjoints are kept negated),
//! and `passes::storage` again (which adjoint borrows another's, `aliases`; what each step
//! moves, `moves`).
//!
//! Control flow: a value computed in an arm or a loop body reaches the result only through the
//! statement's outputs, so a branch or loop takes part when one of its outputs does. A loop's
//! carried value takes part when its value after the loop does, or when its value at the start
//! of an iteration does (the previous iteration's result then does): that is a fixed point.

use crate::ir::{outer_of, Body, Kind, Op, Stmt, Value, ValueId};
use crate::symbol::{Adj, Rule};

pub mod program;

pub struct Plan {
    /// The key of the planned body (the function's): its values live until the end.
    pub root: usize,
    /// The value reaches the body's result (reverse activity).
    pub useful: Vec<bool>,
    /// How many contributions the value's adjoint receives.
    pub contribs: Vec<usize>,
    /// Where the value's adjoint starts (`None`: it receives nothing, and does not exist).
    pub start: Vec<Option<Start>>,
    /// The reverse pass reads the value (read off the reverse program,
    /// `passes::storage::reverse_reads`).
    pub rev_needed: Vec<bool>,
    /// The statement that reads the value last in the forward pass, in the body that defines
    /// it: `(body key, index)`; an arm's results and a loop's carried values count as read
    /// after its last statement.
    pub last_use: Vec<Option<(usize, usize)>>,
    /// Some statement reads the value (forward or reverse).
    pub read: Vec<bool>,
    /// The body that defines each value.
    pub def: Vec<usize>,
    /// For a forward value the reverse sweep reads: the node (by its output) whose steps of the
    /// reverse program read it last, where it may be moved into them (never a parameter or the
    /// result).
    /// [`BLOCKED`] when the last reader is something else (a call's pullback, a rule in a
    /// branch or loop the value is defined outside of, the zeros an adjoint starts from).
    pub last_reader: Vec<Option<ValueId>>,
    /// The value is read by a trace alone and its op has adjoints of a scaled identity: its
    /// adjoint `s̄ I` is kept as the scalar `s̄` (see `Rule::of_identity`; decided by
    /// `passes::identities`).
    pub identity: Vec<bool>,
    /// The value is the left factor of the product `P` (the value here) whose adjoint `s̄ I` is
    /// kept as `s̄`, nothing else contributes to it, and its op has adjoints for that: its
    /// adjoint `s̄ Bᵀ` is kept as `s̄`, and its op's adjoints read `P` (see
    /// `Rule::of_traced_lhs`).
    pub traced: Vec<Option<ValueId>>,
    /// For a branch or loop taking part (by its tape): the values defined outside it that its
    /// reverse pass adds to, whose adjoints must exist before it.
    pub region_targets: std::collections::HashMap<ValueId, Vec<ValueId>>,
    /// A map `a = x.map(g)` and, right after it, its tangent `ȧ = x.zip_map(&ẋ, ġ)` (forward
    /// mode: the latter's `value_of` is `a`), that run as one pass: for each of the two, the
    /// other's output. Either neither takes part in the reverse sweep, or both do with partials
    /// for their entries alone: the map's derivative g′ is then the tangent map's partial for
    /// the tangent's entry (∂ġ/∂ẋ = g′), not computed again.
    pub fused: Vec<Option<ValueId>>,
    /// The terms of sums (each with its sum), whose adjoints may borrow the sum's
    /// (`passes::storage::aliases`).
    pub(crate) terms: Vec<(ValueId, ValueId)>,
    /// The forward pass's moves: for each node (by its output), which of the values it reads
    /// (a rule's or call's operands; a map's input and second matrix) it takes by value
    /// (decided by `passes::storage`).
    pub(crate) forward_moves: std::collections::HashMap<ValueId, Vec<bool>>,
    /// The reverse sweep's contributions, as the steps of each consumer (see
    /// [`program::Program`]), written and rewritten by `passes::reverse`: what `emit` prints.
    pub program: program::Program,
}

/// What makes contributions to adjoints in the reverse sweep.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Consumer {
    /// The seed of the body's result.
    Seed,
    /// The node with this output (its adjoint rules, its pullback, or its map's partials).
    Node(ValueId),
    /// The branch with this tape: each arm passes the branch's outputs' adjoints to its results.
    Arms(ValueId),
    /// The loop with this tape, at the start of each iteration's reverse pass: the carried
    /// adjoints seed the body's results.
    LoopSeed(ValueId),
    /// The loop with this tape, after its reverse pass: the carried adjoints reach the values
    /// before the loop.
    LoopExit(ValueId),
}

/// Where an adjoint starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Start {
    /// Bound by the first contribution of this consumer (the sweep's first contribution to it).
    At(Consumer),
    /// Zeros before the reverse pass of the branch or loop with this tape, whose contributions
    /// to it, inside an arm or a loop body, cannot bind it.
    Zeros(ValueId),
}

impl Plan {
    /// For the map `out` (closure `closure`) fused with its tangent map (see [`Plan::fused`]):
    /// the tangent map's output (`None` for the tangent map itself, whose closure is the
    /// tangent's).
    pub fn fused_tangent(&self, out: ValueId, closure: &crate::ir::Closure) -> Option<ValueId> {
        self.fused[out].filter(|_| closure.value_of.is_none())
    }

    /// Whether value `v`'s adjoint exists in the sweep (some contribution reaches it).
    pub fn started(&self, v: ValueId) -> bool {
        self.start[v].is_some()
    }

    /// Whether the forward pass's node `out` takes the `k`-th value it reads by value (see
    /// [`Plan::forward_moves`]).
    pub fn moves(&self, out: ValueId, k: usize) -> bool {
        self.forward_moves.get(&out).is_some_and(|m| m[k])
    }

    /// Whether `consumer`'s first contribution to `v` binds `v`'s adjoint.
    pub fn binds(&self, v: ValueId, consumer: Consumer) -> bool {
        self.start[v] == Some(Start::At(consumer))
    }

    /// Records a contribution to `v` by `consumer`, in the order the sweep makes them.
    fn contribute(&mut self, v: ValueId, consumer: Consumer) {
        self.contribs[v] += 1;
        self.start[v].get_or_insert(Start::At(consumer));
    }

    /// The adjoints node `out` (rule `rule`) contributes by: those for `Ḡ = s̄ I` or for
    /// `Ḡ = s̄ Bᵀ` given `P = A B` when the plan keeps its adjoint as `s̄`, else the rule's own.
    pub fn adjoints(&self, rule: &'static Rule, out: ValueId) -> &'static [Adj] {
        if self.identity[out] {
            rule.of_identity
        } else if self.traced[out].is_some() {
            rule.of_traced_lhs
        } else {
            rule.adj
        }
    }

    /// Whether value `v` takes part in the reverse sweep.
    pub fn participates(&self, values: &[Value], v: ValueId) -> bool {
        values[v].active && self.useful[v]
    }

    /// Whether a branch or loop statement has a reverse pass.
    pub fn stmt_participates(&self, values: &[Value], stmt: &Stmt) -> bool {
        match stmt {
            Stmt::Branch(b) => b.outs.iter().any(|&o| self.participates(values, o)),
            Stmt::Loop(l) => l.carried.iter().any(|c| self.carried_participates(values, c)),
            Stmt::Node(n) => self.participates(values, n.out),
            Stmt::Effect { .. } => false,
        }
    }

    pub fn carried_participates(&self, values: &[Value], c: &crate::ir::Carried) -> bool {
        self.participates(values, c.out) || self.participates(values, c.inner)
    }

    /// The adjoint contributions made inside `stmt` (a branch or loop) to values defined
    /// outside it: their adjoints must exist before its reverse pass.
    pub(crate) fn outer_targets(&self, values: &[Value], stmt: &Stmt) -> Vec<ValueId> {
        let mut inside = Vec::new();
        stmt.defines(&mut inside);
        let mut targets = Vec::new();
        self.targets(values, stmt, false, &mut targets);
        targets.retain(|t| !inside.contains(t));
        targets.sort_unstable();
        targets.dedup();
        targets
    }

    /// The values `stmt`'s reverse pass contributes to. A loop's adds to its carried values'
    /// values before it after its own sweep, outside its region, but inside an enclosing one
    /// (`nested`).
    fn targets(&self, values: &[Value], stmt: &Stmt, nested: bool, out: &mut Vec<ValueId>) {
        let active = |v: ValueId| values[v].active;
        match stmt {
            Stmt::Node(n) if self.participates(values, n.out) => out.extend(node_targets(values, &n.op)),
            Stmt::Node(_) | Stmt::Effect { .. } => {}
            Stmt::Branch(b) => {
                for (j, &o) in b.outs.iter().enumerate() {
                    if self.participates(values, o) {
                        out.extend(b.arms.iter().map(|a| a.results[j]).filter(|&r| active(r)));
                    }
                }
                for arm in &b.arms {
                    arm.body.stmts.iter().for_each(|s| self.targets(values, s, true, out));
                }
            }
            Stmt::Loop(l) => {
                for c in &l.carried {
                    if self.carried_participates(values, c) && active(c.result) {
                        out.push(c.result);
                    }
                    if nested && self.participates(values, c.inner) && active(c.before) {
                        out.push(c.before);
                    }
                }
                l.body.stmts.iter().for_each(|s| self.targets(values, s, true, out));
            }
        }
    }
}

/// The operands of a rule node (`args`, adjoints `adjs`) that its reverse pass contributes to:
/// the active ones whose adjoint is not constant, as `(operand index, value, adjoint)`. What the
/// sweep counts (here) and what it lists and prints (`passes::storage`) both come from it.
pub(crate) fn contributed<'a>(
    values: &'a [Value],
    args: &'a [ValueId],
    adjs: &'a [Adj],
) -> impl Iterator<Item = (usize, ValueId, Adj)> + 'a {
    args.iter()
        .zip(adjs)
        .enumerate()
        .filter(|&(_, (&a, &adj))| values[a].active && adj != Adj::Constant)
        .map(|(k, (&a, &adj))| (k, a, adj))
}

/// The values a participating node's reverse pass contributes to.
fn node_targets(values: &[Value], op: &Op) -> Vec<ValueId> {
    let active = |v: &ValueId| values[*v].active;
    match op {
        Op::Rule { rule, args } => contributed(values, args, rule.adj).map(|(_, a, _)| a).collect(),
        Op::Map { input, closure } => {
            let outer = closure.captures.iter().map(|&c| outer_of(values, c));
            let second = closure.second.map(|(y, _)| y);
            std::iter::once(*input).chain(second).chain(outer).filter(active).collect()
        }
        Op::Call { args, .. } => args.iter().copied().filter(active).collect(),
        Op::Opaque { .. } => Vec::new(),
    }
}

/// Plans the reverse sweep of `body`, whose result's adjoint is seeded: activity, the counts,
/// where each adjoint starts, the fused maps. The passes (`passes::reverse`) do the rest.
pub fn plan(values: &[Value], body: &Body) -> Plan {
    let n = values.len();
    let mut p = Plan {
        root: body.key(),
        useful: vec![false; n],
        contribs: vec![0; n],
        start: vec![None; n],
        rev_needed: vec![false; n],
        last_use: vec![None; n],
        read: vec![false; n],
        def: vec![body.key(); n],
        last_reader: vec![None; n],
        identity: vec![false; n],
        traced: vec![None; n],
        region_targets: Default::default(),
        fused: vec![None; n],
        terms: Vec::new(),
        forward_moves: Default::default(),
        program: Default::default(),
    };
    define(body, &mut p.def);
    if let Some(ret) = body.ret {
        p.useful[ret] = true;
        p.read[ret] = true;
        if values[ret].active {
            p.contribute(ret, Consumer::Seed);
        }
    }
    while mark_useful(values, body, &mut p) {}
    count(values, body, &mut p);
    fuse(values, body, &mut p);
    p
}

/// Marks the maps of `body` (and of its arms and loop bodies) that run as one pass with their
/// tangent map (see [`Plan::fused`]).
fn fuse(values: &[Value], body: &Body, p: &mut Plan) {
    let inactive = |vs: &[ValueId]| vs.iter().all(|&v| !values[v].active);
    for pair in body.stmts.windows(2) {
        let (Stmt::Node(a), Stmt::Node(t)) = (&pair[0], &pair[1]) else { continue };
        let (Op::Map { input: x, closure: g }, Op::Map { input: tx, closure: tg }) = (&a.op, &t.op) else { continue };
        let paired = tg.value_of.is_some_and(|(v, _)| v == a.out) && x == tx && g.second.is_none() && g.at.is_none();
        let ok = match (p.participates(values, a.out), p.participates(values, t.out)) {
            (false, false) => true,
            (true, true) => {
                values[g.param].active
                    && inactive(&g.captures)
                    && values[tg.param].active
                    && tg.second.is_some_and(|(_, b)| values[b].active)
                    && inactive(&tg.captures)
            }
            _ => false,
        };
        if paired && ok {
            p.fused[a.out] = Some(t.out);
            p.fused[t.out] = Some(a.out);
        }
    }
    for stmt in &body.stmts {
        match stmt {
            Stmt::Branch(b) => b.arms.iter().for_each(|arm| fuse(values, &arm.body, p)),
            Stmt::Loop(l) => fuse(values, &l.body, p),
            Stmt::Node(_) | Stmt::Effect { .. } => {}
        }
    }
}

fn define(body: &Body, def: &mut [usize]) {
    for &v in &body.own() {
        def[v] = body.key();
    }
    for stmt in &body.stmts {
        match stmt {
            Stmt::Branch(b) => b.arms.iter().for_each(|a| define(&a.body, def)),
            Stmt::Loop(l) => define(&l.body, def),
            Stmt::Node(_) | Stmt::Effect { .. } => {}
        }
    }
}

fn set(flag: &mut bool) -> bool {
    !std::mem::replace(flag, true)
}

/// One backward pass marking what reaches the result; whether anything changed.
fn mark_useful(values: &[Value], body: &Body, p: &mut Plan) -> bool {
    let mut changed = false;
    for stmt in body.stmts.iter().rev() {
        match stmt {
            Stmt::Node(node) => {
                if p.participates(values, node.out) {
                    for t in node_targets(values, &node.op) {
                        changed |= set(&mut p.useful[t]);
                    }
                }
            }
            Stmt::Effect { .. } => {}
            Stmt::Branch(b) => {
                for (j, &o) in b.outs.iter().enumerate() {
                    if p.participates(values, o) {
                        for arm in &b.arms {
                            changed |= set(&mut p.useful[arm.results[j]]);
                        }
                    }
                }
                for arm in &b.arms {
                    changed |= mark_useful(values, &arm.body, p);
                }
            }
            Stmt::Loop(l) => {
                for c in &l.carried {
                    if p.carried_participates(values, c) {
                        changed |= set(&mut p.useful[c.result]);
                    }
                }
                changed |= mark_useful(values, &l.body, p);
                for c in &l.carried {
                    if p.participates(values, c.inner) {
                        changed |= set(&mut p.useful[c.before]);
                    }
                }
            }
        }
    }
    changed
}

/// Counts contributions, visiting statements last to first as the reverse sweep runs them (so
/// that where an adjoint starts is its first contribution in the sweep), with the terms of sums
/// (`Plan::terms`).
fn count(values: &[Value], body: &Body, p: &mut Plan) {
    for stmt in body.stmts.iter().rev() {
        match stmt {
            Stmt::Node(node) => {
                if !p.participates(values, node.out) {
                    continue;
                }
                for t in node_targets(values, &node.op) {
                    p.contribute(t, Consumer::Node(node.out));
                }
                match &node.op {
                    Op::Rule { rule, args } => {
                        let active: Vec<(ValueId, Adj)> =
                            contributed(values, args, rule.adj).map(|(_, a, adj)| (a, adj)).collect();
                        let passed: Vec<ValueId> =
                            active.iter().filter(|&&(_, adj)| adj == Adj::Pass).map(|&(a, _)| a).collect();
                        if passed.len() > 1 && node_out_only(values, body, &passed) {
                            p.terms.extend(passed.iter().map(|&a| (a, node.out)));
                        }
                    }
                    Op::Call { .. } | Op::Map { .. } | Op::Opaque { .. } => {}
                }
            }
            Stmt::Effect { .. } => {}
            Stmt::Branch(b) => {
                if !p.stmt_participates(values, stmt) {
                    continue;
                }
                zeros_before(values, stmt, b.tape, p);
                for (j, &o) in b.outs.iter().enumerate() {
                    if p.participates(values, o) {
                        for arm in &b.arms {
                            if values[arm.results[j]].active {
                                p.contribute(arm.results[j], Consumer::Arms(b.tape));
                            }
                        }
                    }
                }
                for arm in &b.arms {
                    count(values, &arm.body, p);
                }
                region_targets(values, stmt, b.tape, p);
            }
            Stmt::Loop(l) => {
                if !p.stmt_participates(values, stmt) {
                    continue;
                }
                zeros_before(values, stmt, l.tape, p);
                for c in &l.carried {
                    if p.carried_participates(values, c) && values[c.result].active {
                        p.contribute(c.result, Consumer::LoopSeed(l.tape));
                    }
                }
                count(values, &l.body, p);
                for c in &l.carried {
                    if p.participates(values, c.inner) && values[c.before].active {
                        p.contribute(c.before, Consumer::LoopExit(l.tape));
                    }
                }
                region_targets(values, stmt, l.tape, p);
            }
        }
    }
}

/// Records the outer values the reverse pass of region `stmt` (with tape `tape`) adds to: those
/// whose adjoints start there start at zeros made from them (`Start::Zeros`, read there, see
/// `passes::storage::reverse_reads`).
fn region_targets(values: &[Value], stmt: &Stmt, tape: ValueId, p: &mut Plan) {
    let targets = p.outer_targets(values, stmt);
    p.region_targets.insert(tape, targets);
}

/// A last reader that may not move the value (see [`Plan::last_reader`]).
pub const BLOCKED: ValueId = usize::MAX;

/// Starts at zeros, before the reverse pass of `stmt` (a branch or loop with tape `tape`), the
/// adjoints of values outside it that its contributions reach first: inside an arm or a loop
/// body, a contribution cannot bind an adjoint that lives on after it.
fn zeros_before(values: &[Value], stmt: &Stmt, tape: ValueId, p: &mut Plan) {
    for t in p.outer_targets(values, stmt) {
        p.start[t].get_or_insert(Start::Zeros(tape));
    }
}

/// Whether every value of `vs` is the output of a node of `body` (not a parameter, a pattern's
/// binding, a loop's carried value or a branch's output, whose adjoints region code assigns).
fn node_out_only(values: &[Value], body: &Body, vs: &[ValueId]) -> bool {
    vs.iter().all(|&v| matches!(values[v].kind, Kind::Node) && body_nodes(body).any(|out| out == v))
}

fn body_nodes(body: &Body) -> impl Iterator<Item = ValueId> + '_ {
    body.stmts.iter().filter_map(|s| if let Stmt::Node(n) = s { Some(n.out) } else { None })
}
