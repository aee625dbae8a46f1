//! An error collector: every unsupported construct is reported, not only the first.
//! (After serde_derive's `internals/ctxt.rs`.)

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Vec<syn::Error>>,
}

impl Ctxt {
    /// Reports `msg` on the tokens of `obj`.
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, obj: T, msg: M) {
        let msg = layout(&msg.to_string());
        self.errors.borrow_mut().push(syn::Error::new_spanned(obj.into_token_stream(), msg));
    }

    /// Reports an error already built.
    pub fn push(&self, err: syn::Error) {
        self.errors.borrow_mut().push(err);
    }

    /// How many errors were reported.
    pub fn len(&self) -> usize {
        self.errors.borrow().len()
    }

    /// Forgets the errors reported after the first `len` (a construct lowered again).
    pub fn truncate(&self, len: usize) {
        self.errors.borrow_mut().truncate(len);
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// All errors, combined into one; `Ok` when there are none.
    pub fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.into_inner().into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for rest in errors {
            combined.combine(rest);
        }
        Err(combined)
    }
}

/// The widest line of a message, in characters (a terminal's width, less rustc's `error: `).
const WIDTH: usize = 92;

/// A message laid out as rustc lays out its own: what is unsupported on the first line, then
/// what to write instead on lines of its own (`= help: …`), no line wider than [`WIDTH`].
/// The message's first `: ` or `; ` outside code (backticks) and parentheses separates the two.
pub fn layout(msg: &str) -> String {
    // (A separator in the first few characters is part of the subject, as in `wrt: …`.)
    let (head, rest) = split_at(msg, &[':', ';'], 12);
    let mut lines = wrap(head, WIDTH);
    let mut rest = rest;
    // Each clause of the fix (`; ` apart) on a help line of its own.
    while let Some(fix) = rest {
        let (clause, next) = split_at(fix, &[';'], 0);
        let mut clause_lines = wrap(clause, WIDTH - 8).into_iter();
        if let Some(first) = clause_lines.next() {
            lines.push(format!("= help: {first}"));
        }
        lines.extend(clause_lines.map(|l| format!("        {l}")));
        rest = next;
    }
    lines.join("\n")
}

/// The text before the first of `seps` that is followed by a space, outside code and
/// parentheses and at or past byte `from`, and the rest.
fn split_at<'m>(msg: &'m str, seps: &[char], from: usize) -> (&'m str, Option<&'m str>) {
    let (mut code, mut depth) = (false, 0usize);
    for (i, c) in msg.char_indices() {
        match c {
            '`' => code = !code,
            '(' | '[' if !code => depth += 1,
            ')' | ']' if !code => depth = depth.saturating_sub(1),
            c if seps.contains(&c) && !code && depth == 0 && i >= from && msg[i + 1..].starts_with(' ') => {
                let rest = msg[i + 2..].trim();
                return (&msg[..i], (!rest.is_empty()).then_some(rest));
            }
            _ => {}
        }
    }
    (msg, None)
}

/// `text` in lines of at most `width` characters, broken at spaces outside code (a piece of
/// code wider than a line stands on its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut code = false;
    let mut word = String::new();
    for c in text.chars() {
        if c == '`' {
            code = !code;
        }
        if c == ' ' && !code {
            words.push(std::mem::take(&mut word));
        } else {
            word.push(c);
        }
    }
    words.push(word);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for w in words.into_iter().filter(|w| !w.is_empty()) {
        if !line.is_empty() && line.chars().count() + 1 + w.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&w);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::{layout, WIDTH};

    #[test]
    fn the_fix_goes_on_help_lines() {
        let msg = "`while` loops are not supported: write `for _ in 0..n { … }`; or bound it";
        assert_eq!(
            layout(msg),
            "`while` loops are not supported\n= help: write `for _ in 0..n { … }`\n= help: or bound it"
        );
    }

    #[test]
    fn code_and_parentheses_are_not_split_or_broken() {
        let msg = "a short one (see: here) `let x: T = …;` stays";
        assert_eq!(layout(msg), msg);
        let long = format!("what is wrong: {}", "`a; b` word ".repeat(30));
        for line in layout(&long).lines() {
            assert!(line.chars().count() <= WIDTH, "{line}");
            assert_eq!(line.matches('`').count() % 2, 0, "code broken across lines: {line}");
        }
    }
}
