//! Compile-fail tests: every diagnostic of `#[differentiate]`, with its span on the offending
//! tokens and no cascade of secondary errors. Re-bless with `TRYBUILD=overwrite` when the
//! toolchain changes, and read every `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
