#!/usr/bin/env python3
"""Copies the README's reference sections into src/guide.md, the crate's rustdoc guide.

The README is the source of the contract, the body language, the rule tables and the
diagnostics; the guide holds the same text one heading level up, with the README's code
fragments marked `ignore` (they are not whole programs). The guide's own sections with runnable
doctests (composition and user rules, forward mode, the derivation, checking a gradient) are
kept as they are. Run it after editing those README sections; `tests/guide.rs` fails when the
two disagree.

    python3 scripts/sync_guide.py          # rewrite src/guide.md
    python3 scripts/sync_guide.py --check  # exit 1 if it would change
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (title, level in the README, whose text); the guide's level is one less.
SECTIONS = [
    ("The contract", 2, "readme"),
    ("What the body may contain", 2, "readme"),
    ("Control flow", 3, "readme"),
    ("Composition and user rules", 3, "guide"),
    ("Models as structs", 3, "readme"),
    ("Not supported yet", 3, "readme"),
    ("Forward mode and second order", 2, "guide"),
    ("Embedded use (no_std)", 2, "readme"),
    ("Vectorised elementwise closures", 2, "readme"),
    ("The derivation", 2, "guide"),
    ("Checking a gradient", 2, "guide"),
    ("Diagnostics", 2, "readme"),
]


def body(text, title, level):
    """The text under heading `title` up to the next heading of any level (code fences skipped)."""
    lines = text.split("\n")
    start = None
    fence = False
    for k, line in enumerate(lines):
        if line.startswith("```"):
            fence = not fence
        if fence:
            continue
        if start is None:
            if line == "#" * level + " " + title:
                start = k + 1
        elif re.match(r"#{1,6} ", line):
            return "\n".join(lines[start:k])
    if start is None:
        sys.exit(f"no section `{title}` at level {level}")
    return "\n".join(lines[start:])


def ignore_fragments(text):
    return re.sub(r"^```rust$", "```rust,ignore", text, flags=re.M)


def guide_text():
    readme = (ROOT / "README.md").read_text()
    guide = (ROOT / "src/guide.md").read_text()
    out = []
    for title, level, source in SECTIONS:
        glevel = level - 1
        text = ignore_fragments(body(readme, title, level)) if source == "readme" else body(guide, title, glevel)
        out.append("#" * glevel + " " + title + "\n" + text.strip("\n") + "\n")
    return "\n".join(out)


def main():
    new = guide_text()
    path = ROOT / "src/guide.md"
    if "--check" in sys.argv:
        sys.exit(0 if path.read_text() == new else 1)
    path.write_text(new)


if __name__ == "__main__":
    main()
