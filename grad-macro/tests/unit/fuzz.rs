//! Fuzzing the expansion outside the compiler: random token streams and mutations of valid
//! functions must give code or a compile error — never a panic — and large or deep bodies must
//! expand (no timing is asserted: speed is for benchmarks). Deterministic: a fixed seed, no failure files. A failing input is printed; add it to
//! `regressions` below once fixed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use quote::quote;

/// Inputs tried, over every test of this module (printed with `--nocapture`).
static TRIED: AtomicUsize = AtomicUsize::new(0);

const IDENTS: &[&str] = &[
    "let",
    "fn",
    "x",
    "w",
    "v",
    "y",
    "map",
    "exp",
    "ln",
    "tanh",
    "f64",
    "f32",
    "T",
    "DMatrix",
    "SMatrix",
    "return",
    "if",
    "else",
    "for",
    "in",
    "while",
    "loop",
    "match",
    "unsafe",
    "async",
    "mut",
    "sum",
    "norm",
    "norm_squared",
    "dot",
    "transpose",
    "tr_mul",
    "iter",
    "fold",
    "powi",
    "wrt",
    "clone",
    "self",
    "Self",
    "_",
    "vec",
    "println",
    "const",
    "impl",
    "where",
    "as",
    "move",
    "break",
    "await",
    "component_mul",
    "index",
    "zeros",
    "usize",
    "bool",
];

const PUNCTS: &[&str] = &[
    "+", "-", "*", "/", "=", "==", "+=", "-=", "*=", ";", ",", ".", ":", "::", "&", "&&", "|", "||", "<", ">", "->",
    "=>", "!", "?", "#", "..", "%", "^", "@",
];

/// A token tree drawn from small vocabularies, kept symbolic so that proptest can shrink it.
#[derive(Clone, Debug)]
enum Tok {
    Ident(Index),
    Punct(Index),
    Lit(u8),
    Group(u8, Vec<Tok>),
}

fn tok() -> impl Strategy<Value = Tok> {
    let leaf = prop_oneof![
        4 => any::<Index>().prop_map(Tok::Ident),
        3 => any::<Index>().prop_map(Tok::Punct),
        1 => any::<u8>().prop_map(Tok::Lit),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        (0..4u8, prop::collection::vec(inner, 0..8)).prop_map(|(d, v)| Tok::Group(d, v))
    })
}

fn toks(max: usize) -> impl Strategy<Value = Vec<Tok>> {
    prop::collection::vec(tok(), 0..max)
}

fn ident(i: &Index) -> TokenTree {
    Ident::new(i.get::<&str>(IDENTS), Span::call_site()).into()
}

fn punct(i: &Index, out: &mut Vec<TokenTree>) {
    let s = *i.get(PUNCTS);
    for (k, c) in s.chars().enumerate() {
        let spacing = if k + 1 < s.len() { Spacing::Joint } else { Spacing::Alone };
        out.push(Punct::new(c, spacing).into());
    }
}

fn lit(k: u8) -> TokenTree {
    match k % 6 {
        0 => Literal::f64_unsuffixed(1.5),
        1 => Literal::f64_suffixed(0.25),
        2 => Literal::i32_unsuffixed(2),
        3 => Literal::usize_suffixed(3),
        4 => Literal::string("s"),
        _ => Literal::f32_unsuffixed(-0.5),
    }
    .into()
}

fn delimiter(d: u8) -> Delimiter {
    [Delimiter::Parenthesis, Delimiter::Brace, Delimiter::Bracket, Delimiter::None][d as usize % 4]
}

fn stream(toks: &[Tok]) -> TokenStream {
    let mut out = Vec::new();
    for t in toks {
        match t {
            Tok::Ident(i) => out.push(ident(i)),
            Tok::Punct(i) => punct(i, &mut out),
            Tok::Lit(k) => out.push(lit(*k)),
            Tok::Group(d, inner) => out.push(Group::new(delimiter(*d), stream(inner)).into()),
        }
    }
    out.into_iter().collect()
}

/// Expands `item` with `args`: no panic, and for a function (what rustc hands an attribute on a
/// function) the output parses as items and holds the function, its `_vjp` and its `_pullback`
/// (`_grad` exists only for a scalar value).
fn check(args: TokenStream, item: TokenStream) -> Result<(), TestCaseError> {
    TRIED.fetch_add(1, Ordering::Relaxed);
    let out = catch_unwind(AssertUnwindSafe(|| crate::expand::differentiate(args.clone(), item.clone())))
        .map_err(|_| TestCaseError::fail(format!("expansion panicked\nargs: {args}\nitem: {item}")))?;
    let Ok(func) = syn::parse2::<syn::ItemFn>(item.clone()) else {
        return Ok(());
    };
    let file: syn::File = syn::parse2(out.clone())
        .map_err(|e| TestCaseError::fail(format!("output does not parse ({e})\nitem: {item}\nout: {out}")))?;
    let name = func.sig.ident.to_string();
    let vjp = format!("{}_vjp", name.trim_start_matches("r#"));
    let pullback = format!("{}_pullback", name.trim_start_matches("r#"));
    let has = |n: &str| file.items.iter().any(|i| matches!(i, syn::Item::Fn(f) if f.sig.ident == n));
    prop_assert!(
        has(&name) && has(&vjp) && has(&pullback),
        "missing `{}`, `{}` or `{}`\nitem: {}\nout: {}",
        name,
        vjp,
        pullback,
        item,
        out
    );
    Ok(())
}

/// Runs `cases` cases (times `MATGRAD_FUZZ_SCALE`, 1 by default: raise it for a longer search).
fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let scale: u32 = std::env::var("MATGRAD_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let config = Config { cases: cases * scale, failure_persistence: None, max_shrink_iters: 512, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
    eprintln!("fuzz: {} expansions tried so far", TRIED.load(Ordering::Relaxed));
}

#[test]
fn random_bodies() {
    run(1200, toks(24), |body| {
        let body = stream(&body);
        check(quote!(), quote!(fn f(x: &DMatrix<f64>, w: f64, n: usize) -> f64 { #body }))
    });
}

#[test]
fn random_map_closures() {
    run(500, toks(16), |body| {
        let body = stream(&body);
        check(quote!(wrt(x)), quote!(fn f(x: &DMatrix<f64>, s: f64) -> f64 { let y = x.map(|v| #body); y.sum() }))
    });
}

#[test]
fn random_signatures_and_args() {
    run(600, (toks(8), toks(10), toks(6)), |(args, params, ret)| {
        let (args, params, ret) = (stream(&args), stream(&params), stream(&ret));
        check(args, quote!(fn g(#params) -> #ret { let y = x * 2.0; y.sum() }))
    });
}

#[test]
fn random_items() {
    run(400, toks(24), |item| check(quote!(), stream(&item)));
}

/// Valid functions, the starting points of mutations.
fn seeds() -> Vec<TokenStream> {
    vec![
        quote! {
            fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
                let z = x * w;
                let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
                (a - y).norm_squared()
            }
        },
        quote! {
            fn f<T: RealField + Copy>(a: &SMatrix<T, 2, 3>, b: &SMatrix<T, 3, 2>, s: T) -> T {
                let c = a * b;
                let c = c.transpose() + c;
                let d = a.tr_mul(a).trace() * s.powi(2);
                c.dot(&c) + d.sin() + c[(0, 1)]
            }
        },
        quote! {
            fn h(x: &DVector<f64>, k: usize) -> f64 {
                let mut acc = x.component_mul(x);
                acc += x.add_scalar(1.0);
                assert_eq!(x.len(), k);
                let n = acc.norm();
                let _unused = x.scale(3.0);
                n.ln() - x.sum() / (k as f64)
            }
        },
        quote! {
            fn g(a: f64, b: f64) -> f64 {
                let c = a * b - a / b;
                let d = { let e = c.tanh(); e * e };
                return d.max(a.min(b)) + f64::sqrt(a * a + 1.0);
            }
        },
        quote! {
            fn p<T: RealField + Copy>(a: &SMatrix<T, 2, 3>, b: SMatrix<T, 3, 1>, s: T, n: usize) -> T {
                let k: T = nalgebra::convert(n as f64 * 0.25);
                let mut x0 = a * b;
                x0 *= s;
                let x1 = { let e = x0[0]; a.map(|v: T| { let w = v * e; w.sin() + w * k }) };
                let x2 = x1.component_div(&x1.map(|v| v * v + nalgebra::convert::<f64, T>(0.5)));
                let mut acc = x2.tr_mul(&x1).trace();
                acc = acc * acc + T::tanh(s);
                acc - x0.norm()
            }
        },
        quote! {
            fn q(x: &DVector<f64>, budget: f64, w: &DMatrix<f64>) -> f64 {
                let r = x.norm_squared();
                if r > budget { return r.sqrt(); }
                let mut cost = 0.0;
                'outer: for k in 0..x.len() {
                    for (j, c) in w.column_iter().enumerate() {
                        if j == k { continue; }
                        cost += c.sum() * x[k];
                        if cost > budget { break 'outer; }
                    }
                }
                let (a, b) = (cost * 2.0, r);
                let mut t = a;
                while (t * t - b).abs() > 1e-9 { t = 0.5 * (t + b / t); }
                let v = loop { if t > 0.0 { break t; } t += 1.0; };
                x.map(|e| { if e < 0.0 { return 0.0; } e * v }).sum() + b
            }
        },
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    Drop(Index),
    Duplicate(Index),
    Swap(Index, Index),
    ReplaceIdent(Index, Index),
    ReplacePunct(Index, Index),
    Insert(Index, Tok),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = any::<Index>;
    prop_oneof![
        i().prop_map(Mutation::Drop),
        i().prop_map(Mutation::Duplicate),
        (i(), i()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (i(), i()).prop_map(|(a, b)| Mutation::ReplaceIdent(a, b)),
        (i(), i()).prop_map(|(a, b)| Mutation::ReplacePunct(a, b)),
        (i(), tok()).prop_map(|(a, t)| Mutation::Insert(a, t)),
    ]
}

/// A token stream as a flat list, groups as open/close markers, so that mutations can unbalance
/// them; `rebuild` closes what is left open and drops unmatched closers.
#[derive(Clone)]
enum Flat {
    Open(Delimiter),
    Close,
    Leaf(TokenTree),
}

fn flatten(ts: TokenStream, out: &mut Vec<Flat>) {
    for tt in ts {
        match tt {
            TokenTree::Group(g) => {
                out.push(Flat::Open(g.delimiter()));
                flatten(g.stream(), out);
                out.push(Flat::Close);
            }
            t => out.push(Flat::Leaf(t)),
        }
    }
}

fn rebuild(flat: &[Flat]) -> TokenStream {
    let mut stack: Vec<(Delimiter, Vec<TokenTree>)> = vec![(Delimiter::None, Vec::new())];
    let close = |stack: &mut Vec<(Delimiter, Vec<TokenTree>)>| {
        let (d, inner) = stack.pop().unwrap_or((Delimiter::None, Vec::new()));
        if let Some(top) = stack.last_mut() {
            top.1.push(Group::new(d, inner.into_iter().collect()).into());
        }
    };
    for f in flat {
        match f {
            Flat::Open(d) => stack.push((*d, Vec::new())),
            Flat::Close if stack.len() > 1 => close(&mut stack),
            Flat::Close => {}
            Flat::Leaf(t) => stack.last_mut().map_or((), |top| top.1.push(t.clone())),
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    stack.pop().map(|(_, v)| v.into_iter().collect()).unwrap_or_default()
}

fn mutate(flat: &mut Vec<Flat>, m: &Mutation) {
    if flat.is_empty() {
        return;
    }
    match m {
        Mutation::Drop(i) => {
            flat.remove(i.index(flat.len()));
        }
        Mutation::Duplicate(i) => {
            let k = i.index(flat.len());
            flat.insert(k, flat[k].clone());
        }
        Mutation::Swap(a, b) => {
            let (a, b) = (a.index(flat.len()), b.index(flat.len()));
            flat.swap(a, b);
        }
        Mutation::ReplaceIdent(i, v) => {
            let k = i.index(flat.len());
            if let Flat::Leaf(TokenTree::Ident(_)) = flat[k] {
                flat[k] = Flat::Leaf(ident(v));
            }
        }
        Mutation::ReplacePunct(i, v) => {
            let k = i.index(flat.len());
            if let Flat::Leaf(TokenTree::Punct(_)) = flat[k] {
                let mut new = Vec::new();
                punct(v, &mut new);
                flat.splice(k..=k, new.into_iter().map(Flat::Leaf));
            }
        }
        Mutation::Insert(i, t) => {
            let k = i.index(flat.len() + 1);
            let mut new = Vec::new();
            flatten(stream(std::slice::from_ref(t)), &mut new);
            flat.splice(k..k, new);
        }
    }
}

#[test]
fn mutated_functions() {
    let seeds = seeds();
    let n = seeds.len();
    run(2500, (0..n, prop::collection::vec(mutation(), 1..5)), |(s, muts)| {
        let mut flat = Vec::new();
        flatten(seeds[s].clone(), &mut flat);
        for m in &muts {
            mutate(&mut flat, m);
        }
        check(quote!(), rebuild(&flat))
    });
}

/// Inputs the fuzzer found, once fixed.
#[test]
fn regressions() {
    // An empty statement `;` was emitted as `let _ = ;`.
    check(
        quote!(),
        quote!(
            fn g(a: f64) -> f64 {
                let e = a.tanh();
                e * e
            }
        ),
    )
    .unwrap();
    check(
        quote!(),
        quote!(
            fn g(a: f64) -> f64 {
                a
            }
        ),
    )
    .unwrap();
    // A call or method call on constants, kept as a statement, lost its `;`.
    check(
        quote!(),
        quote!(
            fn h(x: &DVector<f64>, k: usize) -> f64 {
                assert_eq(x.len(), k);
                x.sum()
            }
        ),
    )
    .unwrap();
    check(
        quote!(),
        quote!(
            fn h(x: f64, k: usize) -> f64 {
                k.clone();
                x
            }
        ),
    )
    .unwrap();
}

#[test]
fn seeds_expand_without_errors() {
    for item in seeds() {
        let out = crate::expand::differentiate(quote!(), item.clone()).to_string();
        assert!(!out.contains("compile_error"), "a seed does not expand cleanly:\n{item}\n{out}");
    }
}

/// A chain of `n` statements over two matrices, mixing every kind of op.
fn long_body(n: usize) -> TokenStream {
    let mut stmts = vec![quote!(let a0 = x * w;)];
    for k in 1..n {
        let (prev, cur) = (quote::format_ident!("a{}", k - 1), quote::format_ident!("a{}", k));
        stmts.push(match k % 5 {
            0 => quote!(let #cur = #prev.map(|v| v.tanh());),
            1 => quote!(let #cur = &#prev + &#prev * 0.5;),
            2 => quote!(let #cur = #prev.component_mul(&a0);),
            3 => quote!(let #cur = #prev.add_scalar(s);),
            _ => quote!(let #cur = #prev - &a0;),
        });
    }
    let last = quote::format_ident!("a{}", n - 1);
    quote! {
        fn big(x: &DMatrix<f64>, w: &DMatrix<f64>, s: f64) -> f64 {
            #(#stmts)*
            #last.norm_squared()
        }
    }
}

#[test]
fn five_hundred_statements_expand() {
    let item = long_body(500);
    let out = crate::expand::differentiate(quote!(), item);
    TRIED.fetch_add(1, Ordering::Relaxed);
    assert!(!out.to_string().contains("compile_error"));
    syn::parse2::<syn::File>(out).expect("the expansion parses");
}

#[test]
fn five_hundred_errors_are_all_reported() {
    let stmts = (0..500usize).map(|k| {
        let name = quote::format_ident!("b{}", k);
        quote!(let #name = x.iter().fold(0.0, |a, v| a + v);)
    });
    let item = quote!(fn bad(x: &DMatrix<f64>) -> f64 { #(#stmts)* x.sum() });
    let out = crate::expand::differentiate(quote!(), item).to_string();
    TRIED.fetch_add(1, Ordering::Relaxed);
    assert_eq!(out.matches("compile_error").count(), 500);
}

#[test]
fn long_and_deep_expressions_expand() {
    // A 600-term sum (a left-leaning tree 600 deep) and 100 nested parentheses and blocks. (Each
    // node's span is found by printing its subtree, so a single expression costs quadratic time:
    // 2000 terms take about 2 s in a debug build; statements, as above, are linear.)
    let terms = (0..600).map(|k| if k % 2 == 0 { quote!(x) } else { quote!(x.sin()) });
    let sum = quote!(fn long(x: f64) -> f64 { #(#terms)+* });
    let mut deep = quote!(x);
    for k in 0..100 {
        deep = if k % 2 == 0 { quote!((#deep * 1.5)) } else { quote!({ let y = #deep; y }) };
    }
    let deep = quote!(fn deep(x: f64) -> f64 { #deep });
    for item in [sum, deep] {
        check(quote!(), item.clone()).unwrap();
        let out = crate::expand::differentiate(quote!(), item).to_string();
        assert!(!out.contains("compile_error"), "{out}");
    }
}

/// Forward mode (`_jvp`, `_hvp`, the tangent program) on the seeds, mutated seeds and random
/// bodies: code or a compile error, never a panic; every seed either expands or reports
/// forward mode's errors only.
#[test]
fn forward_mode() {
    for item in seeds() {
        check(quote!(forward), item).unwrap();
    }
    let seeds = seeds();
    let n = seeds.len();
    run(800, (0..n, prop::collection::vec(mutation(), 1..5)), |(s, muts)| {
        let mut flat = Vec::new();
        flatten(seeds[s].clone(), &mut flat);
        for m in &muts {
            mutate(&mut flat, m);
        }
        check(quote!(forward), rebuild(&flat))
    });
    run(400, toks(24), |body| {
        let body = stream(&body);
        check(quote!(forward), quote!(fn f(x: &DMatrix<f64>, w: f64, n: usize) -> f64 { #body }))
    });
}
