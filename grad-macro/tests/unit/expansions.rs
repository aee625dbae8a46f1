//! Every expansion at once, for comparing two versions of the macro (`scripts/expansions.py`):
//! with `MATGRAD_EXPANSIONS_IN` naming a file that lists source files (one path a line), the
//! test below expands every `#[differentiate]` function of them (nested in functions and
//! modules too) and writes the pretty-printed expansions, each under a header naming its file
//! and function, to the file `MATGRAD_EXPANSIONS_OUT` names. Without them it does nothing.

use proc_macro2::TokenStream;

/// The `#[differentiate]` functions among `items` and the items nested in them, with the
/// attribute's arguments (the attribute removed).
fn differentiated(items: Vec<syn::Item>, found: &mut Vec<(syn::ItemFn, TokenStream)>) {
    for item in items {
        match item {
            syn::Item::Fn(mut f) => {
                let nested = f.block.stmts.iter().filter_map(|s| match s {
                    syn::Stmt::Item(i) => Some(i.clone()),
                    _ => None,
                });
                differentiated(nested.collect(), found);
                let named = |a: &syn::Attribute| a.path().segments.last().is_some_and(|s| s.ident == "differentiate");
                if let Some(k) = f.attrs.iter().position(named) {
                    let args = match f.attrs.remove(k).meta {
                        syn::Meta::List(l) => l.tokens,
                        _ => TokenStream::new(),
                    };
                    found.push((f, args));
                }
            }
            syn::Item::Mod(m) => differentiated(m.content.map(|(_, items)| items).unwrap_or_default(), found),
            _ => {}
        }
    }
}

#[test]
fn every_expansion() {
    let (Some(list), Some(out)) =
        (std::env::var_os("MATGRAD_EXPANSIONS_IN"), std::env::var_os("MATGRAD_EXPANSIONS_OUT"))
    else {
        return;
    };
    let mut text = String::new();
    for path in std::fs::read_to_string(list).expect("the list of files").lines() {
        let Ok(file) = syn::parse_file(&std::fs::read_to_string(path).unwrap_or_default()) else {
            text.push_str(&format!("// ===== {path}: does not parse\n"));
            continue;
        };
        let mut found = Vec::new();
        differentiated(file.items, &mut found);
        for (f, args) in found {
            let name = f.sig.ident.to_string();
            let tokens = crate::expand::differentiate(args, quote::ToTokens::into_token_stream(f));
            let shown = match syn::parse2::<syn::File>(tokens.clone()) {
                Ok(file) => prettyplease::unparse(&file),
                Err(_) => tokens.to_string(),
            };
            text.push_str(&format!("// ===== {path} {name}\n{shown}\n"));
        }
    }
    std::fs::write(out, text).expect("the expansions written");
}
