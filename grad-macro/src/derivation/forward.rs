//! The forward pass of the derivation: names, definitions and scalars of the values, the
//! forward listing, and each `map` closure's derivative.

use crate::ir::{outer_of, Body, Branch, Closure, Head, Loop, Node, Op, Stmt, ValueId};
use crate::passes;
use crate::symbol::{Adj, Out, Rule};

use super::sweep::both;
use super::text::{self, fill, Shown};
use super::{value_template, Deriv, Term, LONGEST};

impl Deriv<'_> {
    pub(super) fn forward(&mut self, body: &Body, depth: usize) {
        for stmt in &body.stmts {
            match stmt {
                Stmt::Node(n) => self.forward_node(n, depth),
                Stmt::Effect { .. } => {}
                Stmt::Branch(b) => self.forward_branch(b, depth),
                Stmt::Loop(l) => self.forward_loop(l, depth),
            }
        }
    }

    pub(super) fn forward_node(&mut self, n: &Node, depth: usize) {
        let (sym, exp, scalar) = match &n.op {
            Op::Rule { rule, args } => self.rule_value(rule, args, n.out),
            Op::Map { input, closure } => self.map_value(*input, closure),
            Op::Opaque { tokens, .. } if crate::desugar::is_placeholder(tokens) => {
                let t = "(none yet: set where the function returns)".to_string();
                (t.clone(), t, None)
            }
            Op::Opaque { tokens, .. } => {
                let t = text::tokens(tokens, &self.idents);
                // A cast to a float is a scalar (`(i + 1) as f64`).
                let scalar = (t.ends_with("as f64") || t.ends_with("as f32")).then_some(true);
                (t.clone(), t, scalar)
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
            // Conditions written with the value's identifier show its short name too.
            self.idents.insert(self.values[out].ident.to_string(), short.clone());
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
    pub(super) fn rule_value(&self, rule: &Rule, args: &[ValueId], out: ValueId) -> (String, String, Option<bool>) {
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
    pub(super) fn map_value(&mut self, input: ValueId, closure: &Closure) -> (String, String, Option<bool>) {
        let count = self.closure_names.len() + 1;
        let g = if count == 1 { "g".to_string() } else { format!("g{}", text::subscript(count)) };
        self.closure_names.insert(closure.param, g.clone());
        self.closure(&g, closure);
        (format!("{g}({})", self.names[input]), format!("{g}({})", self.exp[input]), Some(false))
    }

    pub(super) fn forward_branch(&mut self, b: &Branch, depth: usize) {
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
    pub(super) fn out_name(&mut self, o: ValueId) -> String {
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

    pub(super) fn arm_head(&self, b: &Branch, k: usize) -> String {
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

    pub(super) fn forward_loop(&mut self, l: &Loop, depth: usize) {
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

    pub(super) fn loop_head(&self, l: &Loop) -> String {
        format!("{} in {}", text::tokens(&l.pat, &self.idents), text::tokens(&l.iter, &self.idents))
    }

    // ----- map closures -----

    /// Writes the derivative of closure `g` among the closures: its sweep on scalars, then
    /// `g′(v)` and `∂g/∂s` for each differentiated capture `s`.
    pub(super) fn closure(&mut self, g: &str, closure: &Closure) {
        let saved_plan = std::mem::replace(&mut self.plan, passes::reverse(self.values, &closure.body));
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
}
