//! The crate's rustdoc guide (`src/guide.md`) holds the README's reference sections one heading
//! level up, with the README's code fragments marked `ignore` (they are not whole programs), and
//! keeps its own sections with runnable doctests (user rules, forward mode, the derivation,
//! checking a gradient). This test fails when the guide is not that; `MATGRAD_BLESS=1 cargo test
//! --test guide` rewrites it after an edit of the README.

/// The guide's sections in order: the title, its heading level in the README, and whether its
/// text is the README's (else the guide's own); the guide's level is one less.
const SECTIONS: &[(&str, usize, bool)] = &[
    ("The contract", 2, true),
    ("What the body may contain", 2, true),
    ("Control flow", 3, true),
    ("Composition and user rules", 3, false),
    ("Models as structs", 3, true),
    ("Not supported yet", 3, true),
    ("Forward mode and second order", 2, false),
    ("Embedded use (no_std)", 2, true),
    ("Vectorised elementwise closures", 2, true),
    ("The derivation", 2, false),
    ("Checking a gradient", 2, false),
    ("Diagnostics", 2, true),
];

/// The lines under the heading `title` of `level`, up to the next heading (outside code).
fn section<'t>(text: &'t str, title: &str, level: usize) -> Option<Vec<&'t str>> {
    let heading = format!("{} {title}", "#".repeat(level));
    let mut out: Option<Vec<&str>> = None;
    let mut fence = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fence = !fence;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let is_heading = !fence && (1..=6).contains(&hashes) && line[hashes..].starts_with(' ');
        match &mut out {
            None if line == heading => out = Some(Vec::new()),
            Some(_) if is_heading => break,
            Some(lines) => lines.push(line),
            None => {}
        }
    }
    out
}

/// The guide as it should be, from the README and the guide's own sections.
fn guide(readme: &str, guide: &str) -> String {
    let mut parts = Vec::new();
    for &(title, level, from_readme) in SECTIONS {
        let lines: Vec<&str> = match from_readme {
            true => section(readme, title, level).unwrap_or_else(|| panic!("the README has no `{title}`")),
            false => section(guide, title, level - 1).unwrap_or_else(|| panic!("the guide has no `{title}`")),
        };
        let lines: Vec<&str> =
            lines.into_iter().map(|l| if from_readme && l == "```rust" { "```rust,ignore" } else { l }).collect();
        let body = lines.join("\n");
        parts.push(format!("{} {title}\n{}\n", "#".repeat(level - 1), body.trim_matches('\n')));
    }
    parts.join("\n")
}

#[test]
fn the_guide_holds_the_readmes_reference_sections() {
    let root = env!("CARGO_MANIFEST_DIR");
    let path = format!("{root}/src/guide.md");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let current = std::fs::read_to_string(&path).unwrap();
    let want = guide(&readme, &current);
    if std::env::var_os("MATGRAD_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    assert!(
        current == want,
        "src/guide.md is not the README's sections: run `MATGRAD_BLESS=1 cargo test --test guide`"
    );
}
