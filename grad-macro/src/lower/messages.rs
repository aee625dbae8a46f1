//! The sentences of lowering's errors: what is unsupported, and what to write instead.

use quote::ToTokens;
use syn::{Expr, Ident, Path};

use crate::symbol;

/// What kind of construct had no rule.
pub enum Construct<'a> {
    Statement,
    Operator,
    Index,
    Macro,
    Cast,
    /// An array, tuple or struct literal.
    Aggregate,
    Expression,
    ConstantArg,
    Method(&'a Ident),
    Constructor(&'a Path),
    Call(Option<&'a Path>),
}

pub const PATTERN: &str =
    "`#[differentiate]` supports `let name = …;`, `let name: Type = …;` and tuples of names, `let (a, b) = …;`: bind one value per name";

pub fn is_iterator_method(m: &Ident) -> bool {
    symbol::ITERATOR_METHODS.contains(&m.to_string().as_str())
}

/// The error for construct `what` in `e`, which reads the differentiated variable `var`.
pub fn not_differentiable(e: &Expr, what: &Construct, var: &str) -> syn::Error {
    let reads = format!("it reads `{var}`, which depends on a differentiated parameter");
    let (tokens, msg) = match what {
        Construct::Method(m) if is_iterator_method(m) => (
            m.to_token_stream(),
            format!("iterator chains are not differentiable ({reads}): write the computation with matrix operations such as `sum()`, `map(|v| …)`, `dot` or `component_mul`"),
        ),
        Construct::Method(m) if *m == "sin_cos" => (
            m.to_token_stream(),
            format!("`sin_cos` is differentiated when its pair is bound by a tuple pattern, and {reads}: write `let (s, c) = x.sin_cos();`, or `x.sin()` and `x.cos()`"),
        ),
        Construct::Method(m) if symbol::FLOAT_METHODS.contains(&m.to_string().as_str()) => (
            m.to_token_stream(),
            format!(
                "no derivative rule for the scalar method `{m}`, and {reads}; scalar functions with a rule: {}",
                symbol::scalar_methods().join(", ")
            ),
        ),
        Construct::Method(m) => (
            m.to_token_stream(),
            format!(
                "no derivative rule for the method `{m}`, and {reads}; matrix methods with a rule: {}, and `map(|v| …)`; scalar functions with a rule: {}",
                symbol::matrix_methods().join(", "),
                symbol::scalar_methods().join(", ")
            ),
        ),
        Construct::Call(Some(p)) => (
            p.to_token_stream(),
            format!(
                "no derivative rule for `{}`, and {reads}: put `#[differentiate]` on it (or declare its rule with `#[custom_vjp(rule)]`), write it with supported operations, or compute it outside and pass it in as a constant",
                path_str(p)
            ),
        ),
        Construct::Call(None) => (e.to_token_stream(), format!("calling this expression is not differentiable, and {reads}")),
        Construct::Constructor(p) => (
            p.to_token_stream(),
            format!(
                "`{}` builds a constant here, but {reads}: the constructors that take differentiated values are `new`, `from_element`, `from_fn`, `from_columns`, `from_rows`, and `from_row_slice`, `from_column_slice`, `from_vec` and `from_iterator` with their entries written out (`&[a, b, …]`, `vec![a, b, …]`, `[a, b, …].into_iter()`); build other matrices from differentiated values with products, `map`, `+` and `-`",
                path_str(p)
            ),
        ),
        Construct::Macro => {
            let path = match e {
                Expr::Macro(m) => m.mac.path.to_token_stream(),
                _ => e.to_token_stream(),
            };
            (path, format!("macros hide code from `#[differentiate]`, and {reads}: write the expression without the macro"))
        }
        Construct::Cast => {
            (e.to_token_stream(), format!("an `as` cast is not differentiable ({reads}): differentiated values stay f32 or f64; remove the cast and write the function in one float type"))
        }
        Construct::Operator => {
            (e.to_token_stream(), format!("this operator is not differentiable ({reads}): the differentiated operators are `+`, `-`, `*`, `/` and unary `-`"))
        }
        Construct::Index => (
            e.to_token_stream(),
            format!("an index must be a constant, but {reads}: compute it from parameters that are not differentiated"),
        ),
        Construct::Aggregate => (
            e.to_token_stream(),
            format!("arrays, tuples and structs of differentiated values are not supported ({reads}): keep each value in its own `let`, or build a matrix with products and sums"),
        ),
        Construct::ConstantArg => (
            e.to_token_stream(),
            format!("this argument must be a constant (it has no derivative), but {reads}: `powi` takes a constant integer exponent; for a differentiated exponent write `x.powf(y)`"),
        ),
        Construct::Statement => (
            e.to_token_stream(),
            format!("this statement is not differentiable ({reads}): bind what it computes with `let`, using supported operations"),
        ),
        Construct::Expression => (
            e.to_token_stream(),
            format!("`#[differentiate]` has no rule for this expression ({reads}); see the README's table of supported operations"),
        ),
    };
    syn::Error::new_spanned(tokens, crate::ctxt::layout(&msg))
}

/// A `map` closure uses the differentiated matrix `name` from outside it.
pub fn captured_matrix(name: &str) -> String {
    format!(
        "a `map` closure can capture differentiated scalars, not the differentiated matrix `{name}`: compute the scalar before the closure (`let e = {name}[0];` or `let e = {name}.sum();`) and use `e` inside it"
    )
}

fn path_str(p: &Path) -> String {
    p.to_token_stream().to_string().replace(' ', "")
}

/// Why a decomposition or one of its fields is refused, and what to write instead.
pub fn decomposition(method: &Ident, field: Option<&Ident>) -> String {
    let fields = "the fields with a rule are `.eigenvalues` and `.eigenvectors` of `symmetric_eigen()`, \
                  `.singular_values`, `.u.unwrap()` and `.v_t.unwrap()` of `svd(…)`";
    match field {
        Some(f) if f == "u" || f == "v_t" => format!(
            "`{method}().{f}` is an `Option`: it is differentiated where it is unwrapped at once; \
             write `{method}(…).{f}.unwrap()` or `{method}(…).{f}.expect(\"…\")`"
        ),
        Some(f) => format!("`{method}().{f}` of a differentiated matrix is not supported; {fields}"),
        None => format!(
            "`{method}()` of a differentiated matrix is only supported followed directly by a field with a rule; \
             {fields}; read each field where the decomposition is computed \
             (`let u = a.clone().svd(true, true).u.unwrap();`)"
        ),
    }
}

/// An exit (`return`, `break`, `continue`) inside an expression rather than as a statement.
pub const EXIT_IN_EXPRESSION: &str = "`return`, `break` and `continue` are supported as statements (in a block, a branch arm, a loop body or a closure), not inside an expression: compute the value first, e.g. `if c { return v; }` or `let y = if c { return v; } else { w };`";

/// A `while` or `loop` inside an expression.
pub const LOOP_IN_EXPRESSION: &str =
    "a loop is supported as a statement, or as `let x = loop { … break value; };`: bind its value with `let` first";
