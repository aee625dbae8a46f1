//! Golden tests of the derivation text: each `tests/derivation/<name>.rs` holds a
//! `#[differentiate]` function, `<name>.txt` its derivation (bless with `MATGRAD_BLESS=1`).
//! Adding a case is adding a `.rs` file and blessing.

use std::path::{Path, PathBuf};

use quote::ToTokens;

use crate::ctxt::Ctxt;

/// The derivation of the first function in `source`, with its `#[differentiate(…)]` arguments.
fn derive(source: &str) -> String {
    let file: syn::File = syn::parse_str(source).expect("a golden input parses");
    let mut func = file
        .items
        .into_iter()
        .find_map(|i| match i {
            syn::Item::Fn(f) => Some(f),
            _ => None,
        })
        .expect("a golden input holds a function");
    let attr = func.attrs.iter().position(|a| a.path().is_ident("differentiate"));
    let args = match attr.map(|k| func.attrs.remove(k).meta) {
        Some(syn::Meta::List(l)) => l.tokens,
        _ => proc_macro2::TokenStream::new(),
    };
    let cx = Ctxt::default();
    let args = syn::parse2::<crate::args::Args>(args).expect("the attribute's arguments parse");
    let sig = crate::check::signature(&cx, &func, &args);
    let body = crate::desugar::function(&cx, &func.block, &sig.ret);
    let mut lowered = crate::lower::function(&cx, &sig, &body);
    crate::simplify::run(&mut lowered);
    if let Err(e) = cx.check() {
        panic!("a golden input has errors: {}", e.into_compile_error());
    }
    super::derivation(&sig, &lowered, &func.sig.ident.to_token_stream().to_string())
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/derivation")
}

fn check(input: &Path) -> Result<(), String> {
    let got = derive(&std::fs::read_to_string(input).unwrap());
    let want_path = input.with_extension("txt");
    if std::env::var_os("MATGRAD_BLESS").is_some() {
        std::fs::write(&want_path, &got).unwrap();
        return Ok(());
    }
    let want = std::fs::read_to_string(&want_path).unwrap_or_default();
    match got == want {
        true => Ok(()),
        false => Err(format!("{} changed (bless with MATGRAD_BLESS=1):\n{got}", want_path.display())),
    }
}

#[test]
fn derivation_goldens() {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 6, "the golden inputs are missing");
    let failures: Vec<String> = inputs.iter().filter_map(|p| check(p).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
