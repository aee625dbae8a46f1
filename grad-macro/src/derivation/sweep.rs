//! The reverse sweep of the derivation: one line per adjoint in reverse order, each
//! contribution written with symbols and substituted; branches as cases, loops as sums.

use crate::ir::{outer_of, Body, Branch, Closure, Head, Loop, Node, Op, Stmt, ValueId};
use crate::symbol::{Adj, Rule};

use super::text::{self, fill, Shown};
use super::{Deriv, Region, Term, LONGEST};

impl Deriv<'_> {
    pub(super) fn sweep(&mut self, body: &Body, depth: usize) {
        for stmt in body.stmts.iter().rev() {
            match stmt {
                Stmt::Node(n) if self.participates(n.out) => self.sweep_node(n, depth),
                Stmt::Branch(b) if b.outs.iter().any(|&o| self.participates(o)) => self.sweep_branch(b, depth),
                Stmt::Loop(l) if l.carried.iter().any(|c| self.plan.carried_participates(self.values, c)) => {
                    self.sweep_loop(l, depth)
                }
                _ => {}
            }
        }
    }

    pub(super) fn adjoint_symbol(&self, v: ValueId) -> String {
        format!("∂{}/∂{}", self.prefix, self.names[v])
    }

    pub(super) fn take(&mut self, v: ValueId) -> Term {
        let terms = std::mem::take(&mut self.contribs[v]);
        if terms.is_empty() {
            return Term::same("0");
        }
        let sym: Vec<String> = terms.iter().map(|t| t.sym.clone()).collect();
        let exp: Vec<String> = terms.iter().map(|t| t.exp.clone()).collect();
        Term { sym: sum(&sym), exp: sum(&exp) }
    }

    /// Writes the line of `v`'s adjoint and returns it for its uses: substituted when it has
    /// one use, by its symbol otherwise.
    pub(super) fn finish(&mut self, v: ValueId, uses: usize, depth: usize) -> Term {
        let is_seed = self.seeds.contains(&v);
        let t = self.take(v);
        let symbol = self.adjoint_symbol(v);
        if !is_seed {
            self.line(depth, format!("{symbol} = {}", t.sym));
        }
        // Inside a closure every adjoint is substituted: g′ is written in closed form.
        let short = t.exp.len() <= LONGEST;
        let exp = match short && (uses == 1 || is_seed || self.prefix != "f" || !text::compound(&t.exp)) {
            true => t.exp,
            false => {
                self.kept.push((symbol.clone(), t.exp));
                symbol.clone()
            }
        };
        Term { sym: if is_seed { t.sym } else { symbol }, exp }
    }

    pub(super) fn finish_param(&mut self, v: ValueId) -> Term {
        let t = self.take(v);
        self.line(1, format!("{} = {}", self.adjoint_symbol(v), t.sym));
        t
    }

    /// A contribution to `v`'s adjoint: kept for the region it escapes from, if any.
    pub(super) fn add(&mut self, v: ValueId, t: Term) {
        match self.regions.last_mut() {
            Some(r) if !r.inside.contains(&v) => r.escapes.push((v, t)),
            _ => self.contribs[v].push(t),
        }
    }

    pub(super) fn sweep_node(&mut self, n: &Node, depth: usize) {
        let targets = self.targets(&n.op);
        let g = self.finish(n.out, targets, depth);
        match &n.op {
            Op::Rule { rule, args } => self.sweep_rule(rule, args, n.out, &g),
            Op::Map { input, closure } => self.sweep_map(*input, closure, &g),
            Op::Call { func, args, .. } => {
                let f = quote::ToTokens::to_token_stream(func).to_string().replace(' ', "");
                for &a in args.iter().filter(|&&a| self.values[a].active) {
                    let name = self.names[a].clone();
                    let call = |g: &str| format!("(∂{f}/∂{name})ᵀ[{g}]");
                    self.add(a, Term { sym: call(&g.sym), exp: call(&g.exp) });
                }
            }
            Op::Opaque { .. } => {}
        }
    }

    /// How many contributions the node's adjoint makes.
    pub(super) fn targets(&self, op: &Op) -> usize {
        let active = |v: &&ValueId| self.values[**v].active;
        match op {
            Op::Rule { rule, args } => {
                args.iter().zip(rule.adj).filter(|(a, adj)| active(a) && **adj != Adj::Constant).count()
            }
            Op::Map { input, closure } => {
                usize::from(self.values[*input].active) + closure.captures.iter().filter(active).count()
            }
            Op::Call { args, .. } => args.iter().filter(active).count(),
            Op::Opaque { .. } => 0,
        }
    }

    pub(super) fn sweep_rule(&mut self, rule: &Rule, args: &[ValueId], out: ValueId, g: &Term) {
        let y = self.shown(out);
        let y_exp = self.shown_exp(out);
        let sym: Vec<Shown> = args.iter().map(|&a| self.shown(a)).collect();
        let exp: Vec<Shown> = args.iter().map(|&a| self.shown_exp(a)).collect();
        let gs = Shown::new(g.sym.clone(), self.scalar[out]);
        let ge = Shown::new(g.exp.clone(), self.scalar[out]);
        for (k, (&a, adj)) in args.iter().zip(rule.adj).enumerate() {
            if !self.values[a].active || *adj == Adj::Constant {
                continue;
            }
            let broadcast = self.scalar[a] == Some(true) && self.scalar[out] != Some(true);
            let tpl = adjoint_template(rule, k, broadcast);
            let t = Term { sym: fill(&tpl, &sym, &gs, &y), exp: fill(&tpl, &exp, &ge, &y_exp) };
            self.add(a, t);
        }
    }

    pub(super) fn sweep_map(&mut self, input: ValueId, closure: &Closure, g: &Term) {
        let name = self.closure_names.get(&closure.param).cloned().unwrap_or_else(|| "g".to_string());
        let (x, xe) = (self.names[input].clone(), self.exp[input].clone());
        let wrap = |t: &str| if text::compound(t) { format!("({t})") } else { t.to_string() };
        if self.values[input].active {
            let t = Term {
                sym: format!("{} ⊙ {name}′({x})", wrap(&g.sym)),
                exp: format!("{} ⊙ {name}′({xe})", wrap(&g.exp)),
            };
            self.add(input, t);
        }
        for &c in closure.captures.iter().filter(|&&c| self.values[c].active) {
            let s = self.names[c].clone();
            let t = Term {
                sym: format!("⟨{}, ∂{name}/∂{s}({x})⟩", g.sym),
                exp: format!("⟨{}, ∂{name}/∂{s}({xe})⟩", g.exp),
            };
            self.add(outer_of(self.values, c), t);
        }
    }

    pub(super) fn enter(&mut self, inside: Vec<ValueId>) {
        self.regions.push(Region { inside, escapes: Vec::new() });
    }

    pub(super) fn leave(&mut self) -> Vec<(ValueId, Term)> {
        self.regions.pop().map(|r| r.escapes).unwrap_or_default()
    }

    pub(super) fn sweep_branch(&mut self, b: &Branch, depth: usize) {
        let adj: Vec<Option<Term>> =
            b.outs.iter().map(|&o| self.participates(o).then(|| self.finish(o, 1, depth))).collect();
        let mut per_arm: Vec<Vec<(ValueId, Term)>> = Vec::new();
        for (k, arm) in b.arms.iter().enumerate() {
            let head = self.arm_head(b, k);
            self.line(depth, format!("{head}:"));
            let mut inside = Vec::new();
            arm.body.defines(&mut inside);
            self.enter(inside);
            for (&r, t) in arm.results.iter().zip(&adj) {
                if let Some(t) = t.as_ref().filter(|_| self.values[r].active) {
                    self.add(r, t.clone());
                }
            }
            self.sweep(&arm.body, depth + 1);
            let escapes = self.leave();
            self.write_escapes(&escapes, depth + 1);
            per_arm.push(escapes);
        }
        let heads: Vec<String> = (0..b.arms.len()).map(|k| self.case_head(b, k)).collect();
        for v in escaped(&per_arm) {
            let pick = |sel: fn(&Term) -> &String| {
                let cases: Vec<String> =
                    per_arm.iter().zip(&heads).map(|(esc, head)| format!("{} {head}", sum_of(esc, v, sel))).collect();
                format!("({})", cases.join("; "))
            };
            let t = Term { sym: pick(|t| &t.sym), exp: pick(|t| &t.exp) };
            self.add(v, t);
        }
    }

    /// How a case of a branch reads: `if c`, `otherwise`.
    pub(super) fn case_head(&self, b: &Branch, k: usize) -> String {
        match &b.head {
            Head::If { conds } if k < conds.len() => format!("if {}", text::tokens(&conds[k], &self.idents)),
            Head::If { .. } => "otherwise".to_string(),
            Head::Match { pats, .. } if pats.get(k).is_some_and(|p| p.to_string() == "_") => "otherwise".to_string(),
            Head::Match { scrutinee, pats } => format!(
                "when {} is {}",
                text::tokens(scrutinee, &self.idents),
                pats.get(k).map(|p| text::tokens(p, &self.idents)).unwrap_or_default()
            ),
        }
    }

    /// The contributions a branch arm or loop body makes to values outside it.
    pub(super) fn write_escapes(&mut self, escapes: &[(ValueId, Term)], depth: usize) {
        for (v, t) in escapes {
            self.line(depth, format!("{} += {}", self.adjoint_symbol(*v), t.sym));
        }
    }

    pub(super) fn sweep_loop(&mut self, l: &Loop, depth: usize) {
        let mut next = Vec::new();
        for c in &l.carried {
            if self.plan.carried_participates(self.values, c) {
                let out = self.participates(c.out).then(|| self.finish(c.out, 1, depth));
                next.push((c, out));
            }
        }
        self.line(depth, format!("for {}, from the last iteration to the first:", self.loop_head(l)));
        let mut inside = Vec::new();
        l.body.defines(&mut inside);
        self.enter(inside);
        for (c, out) in &next {
            let inner = self.adjoint_symbol(c.inner);
            let after = out.as_ref().map_or("0".to_string(), |t| t.sym.clone());
            self.line(depth + 1, format!("({inner})ₙₑₓₜ = {inner} of the next iteration ({after} after the last)"));
            if self.values[c.result].active {
                self.add(c.result, Term::same(&format!("({inner})ₙₑₓₜ")));
            }
        }
        self.sweep(&l.body, depth + 1);
        for (c, _) in &next {
            if self.values[c.inner].active {
                self.finish(c.inner, 1, depth + 1);
            }
        }
        let escapes = self.leave();
        self.write_escapes(&escapes, depth + 1);
        let over = self.loop_head(l);
        for v in escaped(std::slice::from_ref(&escapes)) {
            let sum = |sel: fn(&Term) -> &String| format!("Σ_{{{over}}} ({})", sum_of(&escapes, v, sel));
            let t = Term { sym: sum(|t| &t.sym), exp: sum(|t| &t.exp) };
            self.add(v, t);
        }
        for (c, _) in &next {
            if self.values[c.before].active && self.values[c.inner].active {
                let first = format!("({}) at the first iteration", self.adjoint_symbol(c.inner));
                self.add(c.before, Term::same(&first));
            }
        }
    }
}

/// A closure's derivative: as the sweep wrote it, then substituted when that differs.
pub(super) fn both(t: &Term) -> String {
    match t.sym == t.exp {
        true => t.exp.clone(),
        false => format!("{} = {}", t.sym, t.exp),
    }
}

/// `a + b`; `2a` for `a + a`.
fn sum(terms: &[String]) -> String {
    if terms.len() > 1 && terms.iter().all(|t| *t == terms[0]) {
        let one = Shown::new(terms[0].clone(), None);
        return fill(&format!("{}$0", terms.len()), &[one], &Shown::new("", None), &Shown::new("", None));
    }
    join_terms(terms.iter().map(String::as_str))
}

/// `a + b`, and `a − b` for a term `−b` (its sign applies to its first factor, so `a + −b c` is
/// `a − b c`).
fn join_terms<'t>(terms: impl Iterator<Item = &'t str>) -> String {
    let mut out = String::new();
    for (k, t) in terms.enumerate() {
        match (k, t.strip_prefix('−')) {
            (0, _) => out.push_str(t),
            (_, Some(rest)) => out.push_str(&format!(" − {rest}")),
            (_, None) => out.push_str(&format!(" + {t}")),
        }
    }
    out
}

/// The values a region's contributions reach, in order of first contribution.
fn escaped(per_arm: &[Vec<(ValueId, Term)>]) -> Vec<ValueId> {
    let mut vs: Vec<ValueId> = Vec::new();
    for (v, _) in per_arm.iter().flatten() {
        if !vs.contains(v) {
            vs.push(*v);
        }
    }
    vs
}

/// The sum of the contributions to `v` among `escapes` (0 when there is none).
fn sum_of(escapes: &[(ValueId, Term)], v: ValueId, sel: fn(&Term) -> &String) -> String {
    let terms: Vec<&str> = escapes.iter().filter(|(w, _)| *w == v).map(|(_, t)| sel(t).as_str()).collect();
    match terms.as_slice() {
        [] => "0".to_string(),
        ts => join_terms(ts.iter().copied()),
    }
}

/// Operand `k`'s contribution template: the broadcast form when the operand is a scalar and
/// the value a matrix.
fn adjoint_template(rule: &Rule, k: usize, broadcast: bool) -> String {
    let note = &rule.note;
    match (note.broadcast.get(k), note.adj.get(k)) {
        (Some(b), _) if broadcast && !b.is_empty() => b.to_string(),
        (_, Some(a)) => a.to_string(),
        _ => format!("(∂{}/∂operand {k})ᵀ[{{g}}]", rule.name),
    }
}
