//! Golden tests of the derivation text: each `tests/derivation/<name>.rs` holds a
//! `#[differentiate]` function, `<name>.txt` its derivation (bless with `MATGRAD_BLESS=1`).
//! Adding a case is adding a `.rs` file and blessing.

use quote::ToTokens;

use crate::ctxt::Ctxt;

/// The derivation of the first function in `source`, with its `#[differentiate(…)]` arguments.
fn derive(source: &str) -> String {
    let (func, args) = crate::golden::input(source);
    let cx = Ctxt::default();
    let args = syn::parse2::<crate::args::Args>(args).expect("the attribute's arguments parse");
    let sig = crate::check::signature(&cx, &func, &args);
    let body = crate::desugar::function(&cx, &func.block, &sig.ret);
    let mut lowered = crate::lower::function(&cx, &sig, &body);
    crate::passes::simplify::run(&mut lowered);
    if let Err(e) = cx.check() {
        panic!("a golden input has errors: {}", e.into_compile_error());
    }
    super::derivation(&sig, &lowered, &func.sig.ident.to_token_stream().to_string())
}

#[test]
fn derivation_goldens() {
    crate::golden::run_goldens("derivation", |p| p.with_extension("txt"), derive, 6);
}
