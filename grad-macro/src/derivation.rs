//! The derivation text: what the reverse sweep computes, written in the seeds' notation with the
//! user's names, for the rustdoc of `_grad`/`_vjp` and `<name>_derivation()`. A printing stage
//! that reads the lowered IR and the reverse plan and changes nothing.
//!
//! Input:
//! ```ignore
//! #[differentiate(wrt(w))]
//! fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
//!     let z = x * w;
//!     let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
//!     (a - y).norm_squared()
//! }
//! ```
//! Output (in part):
//! ```text
//! Adjoints, in reverse order:
//!   ∂f/∂t₁ = 2t₁
//!   ∂f/∂a = ∂f/∂t₁
//!   ∂f/∂z = ∂f/∂a ⊙ g′(z)
//!   ∂f/∂w = xᵀ ∂f/∂z
//! Gradients, each adjoint used once substituted back:
//!   ∂f/∂w = xᵀ (2(a − y) ⊙ g′(z))
//! ```
//! Every contribution is written twice: with the adjoints' symbols (the listing) and with them
//! substituted (the gradients). A branch's contributions to values outside it are written as
//! cases, a loop's as a sum over its iterations.

mod text;

use std::collections::HashMap;

use crate::check::{Class, Signature};
use crate::ir::{outer_of, Body, Branch, Closure, Head, Kind, Loop, Node, Op, Stmt, Value, ValueId};
use crate::lower::Lowered;
use crate::reverse::{self, Plan};
use crate::symbol::{Adj, Out, Rule};
use text::{fill, Shown};

/// The derivation of `name`'s gradients (see the module documentation).
pub fn derivation(sig: &Signature, low: &Lowered, name: &str) -> String {
    if low.values.len() > LARGEST {
        return format!("The derivation is not written out for a body this large ({} values).\n", low.values.len());
    }
    let plan = reverse::plan(&low.values, &low.body);
    let mut d = Deriv::new(sig, low, plan);
    let params: Vec<String> = sig.params.iter().map(|p| p.ident.to_string()).collect();
    let wrt: Vec<ValueId> = sig.wrt.iter().map(|&i| low.params[i]).collect();
    let wrt_names: Vec<String> = wrt.iter().map(|&w| d.names[w].clone()).collect();
    let seed = if sig.ret_is_matrix { "Ḡ" } else { "1" };
    let mut out = match sig.ret_is_matrix {
        true => format!(
            "F = {name}({0}) and f = ⟨Ḡ, F⟩ for the adjoint Ḡ of the value; ∂f/∂v is the adjoint of v.\n",
            params.join(", ")
        ),
        false => format!("f = {name}({}); ∂f/∂v is the adjoint of v.\n", params.join(", ")),
    };
    if let Some(ret) = low.body.ret {
        d.seed_names.insert(ret, if sig.ret_is_matrix { "F" } else { "f" }.to_string());
    }
    d.forward(&low.body, 1);
    out += "\nForward pass:\n";
    out += &std::mem::take(&mut d.lines).concat();
    if let Some(ret) = low.body.ret {
        if d.values[ret].active {
            d.seeds.push(ret);
            d.add(ret, Term::same(seed));
        }
    }
    d.sweep(&low.body, 1);
    let grads: Vec<Term> = wrt.iter().map(|&w| d.finish_param(w)).collect();
    if !d.closures.is_empty() {
        out += "\nThe derivatives of the closures (by the same rules, on scalars):\n";
        out += &std::mem::take(&mut d.closures).concat();
    }
    out += "\nAdjoints, in reverse order:\n";
    out += &d.lines.concat();
    out += "\nGradients, each adjoint used once substituted back:\n";
    for (n, g) in wrt_names.iter().zip(&grads) {
        out += &format!("  ∂f/∂{n} = {}\n", g.exp);
    }
    let exps: Vec<String> = grads.into_iter().map(|g| g.exp).collect();
    for (symbol, exp) in wheres(&d.kept, exps) {
        out += &format!("  where {symbol} = {exp}\n");
    }
    out
}

/// The kept adjoints the gradients read, directly or through one another, in sweep order.
fn wheres(kept: &[(String, String)], read: Vec<String>) -> Vec<(String, String)> {
    let mut mentioned = std::collections::HashSet::new();
    read.iter().for_each(|r| symbols(r, &mut mentioned));
    let mut chosen = vec![false; kept.len()];
    for k in (0..kept.len()).rev() {
        if mentioned.contains(kept[k].0.as_str()) {
            chosen[k] = true;
            symbols(&kept[k].1, &mut mentioned);
        }
    }
    kept.iter().zip(chosen).filter(|(_, c)| *c).map(|(k, _)| k.clone()).collect()
}

/// The adjoint symbols `∂f/∂name` in `text`.
fn symbols<'t>(text: &'t str, out: &mut std::collections::HashSet<&'t str>) {
    for (at, _) in text.match_indices("∂f/∂") {
        let rest = &text[at + "∂f/∂".len()..];
        let len: usize =
            rest.chars().take_while(|c| c.is_alphanumeric() || "₀₁₂₃₄₅₆₇₈₉_′".contains(*c)).map(char::len_utf8).sum();
        out.insert(&text[at..at + "∂f/∂".len() + len]);
    }
}

/// Bodies with more values get no derivation text (it would not be read, and costs time).
const LARGEST: usize = 400;

/// Longer substituted forms are not written out: the symbol or short name stands for them.
const LONGEST: usize = 160;

/// A contribution to an adjoint: with the symbols of other adjoints, and with those used once
/// substituted.
#[derive(Clone, Debug)]
struct Term {
    sym: String,
    exp: String,
}

impl Term {
    fn same(text: &str) -> Term {
        Term { sym: text.to_string(), exp: text.to_string() }
    }
}

/// A branch or loop being swept: the values defined inside, and the contributions made to
/// values outside.
struct Region {
    inside: Vec<ValueId>,
    escapes: Vec<(ValueId, Term)>,
}

struct Deriv<'a> {
    values: &'a [Value],
    plan: Plan,
    /// What the text shows for each value: its name, a short name, or its definition.
    names: Vec<String>,
    /// The value with the unnamed intermediates written out.
    exp: Vec<String>,
    scalar: Vec<Option<bool>>,
    /// Generated identifiers to names, for renamed tokens.
    idents: HashMap<String, String>,
    contribs: Vec<Vec<Term>>,
    regions: Vec<Region>,
    /// The name of each `map` closure (by its parameter), `g`, `g₂`, …
    closure_names: HashMap<ValueId, String>,
    /// The adjoint prefix: `f` for the function, a closure's name inside it.
    prefix: String,
    short: usize,
    /// The values whose adjoint is seeded (the function's, each closure's), with the names
    /// of those the user did not name (`f`, `g(v)`).
    seeds: Vec<ValueId>,
    seed_names: HashMap<ValueId, String>,
    /// Adjoints with several uses, left as symbols in the gradients, with their substituted forms.
    kept: Vec<(String, String)>,
    lines: Vec<String>,
    closures: Vec<String>,
}

impl<'a> Deriv<'a> {
    fn new(sig: &Signature, low: &'a Lowered, plan: Plan) -> Self {
        let n = low.values.len();
        let mut d = Deriv {
            values: &low.values,
            plan,
            names: vec![String::new(); n],
            exp: vec![String::new(); n],
            scalar: vec![None; n],
            idents: HashMap::new(),
            contribs: vec![Vec::new(); n],
            regions: Vec::new(),
            closure_names: HashMap::new(),
            prefix: "f".to_string(),
            short: 0,
            seeds: Vec::new(),
            seed_names: HashMap::new(),
            kept: Vec::new(),
            lines: Vec::new(),
            closures: Vec::new(),
        };
        for (p, &v) in sig.params.iter().zip(&low.params) {
            d.scalar[v] = match p.class {
                Class::Float => Some(true),
                Class::Matrix => Some(false),
                _ => None,
            };
        }
        d.name_values();
        d
    }

    /// Names every value: a user's name once as written, again with a subscript (`h`, `h₁`: a
    /// shadowed or reassigned variable), a constant by its text. Unnamed nodes are named as the
    /// forward pass reaches them.
    fn name_values(&mut self) {
        let mut count: HashMap<String, usize> = HashMap::new();
        for (v, value) in self.values.iter().enumerate() {
            let name = match &value.kind {
                Kind::Inline(t) => {
                    let t = text::tokens(t, &self.idents);
                    if t.parse::<f64>().is_ok() {
                        self.scalar[v] = Some(true);
                    }
                    t
                }
                Kind::Capture { outer, .. } => self.names[*outer].clone(),
                _ if !value.named => continue,
                _ => {
                    let ident = value.ident.to_string();
                    let param = matches!(value.kind, Kind::Param { .. });
                    let base = if param { ident } else { user_name(&ident) };
                    let k = count.entry(base.clone()).or_insert(0);
                    *k += 1;
                    match *k {
                        1 => base,
                        k => format!("{base}{}", text::subscript(k - 1)),
                    }
                }
            };
            self.idents.insert(value.ident.to_string(), name.clone());
            self.names[v] = name.clone();
            self.exp[v] = name;
        }
    }

    fn participates(&self, v: ValueId) -> bool {
        self.plan.participates(self.values, v)
    }

    fn shown(&self, v: ValueId) -> Shown {
        Shown::new(self.names[v].clone(), self.scalar[v])
    }

    fn shown_exp(&self, v: ValueId) -> Shown {
        Shown::new(self.exp[v].clone(), self.scalar[v])
    }

    fn line(&mut self, depth: usize, text: String) {
        self.lines.push(format!("{}{text}\n", "  ".repeat(depth)));
    }

    // ----- the forward pass: names, definitions, scalars -----

    fn forward(&mut self, body: &Body, depth: usize) {
        for stmt in &body.stmts {
            match stmt {
                Stmt::Node(n) => self.forward_node(n, depth),
                Stmt::Effect { .. } => {}
                Stmt::Branch(b) => self.forward_branch(b, depth),
                Stmt::Loop(l) => self.forward_loop(l, depth),
            }
        }
    }

    fn forward_node(&mut self, n: &Node, depth: usize) {
        let (sym, exp, scalar) = match &n.op {
            Op::Rule { rule, args } => self.rule_value(rule, args, n.out),
            Op::Map { input, closure } => self.map_value(*input, closure, n.out),
            Op::Opaque { tokens, .. } => {
                let t = text::tokens(tokens, &self.idents);
                (t.clone(), t, None)
            }
            Op::Call { func, args, .. } => {
                let f = quote::ToTokens::to_token_stream(func).to_string().replace(' ', "");
                let sym: Vec<String> = args.iter().map(|&a| self.names[a].clone()).collect();
                let exp: Vec<String> = args.iter().map(|&a| self.exp[a].clone()).collect();
                (format!("{f}({})", sym.join(", ")), format!("{f}({})", exp.join(", ")), None)
            }
        };
        self.scalar[n.out] = scalar;
        let out = n.out;
        if self.values[out].named {
            self.line(depth, format!("{} = {sym}", self.names[out]));
        } else if let Some(name) = self.seed_names.get(&out).cloned() {
            self.line(depth, format!("{name} = {sym}"));
            self.exp[out] = if exp.len() <= LONGEST { exp } else { name.clone() };
            self.names[out] = name;
            return;
        } else if self.participates(out) {
            self.short += 1;
            let short = format!("t{}", text::subscript(self.short));
            self.line(depth, format!("{short} = {sym}"));
            self.exp[out] = if exp.len() <= LONGEST { exp } else { short.clone() };
            self.names[out] = short;
            return;
        } else {
            self.names[out] = sym;
        }
        if !self.values[out].named {
            self.exp[out] = if exp.len() <= LONGEST { exp } else { self.names[out].clone() };
        }
        self.idents.insert(self.values[out].ident.to_string(), self.names[out].clone());
    }

    /// An op's value, with names and written out, and whether it is a scalar.
    fn rule_value(&self, rule: &Rule, args: &[ValueId], out: ValueId) -> (String, String, Option<bool>) {
        let operands: Vec<ValueId> = args
            .iter()
            .zip(rule.adj.iter().chain(std::iter::repeat(&Adj::Constant)))
            .filter(|(_, a)| **a != Adj::Constant)
            .map(|(&v, _)| v)
            .collect();
        let scalar = match rule.note.out {
            Out::Scalar => Some(true),
            Out::Like if operands.iter().any(|&v| self.scalar[v] == Some(false)) => Some(false),
            Out::Like if operands.iter().all(|&v| self.scalar[v] == Some(true)) => Some(true),
            Out::Like => None,
        };
        let none = Shown::new("", None);
        let y = Shown::new(self.names[out].clone(), scalar);
        let value = value_template(rule);
        let sym: Vec<Shown> = args.iter().map(|&a| self.shown(a)).collect();
        let exp: Vec<Shown> = args.iter().map(|&a| self.shown_exp(a)).collect();
        (fill(&value, &sym, &none, &y), fill(&value, &exp, &none, &y), scalar)
    }

    /// `input.map(|v| …)`: the closure named `g` (`g₂`, … for later ones), its definition and
    /// its derivative written among the closures.
    fn map_value(&mut self, input: ValueId, closure: &Closure, out: ValueId) -> (String, String, Option<bool>) {
        let count = self.closure_names.len() + 1;
        let g = if count == 1 { "g".to_string() } else { format!("g{}", text::subscript(count)) };
        self.closure_names.insert(closure.param, g.clone());
        self.closure(&g, closure);
        let _ = out;
        (format!("{g}({})", self.names[input]), format!("{g}({})", self.exp[input]), Some(false))
    }

    fn forward_branch(&mut self, b: &Branch, depth: usize) {
        for (k, arm) in b.arms.iter().enumerate() {
            let head = self.arm_head(b, k);
            self.line(depth, format!("{head}:"));
            self.forward(&arm.body, depth + 1);
            for (&o, &r) in b.outs.iter().zip(&arm.results) {
                self.scalar[o] = self.scalar[o].or(self.scalar[r]);
                let o = self.out_name(o);
                self.line(depth + 1, format!("{o} = {}", self.names[r]));
            }
        }
    }

    /// A branch's or loop's output: the user's name, or a short one.
    fn out_name(&mut self, o: ValueId) -> String {
        if let Some(name) = self.seed_names.get(&o).filter(|_| self.names[o].is_empty()) {
            self.names[o] = name.clone();
            self.exp[o] = name.clone();
        }
        if self.names[o].is_empty() {
            self.short += 1;
            self.names[o] = format!("t{}", text::subscript(self.short));
            self.exp[o] = self.names[o].clone();
        }
        self.names[o].clone()
    }

    fn arm_head(&self, b: &Branch, k: usize) -> String {
        match &b.head {
            Head::If { conds } if k < conds.len() => {
                let word = if k == 0 { "if" } else { "else if" };
                format!("{word} {}", text::tokens(&conds[k], &self.idents))
            }
            Head::If { .. } => "else".to_string(),
            Head::Match { scrutinee, pats } => format!(
                "when {} is {}",
                text::tokens(scrutinee, &self.idents),
                pats.get(k).map(|p| text::tokens(p, &self.idents)).unwrap_or_default()
            ),
        }
    }

    fn forward_loop(&mut self, l: &Loop, depth: usize) {
        for c in &l.carried {
            self.scalar[c.inner] = self.scalar[c.before];
            self.scalar[c.out] = self.scalar[c.before];
        }
        self.line(depth, format!("for {}:", self.loop_head(l)));
        for c in &l.carried {
            let (i, b) = (self.names[c.inner].clone(), self.names[c.before].clone());
            self.line(depth + 1, format!("{i} = {b} at the first iteration, then the previous iteration's last {i}"));
        }
        self.forward(&l.body, depth + 1);
        for c in &l.carried {
            let o = self.out_name(c.out);
            self.line(depth, format!("{o} = {} of the last iteration", self.names[c.result]));
        }
    }

    fn loop_head(&self, l: &Loop) -> String {
        format!("{} in {}", text::tokens(&l.pat, &self.idents), text::tokens(&l.iter, &self.idents))
    }

    // ----- map closures -----

    /// Writes the derivative of closure `g` among the closures: its sweep on scalars, then
    /// `g′(v)` and `∂g/∂s` for each differentiated capture `s`.
    fn closure(&mut self, g: &str, closure: &Closure) {
        let saved_plan = std::mem::replace(&mut self.plan, reverse::plan(self.values, &closure.body));
        let saved_prefix = std::mem::replace(&mut self.prefix, g.to_string());
        let saved_lines = std::mem::take(&mut self.lines);
        let p = closure.param;
        self.scalar[p] = Some(true);
        for &c in &closure.captures {
            self.scalar[c] = self.scalar[outer_of(self.values, c)];
        }
        let v = self.names[p].clone();
        let ret = closure.body.ret;
        if let Some(r) = ret.filter(|&r| !self.values[r].named) {
            self.seed_names.insert(r, format!("{g}({v})"));
        }
        self.forward(&closure.body, 2);
        let forward = std::mem::take(&mut self.lines);
        let def = ret.map(|r| self.exp[r].clone()).unwrap_or_default();
        let mut text = vec![format!("  {g}({v}) = {def}, applied entrywise\n")];
        if forward.len() > 1 {
            text.extend(forward);
        }
        if let Some(r) = ret.filter(|&r| self.values[r].active) {
            self.seeds.push(r);
            self.add(r, Term::same("1"));
        }
        self.sweep(&closure.body, 2);
        text.append(&mut self.lines);
        if self.values[p].active {
            let d = self.take(p);
            text.push(format!("  {g}′({v}) = {}\n", both(&d)));
        }
        for &c in &closure.captures {
            if self.values[c].active {
                let d = self.take(c);
                text.push(format!("  ∂{g}/∂{}({v}) = {}\n", self.names[c], both(&d)));
            }
        }
        self.closures.extend(text);
        self.lines = saved_lines;
        self.prefix = saved_prefix;
        self.plan = saved_plan;
    }

    // ----- the reverse sweep -----

    fn sweep(&mut self, body: &Body, depth: usize) {
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

    fn adjoint_symbol(&self, v: ValueId) -> String {
        format!("∂{}/∂{}", self.prefix, self.names[v])
    }

    fn take(&mut self, v: ValueId) -> Term {
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
    fn finish(&mut self, v: ValueId, uses: usize, depth: usize) -> Term {
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

    fn finish_param(&mut self, v: ValueId) -> Term {
        let t = self.take(v);
        self.line(1, format!("{} = {}", self.adjoint_symbol(v), t.sym));
        t
    }

    /// A contribution to `v`'s adjoint: kept for the region it escapes from, if any.
    fn add(&mut self, v: ValueId, t: Term) {
        match self.regions.last_mut() {
            Some(r) if !r.inside.contains(&v) => r.escapes.push((v, t)),
            _ => self.contribs[v].push(t),
        }
    }

    fn sweep_node(&mut self, n: &Node, depth: usize) {
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
    fn targets(&self, op: &Op) -> usize {
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

    fn sweep_rule(&mut self, rule: &Rule, args: &[ValueId], out: ValueId, g: &Term) {
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

    fn sweep_map(&mut self, input: ValueId, closure: &Closure, g: &Term) {
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

    fn enter(&mut self, inside: Vec<ValueId>) {
        self.regions.push(Region { inside, escapes: Vec::new() });
    }

    fn leave(&mut self) -> Vec<(ValueId, Term)> {
        self.regions.pop().map(|r| r.escapes).unwrap_or_default()
    }

    fn sweep_branch(&mut self, b: &Branch, depth: usize) {
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
    fn case_head(&self, b: &Branch, k: usize) -> String {
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
    fn write_escapes(&mut self, escapes: &[(ValueId, Term)], depth: usize) {
        for (v, t) in escapes {
            self.line(depth, format!("{} += {}", self.adjoint_symbol(*v), t.sym));
        }
    }

    fn sweep_loop(&mut self, l: &Loop, depth: usize) {
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
fn both(t: &Term) -> String {
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
    terms.join(" + ")
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
        ts => ts.join(" + "),
    }
}

/// The op's value template; by its name when the rule has no notation.
fn value_template(rule: &Rule) -> String {
    if !rule.note.value.is_empty() {
        return rule.note.value.to_string();
    }
    let args: Vec<String> = (1..rule.adj.len()).map(|k| format!("{{{k}}}")).collect();
    format!("{{0}}.{}({})", rule.name, args.join(", "))
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

/// The user's name in a generated identifier: `z_12` is `z`.
fn user_name(ident: &str) -> String {
    match ident.rsplit_once('_') {
        Some((base, n)) if !base.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => base.to_string(),
        _ => ident.to_string(),
    }
}

#[cfg(test)]
mod tests;
