//! The `#[differentiate]` attribute of [matgrad](https://docs.rs/matgrad).
//!
//! Stages, one module (or folder) each, in one direction: [`args`] and [`check`] read the
//! attribute and the signature, [`lower`] turns the body into the IR of [`ir`] (values and ops,
//! each with its span), [`passes`] simplify it, [`reverse`] plans the reverse sweep (activity,
//! where each adjoint starts and accumulates) and defines its program of adjoint ops
//! (`reverse::program`), which the [`passes`] (`passes::reverse`) write from the plan and
//! rewrite (what is shared, signs, storage), and [`emit`] writes
//! the `<name>_grad` function; [`tangent`] turns the IR into its tangent program (forward mode),
//! which `emit` prints as `_jvp` and differentiates as `_hvp`. [`expand`] strings them together
//! and, on error, emits the user's function and a `_grad` stub beside the errors.

mod args;
mod check;
mod ctxt;
mod derivation;
mod derive;
mod desugar;
mod emit;
mod expand;
mod ir;
mod lower;
mod passes;
mod rename;
mod reverse;
mod symbol;
mod tangent;

use proc_macro::TokenStream;

/// Generates `<name>_grad` (the value and the gradients), `<name>_vjp`, `<name>_pullback` and
/// `<name>_derivation`; with `forward`, also `<name>_jvp` (forward mode) and `<name>_hvp`
/// (Hessian-vector products), from the tangent program of [`tangent`].
///
/// Its page in `matgrad` documents the contract with runnable examples; the crate
/// documentation of `matgrad` the supported body language.
#[proc_macro_attribute]
pub fn differentiate(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::differentiate(args.into(), item.into()).into()
}

/// Declares the adjoint rule of a function the macro cannot or should not see into (a solver,
/// an FFI call, a numerically special formula): `#[custom_vjp(my_rule)]` or
/// `#[custom_vjp(my_rule, wrt(a))]`.
///
/// The rule takes the function's parameters, a reference to its value and the value's adjoint,
/// and returns the gradients of the `wrt` parameters (one bare, several in a tuple). It
/// generates `<name>_pullback` (so that `#[differentiate]` functions calling it differentiate
/// through the rule), `<name>_grad` for a scalar value and `<name>_vjp`.
#[proc_macro_attribute]
pub fn custom_vjp(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::custom_vjp(args.into(), item.into()).into()
}

/// Declares the forward rule of a function (`#[custom_jvp(my_rule)]` or
/// `#[custom_jvp(my_rule, wrt(a))]`), from which every mode follows.
///
/// The rule has `_jvp`'s signature: the parameters, then one tangent per `wrt` parameter (of its
/// type), returning `(value, tangent)`; it is itself a `#[differentiate]` function, whose
/// pullback gives `<name>_pullback`, `_vjp` and `_grad` (the tangent is linear in the tangents:
/// its transpose is the vector-Jacobian product) and the second order of `_hvp`. It generates
/// `<name>_jvp`, `<name>_hvp` for a scalar value, and what `#[differentiate]` and
/// `#[differentiate(forward)]` callers call.
#[proc_macro_attribute]
pub fn custom_jvp(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::custom_jvp(args.into(), item.into()).into()
}

/// `#[derive(Differentiable)]`: implements `matgrad::Differentiable` for a struct with named or
/// unnamed fields, field by field in declaration order. A field marked
/// `#[differentiable(skip)]` is a constant: it is cloned into every value the trait builds
/// (`zero_like`, `from_flat`) and left out of every sum and of `len`.
#[proc_macro_derive(Differentiable, attributes(differentiable))]
pub fn derive_differentiable(item: TokenStream) -> TokenStream {
    derive::differentiable(item.into()).into()
}

// Tests of the expansion that need the crate's internals, kept with the other tests.
#[cfg(test)]
#[path = "../tests/unit/expansions.rs"]
mod expansions;
#[cfg(test)]
#[path = "../tests/unit/fuzz.rs"]
mod fuzz;
#[cfg(test)]
#[path = "../tests/unit/golden.rs"]
mod golden;
