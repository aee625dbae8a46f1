//! Golden expansion tests: each `tests/expand/<name>.rs` holds a `#[differentiate]` function
//! and `<name>.expanded.rs` its expansion, pretty-printed (bless with `MATGRAD_BLESS=1`). Adding
//! a case is adding a `.rs` file and blessing; read the expansion before checking it in.

use std::path::{Path, PathBuf};

fn expand_pretty(item: proc_macro2::TokenStream, args: proc_macro2::TokenStream) -> String {
    let tokens = crate::expand::differentiate(args, item);
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(e) => panic!("expansion does not parse: {e}\n{tokens}"),
    }
}

/// The first function of `source` and its `#[differentiate(…)]` arguments (the attribute
/// removed): the input of a golden test.
pub(crate) fn input(source: &str) -> (syn::ItemFn, proc_macro2::TokenStream) {
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
    (func, args)
}

/// Checks every golden pair in `dir` (the crate's `tests/<dir>`): each input `<name>.rs` (not a
/// `.expanded.rs`) rendered by `render` against the file `output` names beside it, or writes
/// that file under `MATGRAD_BLESS=1`. Fails listing every pair that changed.
pub(crate) fn run_goldens(dir: &str, output: fn(&Path) -> PathBuf, render: fn(&str) -> String, at_least: usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(dir);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".rs") && !s.ends_with(".expanded.rs")))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= at_least, "the golden inputs are missing");
    let check = |input: &PathBuf| -> Result<(), String> {
        let got = render(&std::fs::read_to_string(input).unwrap());
        let want_path = output(input);
        if std::env::var_os("MATGRAD_BLESS").is_some() {
            std::fs::write(&want_path, &got).unwrap();
            return Ok(());
        }
        let want = std::fs::read_to_string(&want_path).unwrap_or_default();
        match got == want {
            true => Ok(()),
            false => Err(format!("{} changed (bless with MATGRAD_BLESS=1):\n{got}", want_path.display())),
        }
    };
    let failures: Vec<String> = inputs.iter().filter_map(|p| check(p).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn expansion_goldens() {
    let expand = |source: &str| {
        let (func, args) = input(source);
        expand_pretty(quote::ToTokens::into_token_stream(func), args)
    };
    run_goldens("expand", |p| p.with_extension("expanded.rs"), expand, 16);
}

/// The rustdoc of a generated `_grad` holds the derivation (the golden text of
/// `tests/derivation/network.txt`), and `_derivation()` returns the same text.
#[test]
fn grad_docs_hold_the_derivation() {
    let item = quote::quote! {
        fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
            let z = x * w;
            let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
            (a - y).norm_squared()
        }
    };
    let file: syn::File = syn::parse2(crate::expand::differentiate(quote::quote!(wrt(w)), item)).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/derivation/network.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let doc_of = |name: &str| -> String {
        let f = file.items.iter().find_map(|i| match i {
            syn::Item::Fn(f) if f.sig.ident == name => Some(f),
            _ => None,
        });
        let attrs = &f.unwrap_or_else(|| panic!("no `{name}`")).attrs;
        let docs = attrs.iter().filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        });
        docs.collect()
    };
    assert!(text.contains("∂f/∂w = xᵀ (2(a − y) ⊙ g′(z))"));
    for name in ["loss_grad", "loss_vjp", "loss_derivation"] {
        assert!(doc_of(name).contains(&text), "the docs of `{name}` lack the derivation");
    }
    let body = file.items.iter().find_map(|i| match i {
        syn::Item::Fn(f) if f.sig.ident == "loss_derivation" => Some(quote::ToTokens::to_token_stream(&f.block)),
        _ => None,
    });
    let lit = syn::LitStr::new(&text, proc_macro2::Span::call_site());
    assert_eq!(body.unwrap().to_string(), quote::quote!({ #lit }).to_string());
}
