//! Every name the macro recognises, in one place: methods and functions with a rule, methods
//! that alias their receiver or only read its shape, and constructors of constants.

/// How the forward pass computes an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fwd {
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    /// `base[index]`.
    Index,
    /// `recv.name(args…)`, an nalgebra method.
    Method(&'static str),
    /// `::matgrad::__private::name(args…)`, a scalar function (no_std-safe).
    Runtime(&'static str),
}

/// How an op's adjoint reaches one of its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adj {
    /// `ā += ḡ` (the adjoint is moved at its last use, shared before).
    Pass,
    /// `ā -= ḡ`.
    PassNeg,
    /// `ā += rule(inputs…, [output], &ḡ)`, a runtime function returning a contribution.
    Rule(&'static str),
    /// The operand is not differentiable (an exponent of `powi`, an index): it must be constant.
    Constant,
}

/// An op: its forward form and one adjoint per operand.
#[derive(Debug)]
pub struct Rule {
    pub name: &'static str,
    pub fwd: Fwd,
    pub adj: &'static [Adj],
    /// Whether the adjoint rules read the op's output (as `norm_adj` reads `‖x‖`).
    pub needs_out: bool,
}

macro_rules! rule {
    ($name:literal, $fwd:expr, [$($adj:expr),*], $out:expr) => {
        Rule { name: $name, fwd: $fwd, adj: &[$($adj),*], needs_out: $out }
    };
}

use Adj::{Constant, Pass, PassNeg, Rule as R};

pub static ADD: Rule = rule!("+", Fwd::Add, [Pass, Pass], false);
pub static SUB: Rule = rule!("-", Fwd::Sub, [Pass, PassNeg], false);
pub static MUL: Rule = rule!("*", Fwd::Mul, [R("mul_lhs"), R("mul_rhs")], false);
pub static DIV: Rule = rule!("/", Fwd::Div, [R("div_lhs"), R("div_rhs")], true);
pub static NEG: Rule = rule!("-", Fwd::Neg, [PassNeg], false);
pub static INDEX: Rule = rule!("index", Fwd::Index, [R("index_adj"), Constant], false);

/// Adjoint functions that take every argument (the op's inputs, its output, `ḡ`) by reference or
/// by value: generated code moves a value into them at its last use, and they compute their
/// contribution in its buffer instead of allocating.
const OWNING_ADJ: &[&str] =
    &["norm_squared_adj", "norm_adj", "dot_lhs", "dot_rhs", "sum_adj", "component_mul_lhs", "component_mul_rhs"];

/// Whether the adjoint function `f` accepts its arguments by value (see [`OWNING_ADJ`]).
pub fn takes_owned(f: &str) -> bool {
    OWNING_ADJ.contains(&f)
}

/// Methods on matrices (and `scale`/`add_scalar` on a matrix and a scalar), by name; the arity
/// counts the arguments after the receiver.
static METHODS: &[(usize, Rule)] = &[
    (0, rule!("transpose", Fwd::Method("transpose"), [R("transpose_adj")], false)),
    (1, rule!("tr_mul", Fwd::Method("tr_mul"), [R("tr_mul_lhs"), R("tr_mul_rhs")], false)),
    (1, rule!("component_mul", Fwd::Method("component_mul"), [R("component_mul_lhs"), R("component_mul_rhs")], false)),
    (1, rule!("component_div", Fwd::Method("component_div"), [R("component_div_lhs"), R("component_div_rhs")], false)),
    (1, rule!("dot", Fwd::Method("dot"), [R("dot_lhs"), R("dot_rhs")], false)),
    (0, rule!("norm_squared", Fwd::Method("norm_squared"), [R("norm_squared_adj")], false)),
    (0, rule!("norm", Fwd::Method("norm"), [R("norm_adj")], true)),
    (0, rule!("sum", Fwd::Method("sum"), [R("sum_adj")], false)),
    (0, rule!("trace", Fwd::Method("trace"), [R("trace_adj")], false)),
    (1, rule!("add_scalar", Fwd::Method("add_scalar"), [Pass, R("add_scalar_rhs")], false)),
    (1, rule!("scale", Fwd::Method("scale"), [R("mul_lhs"), R("mul_rhs")], false)),
];

/// Scalar functions, written `x.f(…)` or `T::f(x, …)`; the arity counts the arguments after `x`.
static SCALAR_FNS: &[(usize, Rule)] = &[
    (0, rule!("exp", Fwd::Runtime("exp"), [R("exp_adj")], true)),
    (0, rule!("ln", Fwd::Runtime("ln"), [R("ln_adj")], true)),
    (0, rule!("sqrt", Fwd::Runtime("sqrt"), [R("sqrt_adj")], true)),
    (0, rule!("sin", Fwd::Runtime("sin"), [R("sin_adj")], true)),
    (0, rule!("cos", Fwd::Runtime("cos"), [R("cos_adj")], true)),
    (0, rule!("tan", Fwd::Runtime("tan"), [R("tan_adj")], true)),
    (0, rule!("sinh", Fwd::Runtime("sinh"), [R("sinh_adj")], true)),
    (0, rule!("cosh", Fwd::Runtime("cosh"), [R("cosh_adj")], true)),
    (0, rule!("tanh", Fwd::Runtime("tanh"), [R("tanh_adj")], true)),
    (0, rule!("abs", Fwd::Runtime("abs"), [R("abs_adj")], true)),
    (0, rule!("recip", Fwd::Runtime("recip"), [R("recip_adj")], true)),
    (1, rule!("powi", Fwd::Runtime("powi"), [R("powi_adj"), Constant], true)),
    (1, rule!("powf", Fwd::Runtime("powf"), [R("powf_base_adj"), R("powf_exp_adj")], true)),
    (1, rule!("max", Fwd::Runtime("max"), [R("max_lhs_adj"), R("max_rhs_adj")], true)),
    (1, rule!("min", Fwd::Runtime("min"), [R("min_lhs_adj"), R("min_rhs_adj")], true)),
];

fn find(table: &'static [(usize, Rule)], name: &str, arity: usize) -> Option<&'static Rule> {
    table.iter().find(|(n, r)| r.name == name && *n == arity).map(|(_, r)| r)
}

/// The rule of method `name` called with `arity` arguments, on a matrix or a scalar.
pub fn method(name: &str, arity: usize) -> Option<&'static Rule> {
    find(METHODS, name, arity).or_else(|| find(SCALAR_FNS, name, arity))
}

/// The rule of a scalar function called by path, `f64::exp(x)` or `T::powf(x, p)`.
pub fn scalar_fn(name: &str, nargs: usize) -> Option<&'static Rule> {
    nargs.checked_sub(1).and_then(|arity| find(SCALAR_FNS, name, arity))
}

/// Every method name with a rule, for "did you mean" lists.
pub fn known_methods() -> impl Iterator<Item = &'static str> {
    METHODS.iter().chain(SCALAR_FNS).map(|(_, r)| r.name)
}

/// Methods that return their receiver's value unchanged.
pub const ALIAS_METHODS: &[&str] = &["clone", "clone_owned", "into_owned", "to_owned"];

/// Methods that read only a shape: their result is a constant.
pub const SHAPE_METHODS: &[&str] = &["nrows", "ncols", "len", "shape", "is_empty", "is_square", "shape_generic"];

/// Macros whose statements are kept as written in `_grad`: they read values without producing one.
pub const EFFECT_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "println",
    "eprintln",
    "print",
    "eprint",
];

/// Iterator methods: a chain through them has no rule (reported as an iterator chain).
pub const ITERATOR_METHODS: &[&str] =
    &["iter", "into_iter", "iter_mut", "fold", "row_iter", "column_iter", "for_each", "sum_by", "product"];

/// Associated functions that build matrices from constants.
pub const CONSTRUCTORS: &[&str] = &[
    "zeros",
    "zeros_generic",
    "from_element",
    "from_element_generic",
    "identity",
    "identity_generic",
    "repeat",
    "from_fn",
    "from_fn_generic",
    "from_row_slice",
    "from_column_slice",
    "from_vec",
    "from_iterator",
    "from_row_iterator",
    "from_diagonal_element",
    "from_rows",
    "from_columns",
    "new",
    "x",
    "y",
    "z",
    "w",
    "from_partial_diagonal",
    "ith",
];

/// nalgebra matrix and vector type names: parameters of these types are differentiated by
/// default.
pub fn is_matrix_type(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "Matrix",
        "OMatrix",
        "SMatrix",
        "DMatrix",
        "Vector",
        "OVector",
        "SVector",
        "DVector",
        "RowVector",
        "RowOVector",
        "RowSVector",
        "RowDVector",
    ];
    if NAMES.contains(&name) {
        return true;
    }
    // Matrix1 … Matrix6, Matrix2x3, Vector3, RowVector4, MatrixXx3, …
    let rest =
        name.strip_prefix("RowVector").or_else(|| name.strip_prefix("Vector")).or_else(|| name.strip_prefix("Matrix"));
    rest.is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || c == 'x' || c == 'X'))
}

/// Types that are never differentiated.
pub fn is_constant_type(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "usize", "isize", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128", "bool", "char", "str",
        "String",
    ];
    NAMES.contains(&name)
}

/// The float scalar types.
pub fn is_float_type(name: &str) -> bool {
    name == "f32" || name == "f64"
}
