//! # matgrad
//!
//! Compile-time reverse-mode gradients for Rust functions over nalgebra matrices.
//!
//! `#[differentiate]` reads a function's body at compile time, applies the adjoint
//! (vector-Jacobian) rule of every operation, and emits a sibling `<name>_grad` that returns the
//! value and the gradients. There is no tape, graph or dual number at run time: the generated
//! code is plain nalgebra, as a careful person would write it by hand.
//!
//! ```
//! use matgrad::differentiate;
//! use nalgebra::DMatrix;
//!
//! #[differentiate(wrt(w))]
//! fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
//!     let z = x * w;
//!     let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
//!     (a - y).norm_squared()
//! }
//!
//! let x = DMatrix::from_fn(5, 3, |i, j| (i as f64 - j as f64) * 0.3);
//! let w = DMatrix::from_fn(3, 2, |i, j| 0.1 * (i + 2 * j) as f64);
//! let y = DMatrix::from_element(5, 2, 0.5);
//! let (value, dw) = loss_grad(&w, &x, &y);
//! assert_eq!(value, loss(&w, &x, &y));
//! assert_eq!(dw.shape(), (3, 2));
//! ```
//!
//! Gradients use the denominator layout: a gradient has the shape of its parameter. Beside
//! `_grad`, every function gets `<name>_vjp(params…, adjoint)` (the vector-Jacobian product; the
//! only one for a matrix-valued function) and `<name>_pullback`, through which one
//! `#[differentiate]` function calls another. [`custom_vjp`] declares the rule of a function
//! the macro should not look into, [`custom_jvp`] its forward rule (from which every mode
//! follows); `#[differentiate(forward)]` adds forward mode (`_jvp`) and Hessian-vector products
//! (`_hvp`). The body may branch (`if`, `match`) and loop (`for`). The
//! sections below are the guide: the contract, the body language and every rule, control flow,
//! user rules, embedded use, the derivation text and the gradient checks.
//!
#![doc = include_str!("guide.md")]
#![no_std]

extern crate self as matgrad;
#[cfg(feature = "argmin")]
extern crate std;

/// [argmin](https://argmin-rs.org) over any `Differentiable` parameters (feature `argmin`).
#[cfg(feature = "argmin")]
pub mod argmin_adapter;

pub use matgrad_macros::custom_jvp;
pub use matgrad_macros::custom_vjp;
#[doc = include_str!("differentiate.md")]
pub use matgrad_macros::differentiate;
pub use matgrad_macros::Differentiable;
/// Vectorised elementwise kernels and how `map` closures are evaluated over lanes.
pub use matgrad_runtime::lanes;
pub use matgrad_runtime::{add_column_vector, add_row_vector, cross_entropy, logsumexp_rows, quadform, softmax_rows};
pub use matgrad_runtime::{
    check_gradient, numeric_gradient, Adjoint, Differentiable, GradientCheck, NoGradient, Perturb, Real, Value,
};
pub use matgrad_runtime::{check_gradients, check_vjp, DirectionalCheck, Point};
#[cfg(any(feature = "alloc", feature = "std"))]
pub use matgrad_runtime::{hessian, jacobian};
pub use matgrad_runtime::{hessian_fixed, jacobian_fixed};
pub use matgrad_runtime::{Adam, Sgd};

#[doc(hidden)]
pub use matgrad_runtime::__private;
