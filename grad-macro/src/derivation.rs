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

mod forward;
mod sweep;
mod text;

use std::collections::HashMap;

use crate::check::{Class, Signature};
use crate::ir::{Kind, Value, ValueId};
use crate::lower::Lowered;
use crate::passes;
use crate::reverse::Plan;
use crate::symbol::Rule;
use text::Shown;

/// The derivation of `name`'s gradients (see the module documentation).
pub fn derivation(sig: &Signature, low: &Lowered, name: &str) -> String {
    if low.values.len() > LARGEST {
        return format!("The derivation is not written out for a body this large ({} values).\n", low.values.len());
    }
    let plan = passes::reverse(&low.values, &low.body);
    let mut d = Deriv::new(sig, low, plan);
    let params: Vec<String> = sig.params.iter().map(|p| p.ident.to_string()).collect();
    // A struct parameter's gradient is its fields': those the body differentiates (the others'
    // are 0).
    let wrt: Vec<ValueId> = sig
        .wrt
        .iter()
        .flat_map(|&i| {
            let of_param = low.fields.iter().filter(|f| f.param == i).map(|f| f.value);
            match of_param.filter(|&v| d.participates(v)).collect::<Vec<_>>() {
                fields if fields.is_empty() => vec![low.params[i]],
                fields => fields,
            }
        })
        .collect();
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
        d.name_fields(sig, low);
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

    /// A field of a struct parameter is shown by its path, as written: `p.w1`.
    fn name_fields(&mut self, sig: &Signature, low: &Lowered) {
        for f in &low.fields {
            let mut name = sig.params[f.param].ident.to_string();
            for m in &f.path {
                name += &format!(".{}", quote::ToTokens::to_token_stream(m));
            }
            self.idents.insert(self.values[f.value].ident.to_string(), name.clone());
            self.names[f.value] = name.clone();
            self.exp[f.value] = name;
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
}

/// The op's value template; by its name when the rule has no notation.
fn value_template(rule: &Rule) -> String {
    if !rule.note.value.is_empty() {
        return rule.note.value.to_string();
    }
    let args: Vec<String> = (1..rule.adj.len()).map(|k| format!("{{{k}}}")).collect();
    format!("{{0}}.{}({})", rule.name, args.join(", "))
}

/// The user's name in a generated identifier: `z_12` is `z`; a flag of an early exit has a
/// name saying what it holds (`returned`, `looping`).
fn user_name(ident: &str) -> String {
    let base = match ident.rsplit_once('_') {
        Some((base, n)) if !base.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => base,
        _ => ident,
    };
    crate::desugar::shown_name(base).unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests;
