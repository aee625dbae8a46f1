//! The crate's rustdoc guide (`src/guide.md`) holds the README's reference sections one heading
//! level up (code fragments marked `ignore`): `python3 scripts/sync_guide.py` copies them after
//! the README changes. This test fails when the two disagree.

/// The sections the guide takes from the README, with their level there.
const FROM_README: &[(&str, usize)] = &[
    ("The contract", 2),
    ("What the body may contain", 2),
    ("Control flow", 3),
    ("Models as structs", 3),
    ("Not supported yet", 3),
    ("Embedded use (no_std)", 2),
    ("Vectorised elementwise closures", 2),
    ("Diagnostics", 2),
];

/// The lines under the heading `title` of `level`, up to the next heading (outside code).
fn section(text: &str, title: &str, level: usize) -> Option<String> {
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
    out.map(|l| l.join("\n").trim_matches('\n').to_string())
}

#[test]
fn the_guide_holds_the_readmes_reference_sections() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let guide = std::fs::read_to_string(format!("{root}/src/guide.md")).unwrap();
    for &(title, level) in FROM_README {
        let want = section(&readme, title, level).unwrap_or_else(|| panic!("README has no `{title}`"));
        let want: Vec<String> =
            want.lines().map(|l| if l == "```rust" { "```rust,ignore".to_string() } else { l.to_string() }).collect();
        let got = section(&guide, title, level - 1).unwrap_or_else(|| panic!("the guide has no `{title}`"));
        assert!(
            got == want.join("\n"),
            "the guide's `{title}` differs from the README's: run `python3 scripts/sync_guide.py`"
        );
    }
}
