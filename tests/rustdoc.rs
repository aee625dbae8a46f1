//! The rustdoc of a generated `_grad` carries the derivation of its gradient: `cargo doc` on
//! the small crate `tests/doc_crate` (the README's network), then its pages are read.

use std::path::Path;
use std::process::Command;

/// The text of a rustdoc page with its tags removed and its entities decoded.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

#[test]
fn the_grad_page_shows_the_derivation() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/doc_crate/Cargo.toml");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("doc_crate");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["doc", "--no-deps", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo doc on tests/doc_crate failed");
    let page = |name: &str| {
        let path = target.join("doc/matgrad_doc_check").join(name);
        text(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    };
    let grad = page("fn.loss_grad.html");
    // Seed 001's chain, in the user's names: the adjoints in reverse order, then the gradient
    // with them substituted back, and the closure's derivative.
    for line in [
        "∂f/∂t₄ = 2t₄",
        "∂f/∂z = ∂f/∂a ⊙ g′(z)",
        "∂f/∂w = xᵀ ∂f/∂z",
        "∂f/∂w = xᵀ (2(a − y) ⊙ g′(z))",
        "g(v) = 1 / (1 + exp(−v)), applied entrywise",
    ] {
        assert!(grad.contains(line), "`{line}` is not on the page of loss_grad:\n{grad}");
    }
    // The same text is on `_vjp`'s page and returned by `loss_derivation()`'s.
    assert!(page("fn.loss_vjp.html").contains("∂f/∂w = xᵀ (2(a − y) ⊙ g′(z))"));
    assert!(page("fn.loss_derivation.html").contains("derivation"));
}
