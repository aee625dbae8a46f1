//! Empty: the generated programs live in `tests/programs.rs` (see `build.rs`).
