//! The notation of the derivation text: filling a rule's template ([`crate::symbol::Note`]) and
//! writing renamed tokens (conditions, constants) with the user's names.

use std::collections::HashMap;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

#[cfg(test)]
mod tests;

/// An expression as text, with whether it is known to be a scalar.
#[derive(Clone, Debug)]
pub struct Shown {
    pub text: String,
    pub scalar: Option<bool>,
}

impl Shown {
    pub fn new(text: impl Into<String>, scalar: Option<bool>) -> Self {
        Shown { text: text.into(), scalar }
    }
}

/// Whether `text` needs parentheses as an operand: a space outside brackets (every binary
/// operator and a product are written with one) or a leading minus.
pub fn compound(text: &str) -> bool {
    text.starts_with('−') || has_top_level(text, |c| c == ' ')
}

fn has_top_level(text: &str, hit: impl Fn(char) -> bool) -> bool {
    let (mut depth, mut norm, mut abs) = (0i32, false, false);
    for c in text.chars() {
        match c {
            '(' | '[' | '⟨' | '{' => depth += 1,
            ')' | ']' | '⟩' | '}' => depth -= 1,
            '‖' => norm = !norm,
            '|' => abs = !abs,
            c if depth == 0 && !norm && !abs && hit(c) => return true,
            _ => {}
        }
    }
    false
}

/// Whether a postfix (`ᵀ`, `²`, `⁻¹`) may follow `text` without parentheses.
fn takes_postfix(text: &str) -> bool {
    !compound(text) && !text.contains('/') && !text.starts_with('∂')
}

fn is_postfix(c: char) -> bool {
    matches!(c, 'ᵀ' | '²' | '⁻' | '^')
}

/// A seed of 1 is not written as a factor: `2 ḡ x` with `ḡ = 1` is `2x`.
fn drop_unit_seed(tpl: &str) -> String {
    let mut t = tpl.to_string();
    for g in ["$g", "{g}"] {
        // An inner product keeps its 1: ⟨X, 1⟩ is the sum of X's entries.
        t = t.replace(&format!("⟨{g}, "), "⟨1, ").replace(&format!(", {g}⟩"), ", 1⟩");
        t = t.replace(&format!("{g} / "), "1 / ");
        t = t.replace(&format!("{g} ⊙ "), "");
        t = t.replace(&format!("{g} "), "");
        t = t.replace(&format!(" {g}"), "");
        t = t.replace(g, "1");
    }
    match t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) if !has_top_level(inner, |c| c == ')') && balanced(inner) => inner.to_string(),
        _ => t,
    }
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return false,
            ')' => depth -= 1,
            _ => {}
        }
    }
    depth == 0
}

/// Fills `tpl` (see [`crate::symbol::Note`]) with the operands `ops`, the adjoint `g` of the
/// op's value and the value `y`.
pub fn fill(tpl: &str, ops: &[Shown], g: &Shown, y: &Shown) -> String {
    let tpl = if g.text == "1" { drop_unit_seed(tpl) } else { tpl.to_string() };
    let chars: Vec<char> = tpl.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        let braced = c == '{' && chars.get(i + 2) == Some(&'}');
        let slot = match next {
            Some('g') => Some(g),
            Some('y') => Some(y),
            Some(d) if d.is_ascii_digit() => ops.get(d as usize - '0' as usize),
            _ => None,
        };
        match slot {
            Some(s) if c == '$' || braced => {
                let start = i;
                i += if braced { 3 } else { 2 };
                let after = chars.get(i).copied();
                // A scalar's transpose is itself, and so is a transpose's transpose.
                let untranspose = s.scalar == Some(true) || takes_postfix(&s.text) && s.text.ends_with('ᵀ');
                if after == Some('ᵀ') && untranspose {
                    let text = s.text.strip_suffix('ᵀ').filter(|_| s.scalar != Some(true)).unwrap_or(&s.text);
                    i += 1;
                    // The whole template: nothing around it to bind to.
                    let alone = start == 0 && i == chars.len();
                    put(&mut out, &Shown::new(text, s.scalar), c == '$' && !alone, &chars[i..], true);
                } else {
                    let alone = start == 0 && i == chars.len();
                    put(&mut out, s, c == '$' && !alone, &chars[i..], false);
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Appends `s` to `out`, parenthesised when `wrap` allows and the context needs it.
/// `rest` is the template after the slot; `untransposed` when a transpose after it was dropped.
fn put(out: &mut String, s: &Shown, wrap: bool, rest: &[char], untransposed: bool) {
    let text = s.text.as_str();
    let after = if untransposed { None } else { rest.first().copied() };
    // −(−x) is x, and −((−x) y) is x y.
    if out.ends_with('−') && text.starts_with('−') && !compound(&text['−'.len_utf8()..]) {
        out.pop();
        out.push_str(&text['−'.len_utf8()..]);
        return;
    }
    if out.ends_with('−') {
        if let Some(product) = negated_product(text) {
            out.pop();
            out.push_str(&product);
            return;
        }
    }
    let before_digit = out.chars().last().is_some_and(|c| c.is_ascii_digit());
    let postfix = after.is_some_and(|c| is_postfix(c) && !(c == 'ᵀ' && s.scalar == Some(true)));
    // In a sum, only a sum (or a negation) needs parentheses.
    let in_sum = out.ends_with(" − ") || out.ends_with(" + ");
    let sum = text.starts_with('−') || has_top_level(text, |c| c == '+' || c == '−');
    // A product inside a product needs none either: (A B) C is A B C.
    let in_product = !postfix && juxtaposed_at(out, rest) && pure_product(text);
    let parens = wrap
        && ((compound(text) && !(in_sum && !sum && !postfix) && !in_product)
            || (postfix && !takes_postfix(text))
            || (before_digit && text.starts_with(|c: char| c.is_ascii_digit())));
    if !parens && wrap && hoist(out, text) {
        return;
    }
    // `A 2B` that cannot be `2A B` (A starts with a number) is `A (2B)`.
    let juxtaposed = out.ends_with(' ') && !out.trim_end().ends_with(|c: char| "+−⊙⊘/=,;".contains(c));
    let parens = parens || (wrap && juxtaposed && text.starts_with(|c: char| c.is_ascii_digit()) && !is_number(text));
    if before_digit && text.starts_with('∂') {
        out.push(' ');
    }
    if parens {
        out.push('(');
        out.push_str(text);
        out.push(')');
    } else {
        out.push_str(text);
    }
}

/// `(−x) y` as `x y` (parenthesised as needed), for a minus in front of it.
fn negated_product(text: &str) -> Option<String> {
    let inner = text.strip_prefix("(−")?;
    let mut depth = 1i32;
    let close = inner.char_indices().find_map(|(i, c)| {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        (depth == 0).then_some(i)
    })?;
    let (x, rest) = (&inner[..close], &inner[close + 1..]);
    let sum = |t: &str| has_top_level(t, |c| c == '+' || c == '−');
    if sum(x) || sum(rest) || !rest.starts_with(' ') {
        return None;
    }
    Some(if compound(x) { format!("({x}){rest}") } else { format!("{x}{rest}") })
}

/// Whether a factor placed at the end of `out`, followed by `after`, is juxtaposed with another.
fn juxtaposed_at(out: &str, rest: &[char]) -> bool {
    let before = out.is_empty()
        || out.ends_with(' ')
            && out.trim_end().ends_with(|c: char| c.is_alphanumeric() || "ᵀ)′⟩]₀₁₂₃₄₅₆₇₈₉".contains(c));
    let after = match rest {
        [] => true,
        [' ', next, ..] => !"+−⊙⊘/=,;·⟩)]".contains(*next),
        _ => false,
    };
    before && after
}

/// Whether `text` is factors side by side (`a bᵀ c`), none an operator (`Σ`, `ln`, `tr`).
fn pure_product(text: &str) -> bool {
    const PREFIX: &[&str] =
        &["ln", "det", "tr", "max", "min", "mean", "Σ", "Σⱼ", "Σᵢⱼ", "√", "lse", "softmax", "U", "1ᵀ"];
    let mut factors = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '⟨' | '{' => depth += 1,
            ')' | ']' | '⟩' | '}' => depth -= 1,
            ' ' if depth == 0 => {
                factors.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    factors.push(&text[start..]);
    let factor = |f: &str| {
        f.starts_with(|c: char| c.is_alphanumeric() || "(∂⟨".contains(c))
            && !PREFIX.contains(&f)
            && !f.contains(['‖', '|', '+', '−', '⊙', '⊘', '='])
            && (!f.contains('/') || f.starts_with('∂') && f.matches('/').count() == 1)
    };
    factors.len() > 1 && factors.iter().all(|f| factor(f))
}

fn is_number(text: &str) -> bool {
    text.parse::<f64>().is_ok()
}

/// `A 2B` is written `2A B`: a leading integer of a factor joins the front of its product.
fn hoist(out: &mut String, text: &str) -> bool {
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &text[digits.len()..];
    let juxtaposed =
        out.ends_with(' ') && out.trim_end().ends_with(|c: char| c.is_alphanumeric() || "ᵀ)′₀₁₂₃₄₅₆₇₈₉".contains(c));
    if digits.is_empty() || rest.is_empty() || rest.starts_with([' ', '.', '/']) || !juxtaposed {
        return false;
    }
    let mut start = term_start(out);
    if out[start..].starts_with('−') {
        start += '−'.len_utf8();
    }
    if out[start..].starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    out.insert_str(start, &digits);
    out.push_str(rest);
    true
}

/// Where the product `out` ends with starts: after an unmatched bracket or an operator.
fn term_start(out: &str) -> usize {
    let chars: Vec<(usize, char)> = out.char_indices().collect();
    let mut depth = 0i32;
    for k in (0..chars.len()).rev() {
        let (at, c) = chars[k];
        let next = chars.get(k + 1).map(|&(_, c)| c);
        match c {
            ')' | ']' | '⟩' => depth += 1,
            '(' | '[' | '⟨' if depth == 0 => return at + c.len_utf8(),
            '(' | '[' | '⟨' => depth -= 1,
            '+' | '−' | '⊙' | '⊘' | '/' | ',' | ';' | '=' if depth == 0 && next == Some(' ') => {
                return chars.get(k + 2).map_or(out.len(), |&(i, _)| i);
            }
            _ => {}
        }
    }
    0
}

/// `n` as subscript digits.
pub fn subscript(n: usize) -> String {
    n.to_string().chars().map(|c| char::from_u32(0x2080 + c.to_digit(10).unwrap_or(0)).unwrap_or(c)).collect()
}

/// A literal as a mathematician writes it: `1.0` is `1`, `2.5f64` is `2.5`.
pub fn literal(text: &str) -> String {
    let t = text.trim_end_matches("f64").trim_end_matches("f32").trim_end_matches("usize").trim_end_matches('_');
    match t.strip_suffix(".0") {
        Some(int) if !int.is_empty() => int.to_string(),
        _ => t.to_string(),
    }
}

/// Renamed tokens written back with the user's names (`names` maps a generated identifier to
/// what the text shows for it).
pub fn tokens(ts: &TokenStream, names: &HashMap<String, String>) -> String {
    let mut out = String::new();
    write_tokens(ts, names, &mut out);
    out.trim().to_string()
}

/// `::matgrad::__private::name(args)` at the start of `tts`: the name and the arguments.
fn private_call(tts: &[TokenTree]) -> Option<(String, TokenStream)> {
    let [TokenTree::Punct(a), TokenTree::Punct(b), TokenTree::Ident(krate), TokenTree::Punct(c), TokenTree::Punct(d), TokenTree::Ident(module), TokenTree::Punct(e), TokenTree::Punct(f), TokenTree::Ident(name), TokenTree::Group(args), ..] =
        tts
    else {
        return None;
    };
    let colons = [a, b, c, d, e, f].iter().all(|p| p.as_char() == ':');
    (colons && krate == "matgrad" && module == "__private" && args.delimiter() == Delimiter::Parenthesis)
        .then(|| (name.to_string(), args.stream()))
}

fn write_tokens(ts: &TokenStream, names: &HashMap<String, String>, out: &mut String) {
    let mut prev_word = false;
    let tts: Vec<TokenTree> = ts.clone().into_iter().collect();
    let mut i = 0;
    while i < tts.len() {
        let tt = tts[i].clone();
        i += 1;
        // What the macro wraps a part of a constructor in: `scalar_in(x)` is `x`, the place
        // `RowMajor(k)` (the k-th entry in the order `Matrix2::new` takes them) `row-major k`.
        match private_call(&tts[i - 1..]) {
            Some((name, args)) if name == "scalar_in" || name == "RowMajor" => {
                if prev_word {
                    out.push(' ');
                }
                if name == "RowMajor" {
                    out.push_str("row-major ");
                }
                write_tokens(&args, names, out);
                i += 9;
                prev_word = true;
                continue;
            }
            _ => {}
        }
        match tt {
            TokenTree::Ident(i) => {
                if prev_word {
                    out.push(' ');
                }
                let s = i.to_string();
                out.push_str(names.get(&s).map_or(s.as_str(), |n| n.as_str()));
                prev_word = true;
            }
            TokenTree::Literal(l) => {
                if prev_word {
                    out.push(' ');
                }
                out.push_str(&literal(&l.to_string()));
                prev_word = true;
            }
            TokenTree::Punct(p) => {
                punct(p.as_char(), p.spacing() == proc_macro2::Spacing::Joint, out);
                prev_word = false;
            }
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                match crate::rename::constant_field_read(&g.stream()) {
                    Some((owner, field)) => {
                        write_tokens(&owner, names, out);
                        out.push('.');
                        out.push_str(&field);
                    }
                    None => write_tokens(&g.stream(), names, out),
                }
                prev_word = true;
            }
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(&g.stream(), names, out);
                out.push_str(close);
                prev_word = true;
            }
        }
    }
}

fn punct(c: char, joint: bool, out: &mut String) {
    match c {
        '.' | ':' | '&' | '!' | '#' | '\'' | '?' => out.push(c),
        ',' | ';' => {
            out.push(c);
            out.push(' ');
        }
        _ => {
            if !out.ends_with(' ') && !out.is_empty() && !out.ends_with(['<', '>', '=', '!', '-', '+', '*', '/']) {
                out.push(' ');
            }
            out.push(c);
            if !joint {
                out.push(' ');
            }
        }
    }
}
