//! Filling templates: parentheses where precedence needs them and nowhere else.

use std::collections::HashMap;

use super::{fill, tokens, Shown};

fn m(t: &str) -> Shown {
    Shown::new(t, Some(false))
}

fn s(t: &str) -> Shown {
    Shown::new(t, Some(true))
}

fn f(tpl: &str, ops: &[Shown], g: Shown) -> String {
    fill(tpl, ops, &g, &m("y"))
}

#[test]
fn products_need_parentheses_only_against_other_operators() {
    assert_eq!(f("$g ⊙ $1", &[m("x"), m("c")], m("a b")), "(a b) ⊙ c");
    assert_eq!(f("$g $1ᵀ", &[m("x"), m("c")], m("a b")), "a b cᵀ");
    assert_eq!(f("$0ᵀ $g", &[m("a b"), m("c")], m("g")), "(a b)ᵀ g");
    assert_eq!(f("$gᵀ", &[m("x")], m("aᵀ ∂f/∂t")), "(aᵀ ∂f/∂t)ᵀ");
    assert_eq!(f("$0ᵀ $g", &[m("x"), m("c")], m("a + b")), "xᵀ (a + b)");
    assert_eq!(f("{0} − $1", &[m("x"), m("a b")], m("g")), "x − a b");
    assert_eq!(f("{0} − $1", &[m("x"), m("a + b")], m("g")), "x − (a + b)");
}

#[test]
fn transposes_of_scalars_and_transposes_vanish() {
    assert_eq!(f("$0ᵀ $g", &[m("xᵀ"), m("w")], m("∂f/∂y")), "x ∂f/∂y");
    assert_eq!(f("$g $1ᵀ", &[m("a"), s("r")], s("ḡ")), "ḡ r");
    assert_eq!(f("$0ᵀ", &[m("(a b)ᵀ")], m("g")), "(a b)");
}

#[test]
fn a_unit_seed_is_not_written_and_numbers_lead() {
    assert_eq!(f("2$g $0", &[m("a − y")], s("1")), "2(a − y)");
    assert_eq!(f("$g / $1", &[s("x"), s("s")], s("1")), "1 / s");
    assert_eq!(f("$0ᵀ $g", &[m("xᵀ"), m("w")], m("2y")), "2x y");
    assert_eq!(f("$0ᵀ $g", &[m("1"), m("w")], m("2y")), "1ᵀ (2y)");
}

#[test]
fn double_negations_cancel() {
    assert_eq!(f("−$g", &[s("x")], s("−a")), "a");
    assert_eq!(f("−$g", &[s("x")], s("−a + b")), "−(−a + b)");
    assert_eq!(f("−$g", &[s("x")], s("(−1 / t²) e")), "(1 / t²) e");
}

#[test]
fn a_constructors_wrappers_are_not_written() {
    let ts: proc_macro2::TokenStream =
        quote::quote!(Matrix2::new(::matgrad::__private::scalar_in(c_4), ::matgrad::__private::scalar_in(t_5)));
    let names = HashMap::from([("c_4".to_string(), "c".to_string()), ("t_5".to_string(), "t₁".to_string())]);
    assert_eq!(tokens(&ts, &names), "Matrix2::new(c, t₁)");
    let place: proc_macro2::TokenStream = quote::quote!(::matgrad::__private::RowMajor(3usize));
    assert_eq!(tokens(&place, &HashMap::new()), "row-major 3");
    // other runtime calls are written as they are
    let other: proc_macro2::TokenStream = quote::quote!(::matgrad::__private::zero());
    assert_eq!(tokens(&other, &HashMap::new()), "::matgrad::__private::zero()");
}
