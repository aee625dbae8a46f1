//! Every name the macro recognises, in one place: methods and functions with a rule, methods
//! that alias their receiver or only read its shape, and constructors of constants; and the
//! names `#[derive(Differentiable)]` gives the methods it generates for each field, which
//! generated code calls.

/// A field's name or index, as written.
pub fn member_str(m: &syn::Member) -> String {
    match m {
        syn::Member::Named(i) => i.to_string(),
        syn::Member::Unnamed(i) => i.index.to_string(),
    }
}

/// The name of the slot method `#[derive(Differentiable)]` generates for a field.
pub fn slot_method(m: &syn::Member) -> syn::Ident {
    quote::format_ident!("__matgrad_slot_{}", member_str(m))
}

/// The name of the constructor `#[derive(Differentiable)]` generates for a field: zeros shaped
/// like the struct with that field given (how a gradient whose field's adjoint is known whole
/// starts, without zeros for that field).
pub fn with_method(m: &syn::Member) -> syn::Ident {
    quote::format_ident!("__matgrad_with_{}", member_str(m))
}

/// The name of the accessor `#[derive(Differentiable)]` generates for a skipped field: how a
/// field of a differentiated struct is read as a constant.
pub fn const_method(m: &syn::Member) -> syn::Ident {
    quote::format_ident!("__matgrad_const_{}", member_str(m))
}

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
    /// `(a * b).trace()`: the value computed as the user's code computes it (the same bits);
    /// its rule differs from a product and a trace in its adjoints only.
    TraceOfProduct,
    /// `x.transpose() * b` with the transpose read by the product alone (see
    /// `passes::simplify`): computed as written, differentiated as `xᵀ b`.
    TransposeMul,
    /// `a * x.transpose()`, likewise: differentiated as `a xᵀ`.
    MulTranspose,
    /// `(a, b, …)`: the values a function returning several ends with (each moved at its last
    /// use, cloned before).
    Tuple,
    /// `*r`: the value a reference points to, copied.
    Deref,
    /// `adj_type(&v)`: the type of `v`'s adjoint, a value of no size (see [`ADJ_TYPE`]).
    AdjType,
    /// `&x`: a reference the user's code binds (`let y = &x;`).
    Ref,
    /// `&base[index]`: an element of a collection field of a struct (`p.layers[k]`), borrowed.
    Element,
    /// `&base.member`: a field of a struct value (`layer.w` for `layer` an element of
    /// `p.layers`), borrowed.
    Member,
    /// `recv.name(args…)`, an nalgebra method.
    Method(&'static str),
    /// `::matgrad::__private::name(args…)`, a scalar function (no_std-safe) or a helper.
    Runtime(&'static str),
    /// `recv.name(args…)` where the method takes its receiver by value (`lu`): the receiver is
    /// moved when nothing reads it afterwards, cloned otherwise (`take`; a factorization, whose
    /// methods take `&self`, is lent).
    Consume(&'static str),
    /// `recv.name(args…).unwrap()` for a method returning an `Option`; `.expect(msg)` when the op
    /// has one argument more than the rule has adjoints (the message, last). `consume` as for
    /// [`Fwd::Consume`].
    Unwrap {
        name: &'static str,
        consume: bool,
    },
    /// `recv.name::<…>(args…)`: the turbofish is the op's last argument, an inline value past
    /// the rule's operands.
    Turbofish(&'static str),
    /// `recv.name(args…).field`, the method consuming its receiver as for [`Fwd::Consume`].
    Field {
        name: &'static str,
        field: &'static str,
    },
    /// `recv.name(args…).field.unwrap()` (`.expect(msg)` as for [`Fwd::Unwrap`]): an `Option`
    /// field of a decomposition (`svd(true, true).u`), the method consuming its receiver.
    FieldUnwrap {
        name: &'static str,
        field: &'static str,
    },
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
    /// `ā += f(&ḡ)`: a contribution computed from the adjoint alone (`row_sum(Ḡ)` for a
    /// broadcast bias), so the reverse pass keeps no forward value for it.
    OfAdjoint(&'static str),
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
    /// The op and its adjoints in the seeds' notation, for the derivation text.
    pub note: Note,
    /// What the share pass (`passes::share::inverse`) knows of the op and the inverse of its
    /// first operand (a factorization).
    pub inverse: Inverse,
    /// The adjoints when the op's value is read by a trace alone, whose adjoint `s̄ I` is then
    /// never formed: they take `s̄` in place of `Ḡ`. Empty when the op has none.
    pub of_identity: &'static [Adj],
    /// The [`Rule::of_identity`] adjoints read the inverse of operand 0 (passed before `s̄`).
    pub identity_reads_inverse: bool,
    /// The op's adjoint to its operand is `ḡ I` (`trace`): where the operand's op has
    /// [`Rule::of_identity`] adjoints and nothing else reads the operand, it is kept as `ḡ`.
    pub seeds_identity: bool,
    /// With its adjoint `s̄ I` kept as `s̄`, the op (`a * b`) contributes `s̄ Bᵀ` to its left
    /// operand: where that operand's op has [`Rule::of_traced_lhs`] adjoints and nothing else
    /// contributes to it, it is kept as `s̄`, and the product `P = A B` for that op's adjoints.
    pub seeds_traced_lhs: bool,
    /// The adjoints when the op's value `A` is the left factor of a product `P = A B` that a
    /// trace alone reads, so that `Ā = s̄ Bᵀ`: they take the product `P` (after the operands
    /// and output) and `s̄` in place of `Ḡ`, and cost a product with `P` where `Ā` would cost
    /// two (`chol.inverse()`: `S̄ −= s̄ sym(P C)`). Empty when the op has none.
    pub of_traced_lhs: &'static [Adj],
    /// The adjoint functions of [`Rule::adj`] take every argument (the op's inputs, its output,
    /// `ḡ`) by reference or by value: generated code moves a value into them at its last use, and they compute
    /// their contribution in its buffer instead of allocating.
    pub owning: bool,
    /// A runtime helper (`Fwd::Runtime`) that takes its first operand by value when it is an
    /// owned matrix nothing reads afterwards (an in-place update, a broadcast).
    pub moves_first: bool,
    /// A view of its receiver (`x.column(j)`): the receiver is not moved while the view lives.
    pub view: bool,
    /// A matrix method whose arguments after the receiver are scalars (`add_scalar`, `scale`).
    pub scalar_args: bool,
    /// How forward mode differentiates the op (see [`Tangent`]).
    pub tangent: Tangent,
    /// The in-place method the op stands for takes its index before its value
    /// (`m.set_column(j, &v)`), the op after (`set_column(m, &v, j)`).
    pub index_first: bool,
    /// The op's value is a copy of its operand that keeps the operand's kind (`clone` of a view
    /// is a view, `&x` a reference): not an owned value whatever the operand is.
    pub copies_kind: bool,
    /// How the op runs in an elementwise closure evaluated over lanes (see [`Lanes`]).
    pub lanes: Lanes,
    /// The operands its [`Adj::Rule`] adjoints read (and are passed), by index: all of them
    /// when `None`. An operand none reads is not kept for the reverse pass (the forward pass
    /// may move it).
    pub adjoint_reads: Option<&'static [usize]>,
    /// For a scalar function whose derivative is a function of its value (`tanh`: 1 − y²), the
    /// op of `x.map(|v| f(v))` that stores no derivative: its reverse sweep computes `Ḡ ⊙ f′(Y)`
    /// from the values (see `passes::simplify::value_maps`).
    pub value_map: Option<&'static Rule>,
}

/// How an op of an elementwise closure runs over lanes (several entries at once, the
/// runtime's `lanes` module, whose functions of the same names the lane closure calls): the
/// closure has a lane form when every op of it has one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lanes {
    /// No lane form: the closure keeps the scalar path.
    None,
    /// `+ − × ÷` and unary `−`.
    Arithmetic,
    /// A compare-and-select or a bit operation (`abs`, `max`, `min`), which LLVM vectorises on
    /// the scalar path too: a closure of these and arithmetic alone keeps the scalar path.
    Select,
    /// A vectorised kernel in place of a libm call (`ln`, `tanh`, …).
    Kernel,
    /// A vectorised kernel where FMA is enabled, else each entry's scalar call (`exp`): the
    /// runtime takes the scalar closure of a closure reading one where the build's lanes lack FMA
    /// and no lanes are chosen at run time (`lanes::EXP_IN_LANES`), where lanes would only pack
    /// and unpack the entries.
    FmaKernel,
}

/// The tangent rule of an op, for the ones that follow from a property of the op: `tangent`'s
/// rules build `ẏ` from the op itself. The others have a rule of their own there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tangent {
    /// A rule of its own in `tangent` (or none: forward mode refuses the op).
    Own,
    /// Linear in its first operand, the others constants: `ẏ = L(ȧ)`.
    Linear,
    /// Linear in all its differentiated operands together: `ẏ = L(ȧ, ḃ, …)`.
    Joint,
    /// Bilinear: `ẏ = B(ȧ, b) + B(a, ḃ)`.
    Bilinear,
}

/// An op and the inverse of its first operand, for sharing it: one inverse per factorization is
/// computed, the function's own when it has one, for every rule that reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inverse {
    /// Neither.
    None,
    /// The op's value is that inverse (`chol.inverse()`).
    Is,
    /// The op's adjoints read it, passed after the operands (and output) and before `ḡ`.
    Read,
}

impl Rule {
    /// An op with its forward form, its adjoints, whether they read its output, and its
    /// notation; every other property at its default (`rule!` writes this).
    pub const fn new(name: &'static str, fwd: Fwd, adj: &'static [Adj], needs_out: bool, note: Note) -> Rule {
        Rule {
            name,
            fwd,
            adj,
            needs_out,
            note,
            inverse: Inverse::None,
            of_identity: &[],
            identity_reads_inverse: false,
            seeds_identity: false,
            seeds_traced_lhs: false,
            of_traced_lhs: &[],
            owning: false,
            moves_first: false,
            view: false,
            scalar_args: false,
            tangent: Tangent::Own,
            index_first: false,
            copies_kind: false,
            lanes: Lanes::None,
            adjoint_reads: None,
            value_map: None,
        }
    }

    /// The operands its [`Adj::Rule`] adjoints read, by index (see [`Rule::adjoint_reads`]).
    pub fn adjoint_operands(&self) -> Vec<usize> {
        match self.adjoint_reads {
            Some(k) => k.to_vec(),
            None => (0..self.adj.len()).collect(),
        }
    }

    const fn adjoint_reads(self, operands: &'static [usize]) -> Rule {
        Rule { adjoint_reads: Some(operands), ..self }
    }

    const fn value_map(self, map: &'static Rule) -> Rule {
        Rule { value_map: Some(map), ..self }
    }

    const fn lanes(self, lanes: Lanes) -> Rule {
        Rule { lanes, ..self }
    }

    const fn linear(self) -> Rule {
        Rule { tangent: Tangent::Linear, ..self }
    }

    const fn joint(self) -> Rule {
        Rule { tangent: Tangent::Joint, ..self }
    }

    const fn bilinear(self) -> Rule {
        Rule { tangent: Tangent::Bilinear, ..self }
    }

    const fn index_first(self) -> Rule {
        Rule { index_first: true, ..self }
    }

    const fn copies_kind(self) -> Rule {
        Rule { copies_kind: true, ..self }
    }

    const fn reads_inverse(self) -> Rule {
        Rule { inverse: Inverse::Read, ..self }
    }

    const fn inverts(self) -> Rule {
        Rule { inverse: Inverse::Is, ..self }
    }

    const fn of_identity(self, of_identity: &'static [Adj], identity_reads_inverse: bool) -> Rule {
        Rule { of_identity, identity_reads_inverse, ..self }
    }

    const fn seeds_identity(self) -> Rule {
        Rule { seeds_identity: true, ..self }
    }

    const fn seeds_traced_lhs(self) -> Rule {
        Rule { seeds_traced_lhs: true, ..self }
    }

    const fn of_traced_lhs(self, of_traced_lhs: &'static [Adj]) -> Rule {
        Rule { of_traced_lhs, ..self }
    }

    const fn owning(self) -> Rule {
        Rule { owning: true, ..self }
    }

    const fn moves_first(self) -> Rule {
        Rule { moves_first: true, ..self }
    }

    const fn view(self) -> Rule {
        Rule { view: true, ..self }
    }

    const fn scalar_args(self) -> Rule {
        Rule { scalar_args: true, ..self }
    }

    /// Whether the adjoints used (`of_identity` when the plan keeps `s̄ I` as `s̄`) read the
    /// inverse of operand 0.
    /// Whether the op's forward form can take operand `k` by value: an operator's operands, the
    /// receiver of a method consuming it, the first operand of a runtime helper that
    /// [`Rule::moves_first`]. The forward pass moves it there when nothing reads it afterwards
    /// (`passes::storage`).
    pub fn takes_by_value(&self, k: usize) -> bool {
        match self.fwd {
            Fwd::Add | Fwd::Sub | Fwd::Mul | Fwd::Div | Fwd::Neg | Fwd::TraceOfProduct | Fwd::Tuple => true,
            // (the transposed factor is read through its `transpose()`)
            Fwd::TransposeMul => k == 1,
            Fwd::MulTranspose => k == 0,
            Fwd::Consume(_) | Fwd::Field { .. } | Fwd::FieldUnwrap { .. } => k == 0,
            Fwd::Unwrap { consume, .. } => consume && k == 0,
            Fwd::Runtime(_) => k == 0 && self.moves_first && self.adj.first().is_some_and(|a| *a != Adj::Constant),
            Fwd::Method(_)
            | Fwd::Turbofish(_)
            | Fwd::Index
            | Fwd::Element
            | Fwd::Member
            | Fwd::Ref
            | Fwd::AdjType
            | Fwd::Deref => false,
        }
    }

    pub fn reads_inverse_with(&self, of_identity: bool) -> bool {
        self.inverse == Inverse::Read || (of_identity && self.identity_reads_inverse)
    }
}

/// Whether an op's value is a scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// Always (`norm_squared`, `dot`, `trace`).
    Scalar,
    /// When every operand is (`a * b`, `exp`); a matrix otherwise.
    Like,
}

/// How the derivation (`derivation.rs`) writes an op: its value and, per operand, the
/// contribution to that operand's adjoint. In a template, `$k` is operand `k` (parenthesised
/// when compound), `$g` the adjoint of the op's value, `$y` the value; `{k}`, `{g}`, `{y}` are
/// the same never parenthesised (inside ⟨·,·⟩, ‖·‖, a function's parentheses). `ᵀ` after a
/// scalar is dropped.
#[derive(Clone, Copy, Debug)]
pub struct Note {
    pub value: &'static str,
    pub adj: &'static [&'static str],
    /// Per operand, its contribution when it is a scalar and the value a matrix (`s X`:
    /// `s̄ += ⟨Ḡ, X⟩`); an empty entry, or none, when it is the same as `adj`'s.
    pub broadcast: &'static [&'static str],
    pub out: Out,
}

impl Note {
    /// No notation given: the derivation writes the op by its name (the default of `rule!`).
    #[allow(dead_code)]
    pub const NONE: Note = Note { value: "", adj: &[], broadcast: &[], out: Out::Like };

    pub const fn new(value: &'static str, adj: &'static [&'static str]) -> Note {
        Note { value, adj, broadcast: &[], out: Out::Like }
    }

    /// The op's value is a scalar whatever its operands.
    pub const fn scalar(self) -> Note {
        Note { out: Out::Scalar, ..self }
    }

    pub const fn broadcast(self, broadcast: &'static [&'static str]) -> Note {
        Note { broadcast, ..self }
    }
}

/// `rule!(name, fwd, [adjoints…], needs_out)`, optionally followed by its [`Note`].
macro_rules! rule {
    ($name:literal, $fwd:expr, [$($adj:expr),*], $out:expr) => {
        rule!($name, $fwd, [$($adj),*], $out, Note::NONE)
    };
    ($name:literal, $fwd:expr, [$($adj:expr),*], $out:expr, $note:expr) => {
        Rule::new($name, $fwd, &[$($adj),*], $out, $note)
    };
}

/// A row of [`VALUE_MAPS`]: the runtime's map and its adjoint, with their notation.
macro_rules! value_map_rule {
    ($map:literal, $adj:literal, $value:literal, $note:literal) => {
        rule!($map, Fwd::Runtime($map), [R($adj)], true, n($value, &[$note])).moves_first().owning().adjoint_reads(&[])
    };
}

const fn n(value: &'static str, adj: &'static [&'static str]) -> Note {
    Note::new(value, adj)
}

use Adj::{Constant, OfAdjoint, Pass, PassNeg, Rule as R};

/// `a + b` and `a - b` (and `+=`, `-=`) outside `map` closures carry, past their two operands,
/// the [`ADJ_TYPE`] of each differentiated operand (the operand itself for a constant one):
/// nalgebra adds operands of one shape whose dimension types differ (`DMatrix + RowDVector`),
/// and each operand's adjoint keeps its own type, Ḡ converted into it where they differ.
pub static ADD: Rule =
    rule!("+", Fwd::Add, [Pass, Pass], false, n("{0} + {1}", &["{g}", "{g}"])).lanes(Lanes::Arithmetic);
pub static SUB: Rule =
    rule!("-", Fwd::Sub, [Pass, PassNeg], false, n("{0} − $1", &["{g}", "−$g"])).lanes(Lanes::Arithmetic);
/// The type of an operand's adjoint, computed where the operand is alive (the forward pass may
/// move it) and read by the reverse pass of a sum: a value of no size, never differentiated.
pub static ADJ_TYPE: Rule = rule!("adj_type", Fwd::AdjType, [Constant], false, n("{0}", &[]));

/// The operands whose [`ADJ_TYPE`] an op of `rule` carries: both of a sum (see [`ADD`]), the
/// column of `set_column` and the row of `set_row` (`m.set_column(0, &v)` with `m` a `DMatrix`
/// and `v` a `Vector3`: the adjoint of `v` is a column of `m`'s).
pub fn adj_type_operands(rule: &Rule) -> &'static [usize] {
    let is = |other: &Rule| std::ptr::eq(rule, other);
    match () {
        _ if is(&ADD) || is(&SUB) => &[0, 1],
        _ if is(&SET_COLUMN) || is(&SET_ROW) => &[1],
        _ => &[],
    }
}

/// The [`ADJ_TYPE`] of operand `k` of an op of `rule` with arguments `args`, if it carries
/// one: after the operands, one argument per operand (read only for a differentiated operand
/// in [`adj_type_operands`]).
pub fn adj_type_of<V: Copy>(rule: &Rule, args: &[V], k: usize) -> Option<V> {
    adj_type_operands(rule).contains(&k).then(|| args.get(rule.adj.len() + k).copied()).flatten()
}
pub static MUL: Rule = rule!(
    "*",
    Fwd::Mul,
    [R("mul_lhs"), R("mul_rhs")],
    false,
    n("$0 $1", &["$g $1ᵀ", "$0ᵀ $g"]).broadcast(&["⟨{g}, {1}⟩", "⟨{0}, {g}⟩"])
)
.of_identity(&[R("trace_mul_lhs"), R("trace_mul_rhs")], false)
.seeds_traced_lhs()
.lanes(Lanes::Arithmetic);
pub static DIV: Rule = rule!(
    "/",
    Fwd::Div,
    [R("div_lhs"), R("div_rhs")],
    true,
    n("$0 / $1", &["$g / $1", "−$g $0 / $1²"]).broadcast(&["", "−⟨{g}, {0}⟩ / $1²"])
)
.lanes(Lanes::Arithmetic);
pub static NEG: Rule = rule!("-", Fwd::Neg, [PassNeg], false, n("−$0", &["−$g"])).lanes(Lanes::Arithmetic);
pub static REF: Rule = rule!("&", Fwd::Ref, [Pass], false, n("{0}", &["{g}"])).copies_kind();
pub static DEREF: Rule = rule!("*", Fwd::Deref, [Pass], false, n("{0}", &["{g}"]));
/// `(a, b, …)` and `t.K`: the values of a function returning several, and a caller's part of
/// them. The adjoint of a tuple is the tuple of its parts' adjoints.
pub static TUPLES: [Rule; 3] = [
    rule!(
        "tuple",
        Fwd::Tuple,
        [OfAdjoint("tuple_part0"), OfAdjoint("tuple_part1")],
        false,
        n("({0}, {1})", &["{g}.0", "{g}.1"])
    ),
    rule!(
        "tuple",
        Fwd::Tuple,
        [OfAdjoint("tuple_part0"), OfAdjoint("tuple_part1"), OfAdjoint("tuple_part2")],
        false,
        n("({0}, {1}, {2})", &["{g}.0", "{g}.1", "{g}.2"])
    ),
    rule!(
        "tuple",
        Fwd::Tuple,
        [OfAdjoint("tuple_part0"), OfAdjoint("tuple_part1"), OfAdjoint("tuple_part2"), OfAdjoint("tuple_part3")],
        false,
        n("({0}, {1}, {2}, {3})", &["{g}.0", "{g}.1", "{g}.2", "{g}.3"])
    ),
];

/// `tr(A B)` read by nothing else (see `passes::simplify`): Ā += s̄ Bᵀ, B̄ += s̄ Aᵀ, without the
/// products with s̄ I.
pub static TRACE_MUL: Rule = rule!(
    "trace_mul",
    Fwd::TraceOfProduct,
    [R("trace_mul_lhs"), R("trace_mul_rhs")],
    false,
    n("tr($0 $1)", &["$g $1ᵀ", "$g $0ᵀ"]).scalar()
);

/// `x.transpose() * b` with the transpose read by the product alone (see `passes::simplify`):
/// X̄ += B Ḡᵀ, B̄ += X Ḡ, with no transposed copy of a contribution to X̄.
pub static TRANSPOSE_MUL: Rule = rule!(
    "transpose_mul",
    Fwd::TransposeMul,
    [R("transpose_mul_lhs"), R("transpose_mul_rhs")],
    false,
    n("$0ᵀ $1", &["$1 $gᵀ", "$0 $g"])
);

/// `a * x.transpose()` with the transpose read by the product alone: Ā += Ḡ X, X̄ += Ḡᵀ A.
pub static MUL_TRANSPOSE: Rule = rule!(
    "mul_transpose",
    Fwd::MulTranspose,
    [R("mul_transpose_lhs"), R("mul_transpose_rhs")],
    false,
    n("$0 $1ᵀ", &["$g $1", "$gᵀ $0"])
);

/// `t.0` … `t.3` of a tuple a called function returned.
pub static TUPLE_FIELDS: [Rule; 4] = [
    rule!("tuple_field", Fwd::Runtime("tuple_field0"), [R("tuple_field0_adj")], false, n("{0}.0", &["({g}, 0, …)"]))
        .linear(),
    rule!("tuple_field", Fwd::Runtime("tuple_field1"), [R("tuple_field1_adj")], false, n("{0}.1", &["(0, {g}, …)"]))
        .linear(),
    rule!("tuple_field", Fwd::Runtime("tuple_field2"), [R("tuple_field2_adj")], false, n("{0}.2", &["(0, 0, {g}, …)"]))
        .linear(),
    rule!(
        "tuple_field",
        Fwd::Runtime("tuple_field3"),
        [R("tuple_field3_adj")],
        false,
        n("{0}.3", &["(0, 0, 0, {g}, …)"])
    )
    .linear(),
];

pub static INDEX: Rule =
    rule!("index", Fwd::Index, [R("index_adj"), Constant], false, n("$0[{1}]", &["$g E[{1}]"]).scalar());
/// `&p.layers[k]`: an element of a collection field of a struct parameter, borrowed.
pub static ELEMENT: Rule =
    rule!("index", Fwd::Element, [R("element_adj"), Constant], false, n("{0}[{1}]", &["{g} at [{1}]"]));
/// `&s.f`: a field of a struct value that is not a parameter (an element of a collection field,
/// `layer.w` in `for layer in &p.layers`), borrowed. Operands: the struct, the member, and the
/// slot `#[derive(Differentiable)]` writes for it (`|s| s.__matgrad_slot_w()`), through which
/// the adjoint `member_adj` puts Ḡ in that field of the struct's.
pub static MEMBER: Rule =
    rule!("member", Fwd::Member, [R("member_adj"), Constant, Constant], false, n("{0}.{1}", &["{g} in field {1}"]))
        .adjoint_reads(&[0, 2]);

/// Methods on matrices (and `scale`/`add_scalar` on a matrix and a scalar), by name; the arity
/// counts the arguments after the receiver.
static METHODS: &[(usize, Rule)] = &[
    (0, rule!("transpose", Fwd::Method("transpose"), [R("transpose_adj")], false, n("$0ᵀ", &["$gᵀ"])).linear()),
    (
        1,
        rule!(
            "tr_mul",
            Fwd::Method("tr_mul"),
            [R("tr_mul_lhs"), R("tr_mul_rhs")],
            false,
            n("$0ᵀ $1", &["$1 $gᵀ", "$0 $g"])
        )
        .bilinear(),
    ),
    (
        1,
        rule!(
            "component_mul",
            Fwd::Method("component_mul"),
            [R("component_mul_lhs"), R("component_mul_rhs")],
            false,
            n("$0 ⊙ $1", &["$g ⊙ $1", "$g ⊙ $0"])
        )
        .bilinear()
        .owning(),
    ),
    (
        1,
        rule!(
            "component_div",
            Fwd::Method("component_div"),
            [R("component_div_lhs"), R("component_div_rhs")],
            false,
            n("$0 ⊘ $1", &["$g ⊘ $1", "−$g ⊙ $0 ⊘ $1²"])
        ),
    ),
    (
        1,
        rule!(
            "dot",
            Fwd::Method("dot"),
            [R("dot_lhs"), R("dot_rhs")],
            false,
            n("⟨{0}, {1}⟩", &["$g $1", "$g $0"]).scalar()
        )
        .bilinear()
        .owning(),
    ),
    (
        0,
        rule!(
            "norm_squared",
            Fwd::Method("norm_squared"),
            [R("norm_squared_adj")],
            false,
            n("‖{0}‖²_F", &["2$g $0"]).scalar()
        )
        .owning(),
    ),
    (
        0,
        rule!("norm", Fwd::Method("norm"), [R("norm_adj")], true, n("‖{0}‖_F", &["$g $0 / ‖{0}‖_F"]).scalar()).owning(),
    ),
    (0, rule!("sum", Fwd::Method("sum"), [R("sum_adj")], false, n("Σ $0", &["$g 11ᵀ"]).scalar()).linear().owning()),
    (
        0,
        rule!("trace", Fwd::Method("trace"), [R("trace_adj")], false, n("tr({0})", &["$g I"]).scalar())
            .linear()
            .seeds_identity(),
    ),
    (
        1,
        rule!(
            "add_scalar",
            Fwd::Method("add_scalar"),
            [Pass, R("add_scalar_rhs")],
            false,
            n("{0} + $1 11ᵀ", &["{g}", "Σ $g"])
        )
        .joint()
        .scalar_args(),
    ),
    (
        1,
        rule!("scale", Fwd::Method("scale"), [R("mul_lhs"), R("mul_rhs")], false, n("$1 $0", &["$1 $g", "⟨{g}, {0}⟩"]))
            .bilinear()
            .scalar_args(),
    ),
    // linear algebra (rules/linalg.rs); `solve`, `inverse`, `l`, `ln_determinant` on a Cholesky
    // factorization, `solve` also on an LU one (see UNWRAPPED).
    (
        0,
        rule!(
            "determinant",
            Fwd::Method("determinant"),
            [R("determinant_adj")],
            true,
            n("det({0})", &["$g $y $0⁻ᵀ"]).scalar()
        ),
    ),
    (
        0,
        rule!(
            "ln_determinant",
            Fwd::Method("ln_determinant"),
            [R("ln_determinant_adj")],
            false,
            n("ln det({0})", &["$g $0⁻¹"]).scalar()
        )
        .reads_inverse(),
    ),
    (
        0,
        rule!("inverse", Fwd::Method("inverse"), [R("chol_inverse_adj")], true, n("$0⁻¹", &["−$y sym({g}) $y"]))
            .inverts()
            .of_traced_lhs(&[R("chol_inverse_adj_of_trace")]),
    ),
    (0, rule!("l", Fwd::Method("l"), [R("chol_l_adj")], true, n("L({0})", &["½ $y⁻ᵀ copyltu($yᵀ tril({g})) $y⁻¹"]))),
    (
        1,
        rule!(
            "solve",
            Fwd::Method("solve"),
            [R("solve_lhs"), R("solve_rhs")],
            true,
            n("$0⁻¹ $1", &["−sym($0⁻¹ $g $yᵀ)", "$0⁻¹ $g"])
        )
        .of_identity(&[R("solve_lhs_of_identity"), R("solve_rhs_of_identity")], true),
    ),
    (0, rule!("lu", Fwd::Consume("lu"), [Pass], false, n("lu({0})", &["{g}"]))),
    (
        0,
        rule!(
            "symmetric_eigenvalues",
            Fwd::Method("symmetric_eigenvalues"),
            [R("symmetric_eigenvalues_adj")],
            false,
            n("λ({0})", &["U diag({g}) Uᵀ"])
        ),
    ),
    (
        0,
        rule!(
            "singular_values",
            Fwd::Method("singular_values"),
            [R("singular_values_adj")],
            false,
            n("σ({0})", &["U diag({g}) Vᵀ"])
        ),
    ),
    (
        1,
        rule!(
            "pow",
            Fwd::Method("pow"),
            [R("pow_adj"), Constant],
            false,
            n("$0^{1}", &["Σⱼ ($0ᵀ)ʲ $g ($0ᵀ)^({1} − 1 − j)"])
        ),
    ),
    // reductions and structure (rules/structure.rs)
    (0, rule!("row_sum", Fwd::Method("row_sum"), [R("row_sum_adj")], false, n("1ᵀ $0", &["1 $g"])).linear()),
    (0, rule!("column_sum", Fwd::Method("column_sum"), [R("column_sum_adj")], false, n("$0 1", &["$g 1ᵀ"])).linear()),
    (
        0,
        rule!("mean", Fwd::Method("mean"), [R("mean_adj")], false, n("mean({0})", &["$g 11ᵀ / len({0})"]).scalar())
            .linear(),
    ),
    (
        0,
        rule!(
            "row_mean",
            Fwd::Method("row_mean"),
            [R("row_mean_adj")],
            false,
            n("1ᵀ $0 / nrows({0})", &["1 $g / nrows({0})"])
        )
        .linear(),
    ),
    (
        0,
        rule!(
            "column_mean",
            Fwd::Method("column_mean"),
            [R("column_mean_adj")],
            false,
            n("$0 1 / ncols({0})", &["$g 1ᵀ / ncols({0})"])
        )
        .linear(),
    ),
    (0, rule!("max", Fwd::Method("max"), [R("max_adj")], true, n("max({0})", &["$g E[argmax {0}]"]).scalar())),
    (0, rule!("min", Fwd::Method("min"), [R("min_adj")], true, n("min({0})", &["$g E[argmin {0}]"]).scalar())),
    (
        0,
        rule!(
            "amax",
            Fwd::Method("amax"),
            [R("amax_adj")],
            true,
            n("max |{0}|", &["$g sign({0}) ⊙ E[argmax |{0}|]"]).scalar()
        ),
    ),
    (
        1,
        rule!(
            "sup",
            Fwd::Method("sup"),
            [R("sup_lhs"), R("sup_rhs")],
            false,
            n("sup({0}, {1})", &["$g ⊙ 1[{0} ≥ {1}]", "$g ⊙ 1[{0} < {1}]"])
        ),
    ),
    (
        1,
        rule!(
            "inf",
            Fwd::Method("inf"),
            [R("inf_lhs"), R("inf_rhs")],
            false,
            n("inf({0}, {1})", &["$g ⊙ 1[{0} ≤ {1}]", "$g ⊙ 1[{0} > {1}]"])
        ),
    ),
    (
        1,
        rule!("row", Fwd::Method("row"), [R("row_adj"), Constant], false, n("$0[{1}, :]", &["$g placed in row {1}"]))
            .linear()
            .view(),
    ),
    (
        1,
        rule!(
            "column",
            Fwd::Method("column"),
            [R("column_adj"), Constant],
            false,
            n("$0[:, {1}]", &["$g placed in column {1}"])
        )
        .linear()
        .view(),
    ),
    (
        2,
        rule!(
            "rows",
            Fwd::Method("rows"),
            [R("rows_adj"), Constant, Constant],
            false,
            n("$0[{1} .. {1} + {2}, :]", &["$g placed in rows {1} .. {1} + {2}"])
        )
        .linear()
        .view(),
    ),
    (
        2,
        rule!(
            "columns",
            Fwd::Method("columns"),
            [R("columns_adj"), Constant, Constant],
            false,
            n("$0[:, {1} .. {1} + {2}]", &["$g placed in columns {1} .. {1} + {2}"])
        )
        .linear()
        .view(),
    ),
    (
        2,
        rule!(
            "view",
            Fwd::Method("view"),
            [R("view_adj"), Constant, Constant],
            false,
            n("view({0}, {1}, {2})", &["$g placed in view({1}, {2})"])
        )
        .linear()
        .view(),
    ),
    (
        0,
        rule!("diagonal", Fwd::Method("diagonal"), [R("diagonal_adj")], false, n("diag({0})", &["Diag({g})"])).linear(),
    ),
    (
        1,
        rule!(
            "kronecker",
            Fwd::Method("kronecker"),
            [R("kronecker_lhs"), R("kronecker_rhs")],
            false,
            n("$0 ⊗ $1", &["(⟨{g}₍ᵢⱼ₎, {1}⟩)ᵢⱼ", "Σᵢⱼ ({0})ᵢⱼ {g}₍ᵢⱼ₎"])
        )
        .bilinear(),
    ),
    (
        1,
        rule!(
            "select_rows",
            Fwd::Method("select_rows"),
            [R("select_rows_adj"), Constant],
            false,
            n("$0[{1}, :]", &["$g scattered to rows {1}"])
        )
        .linear(),
    ),
    (
        1,
        rule!(
            "select_columns",
            Fwd::Method("select_columns"),
            [R("select_columns_adj"), Constant],
            false,
            n("$0[:, {1}]", &["$g scattered to columns {1}"])
        )
        .linear(),
    ),
    (1, rule!("cross", Fwd::Method("cross"), [R("cross_lhs"), R("cross_rhs")], false).bilinear()),
    (0, rule!("normalize", Fwd::Method("normalize"), [R("normalize_adj")], true)),
    (1, rule!("lp_norm", Fwd::Method("lp_norm"), [R("lp_norm_adj"), Constant], true)),
    (
        2,
        rule!(
            "reshape_generic",
            Fwd::Consume("reshape_generic"),
            [R("reshape_generic_adj"), Constant, Constant],
            false,
            n("reshape({0}, {1}, {2})", &["$g reshaped back"])
        )
        .linear(),
    ),
];

/// Methods written with a turbofish (`x.fixed_view::<2, 1>(i, j)`), by name and arity.
static TURBOFISH: &[(usize, Rule)] = &[
    (
        2,
        rule!(
            "fixed_view",
            Fwd::Turbofish("fixed_view"),
            [R("fixed_view_adj"), Constant, Constant],
            false,
            n("view({0}, {1}, {2})", &["$g placed in view({1}, {2})"])
        )
        .linear()
        .view(),
    ),
    (
        1,
        rule!(
            "fixed_rows",
            Fwd::Turbofish("fixed_rows"),
            [R("fixed_rows_adj"), Constant],
            false,
            n("$0[rows from {1}]", &["$g placed in rows from {1}"])
        )
        .linear()
        .view(),
    ),
    (
        1,
        rule!(
            "fixed_columns",
            Fwd::Turbofish("fixed_columns"),
            [R("fixed_columns_adj"), Constant],
            false,
            n("$0[columns from {1}]", &["$g placed in columns from {1}"])
        )
        .linear()
        .view(),
    ),
];

/// Whether the op's result borrows its receiver (a view: `row`, `columns`, `fixed_view`, …),
/// so that the receiver must outlive it.
pub fn borrows_receiver(rule: &Rule) -> bool {
    rule.view
}

/// The rule of `recv.name::<…>(args…)`.
pub fn turbofish(name: &str, arity: usize) -> Option<&'static Rule> {
    find(TURBOFISH, name, arity)
}

/// Methods returning an `Option`, differentiated when `.unwrap()` or `.expect(msg)` follows
/// them directly (`s.clone().cholesky().unwrap()`); the arity counts the method's arguments.
static UNWRAPPED: &[(usize, Rule)] = &[
    (
        0,
        rule!(
            "try_inverse",
            Fwd::Unwrap { name: "try_inverse", consume: true },
            [R("try_inverse_adj")],
            true,
            n("$0⁻¹", &["−$yᵀ $g $yᵀ"])
        )
        .of_traced_lhs(&[R("try_inverse_adj_of_trace")]),
    ),
    (0, rule!("cholesky", Fwd::Unwrap { name: "cholesky", consume: true }, [Pass], false, n("chol({0})", &["{g}"]))),
    (
        1,
        rule!(
            "solve",
            Fwd::Unwrap { name: "solve", consume: false },
            [R("solve_lhs"), R("solve_rhs")],
            true,
            n("$0⁻¹ $1", &["−$0⁻ᵀ $g $yᵀ", "$0⁻ᵀ $g"])
        )
        .of_identity(&[R("solve_lhs_of_identity"), R("solve_rhs_of_identity")], true),
    ),
    (
        1,
        rule!(
            "solve_lower_triangular",
            Fwd::Unwrap { name: "solve_lower_triangular", consume: false },
            [R("solve_lower_triangular_lhs"), R("solve_lower_triangular_rhs")],
            true,
            n("$0⁻¹ $1", &["−tril($0⁻ᵀ $g $yᵀ)", "$0⁻ᵀ $g"])
        ),
    ),
    (
        1,
        rule!(
            "solve_upper_triangular",
            Fwd::Unwrap { name: "solve_upper_triangular", consume: false },
            [R("solve_upper_triangular_lhs"), R("solve_upper_triangular_rhs")],
            true,
            n("$0⁻¹ $1", &["−triu($0⁻ᵀ $g $yᵀ)", "$0⁻ᵀ $g"])
        ),
    ),
];

/// The rule of `recv.name(args).unwrap()` (or `.expect(msg)`), `arity` counting `args`.
pub fn unwrapped(name: &str, arity: usize) -> Option<&'static Rule> {
    find(UNWRAPPED, name, arity)
}

/// Whether `name(…)` with `arity` arguments is a method whose `Option` result must be
/// unwrapped where it is called (`solve` on a Cholesky factorization returns no `Option`).
pub fn returns_option(name: &str, arity: usize) -> bool {
    unwrapped(name, arity).is_some() && method(name, arity).is_none()
}

/// Fields of decompositions with a rule: the values, and the symmetric eigenvectors (the
/// singular vectors, `Option`s, are in `UNWRAPPED_FIELDS`).
static FIELDS: &[(usize, Rule)] = &[
    (
        0,
        rule!(
            "symmetric_eigen",
            Fwd::Field { name: "symmetric_eigen", field: "eigenvalues" },
            [R("symmetric_eigenvalues_adj")],
            false,
            n("λ({0})", &["U diag({g}) Uᵀ"])
        ),
    ),
    (
        0,
        rule!(
            "symmetric_eigen",
            Fwd::Field { name: "symmetric_eigen", field: "eigenvectors" },
            [R("symmetric_eigenvectors_adj")],
            false
        ),
    ),
    (
        2,
        rule!(
            "svd",
            Fwd::Field { name: "svd", field: "singular_values" },
            [R("svd_singular_values_adj"), Constant, Constant],
            false,
            n("σ({0})", &["U diag({g}) Vᵀ"])
        ),
    ),
];

/// `Option` fields of decompositions with a rule, differentiated when `.unwrap()` or
/// `.expect("…")` follows them directly: the singular vectors (rules/svd.rs).
static UNWRAPPED_FIELDS: &[(usize, Rule)] = &[
    (
        2,
        rule!(
            "svd",
            Fwd::FieldUnwrap { name: "svd", field: "u" },
            [R("svd_u_adj"), Constant, Constant],
            false,
            n("U({0})", &["[U (F ⊙ (Uᵀ$g − $gᵀU)) Σ + (I − UUᵀ) $g Σ⁻¹] Vᵀ"])
        ),
    ),
    (
        2,
        rule!(
            "svd",
            Fwd::FieldUnwrap { name: "svd", field: "v_t" },
            [R("svd_v_t_adj"), Constant, Constant],
            false,
            n("Vᵀ({0})", &["U [Σ (F ⊙ (Vᵀ$gᵀ − $g V)) Vᵀ + Σ⁻¹ $g (I − VVᵀ)]"])
        ),
    ),
];

/// The rule of `a.method(args…).field.unwrap()` (`a.svd(true, true).u.unwrap()`, `.v_t`).
pub fn decomposition_field_unwrapped(method: &str, arity: usize, field: &str) -> Option<&'static Rule> {
    UNWRAPPED_FIELDS
        .iter()
        .find(|(n, r)| {
            *n == arity && matches!(r.fwd, Fwd::FieldUnwrap { name, field: f } if name == method && f == field)
        })
        .map(|(_, r)| r)
}

/// The rule of `a.method(args…).field` (`a.symmetric_eigen().eigenvalues`, `.eigenvectors`,
/// `a.svd(u, v).singular_values`), `arity` counting `args`.
pub fn decomposition_field(method: &str, arity: usize, field: &str) -> Option<&'static Rule> {
    FIELDS
        .iter()
        .find(|(n, r)| *n == arity && matches!(r.fwd, Fwd::Field { name, field: f } if name == method && f == field))
        .map(|(_, r)| r)
}

/// Decompositions into values and vectors: the fields with a rule are in `decomposition_field`.
pub const DECOMPOSITIONS: &[&str] = &["symmetric_eigen", "svd", "svd_unordered"];

/// Helper functions of `matgrad` (`matgrad::softmax_rows(&z)`), by name and argument count.
static HELPERS: &[(usize, Rule)] = &[
    (
        2,
        rule!(
            "add_row_vector",
            Fwd::Runtime("add_row_vector"),
            [Pass, OfAdjoint("row_sum_of")],
            false,
            n("{0} + 1 $1", &["{g}", "1ᵀ $g"])
        )
        .joint()
        .moves_first(),
    ),
    (
        2,
        rule!(
            "add_column_vector",
            Fwd::Runtime("add_column_vector"),
            [Pass, OfAdjoint("column_sum_of")],
            false,
            n("{0} + $1 1ᵀ", &["{g}", "$g 1"])
        )
        .joint()
        .moves_first(),
    ),
    (
        1,
        rule!(
            "softmax_rows",
            Fwd::Runtime("softmax_rows"),
            [R("softmax_rows_adj")],
            true,
            n("softmax({0})", &["$y ⊙ ({g} − ($g ⊙ $y) 1 1ᵀ)"])
        ),
    ),
    (
        1,
        rule!(
            "logsumexp_rows",
            Fwd::Runtime("logsumexp_rows"),
            [R("logsumexp_rows_adj")],
            true,
            n("lse({0})", &["Diag({g}) softmax({0})"])
        ),
    ),
    (
        2,
        rule!(
            "cross_entropy",
            Fwd::Runtime("cross_entropy"),
            [R("cross_entropy_lhs"), R("cross_entropy_rhs")],
            false,
            n("CE({0}, {1})", &["$g (softmax({0}) ⊙ $1 1 1ᵀ − $1) / nrows({0})", "$g (lse({0}) 1ᵀ − $0) / nrows({0})"])
                .scalar()
        ),
    ),
    (
        2,
        rule!(
            "quadform",
            Fwd::Runtime("quadform"),
            [R("quadform_lhs"), R("quadform_rhs")],
            false,
            n("$1ᵀ $0 $1", &["$1 $g $1ᵀ", "$0 $1 $gᵀ + $0ᵀ $1 $g"])
        ),
    ),
];

/// The rule of `matgrad::name(args…)`.
pub fn helper(name: &str, nargs: usize) -> Option<&'static Rule> {
    find(HELPERS, name, nargs)
}

/// `stack![a, b; c, d]` (nalgebra's concatenation) is lowered to block rows of `hstack`
/// joined by `vstack`.
pub const STACK_MACRO: &str = "stack";
pub static HSTACK: Rule = rule!(
    "hstack",
    Fwd::Runtime("hstack"),
    [R("hstack_lhs"), R("hstack_rhs")],
    false,
    n("[{0} {1}]", &["$g[:, ..ncols({0})]", "$g[:, ncols({0})..]"])
)
.joint();
pub static VSTACK: Rule = rule!(
    "vstack",
    Fwd::Runtime("vstack"),
    [R("vstack_lhs"), R("vstack_rhs")],
    false,
    n("[{0}; {1}]", &["$g[..nrows({0}), :]", "$g[nrows({0}).., :]"])
)
.joint();

/// In-place updates as new values (rules/update.rs): `m[k] = e` (also what a constructor of
/// differentiated entries becomes), `m.set_column(j, &v)`, `m.set_row(i, &v)`, `m.fill(s)`,
/// `m.fill_diagonal(s)`, `m.swap_rows(i, j)`, `m.swap_columns(i, j)`; the matrix first, the
/// indices last. Their adjoints read only `Ḡ` and the indices.
pub static SET_ENTRY: Rule = rule!(
    "set_entry",
    Fwd::Runtime("set_entry"),
    [OfAdjoint("set_entry_base"), OfAdjoint("entry_of"), Constant],
    false,
    n("($0 with [{2}] = {1})", &["($g with [{2}] = 0)", "$g[{2}]"])
)
.joint()
.moves_first();
pub static SET_COLUMN: Rule = rule!(
    "set_column",
    Fwd::Runtime("set_column"),
    [OfAdjoint("set_column_base"), OfAdjoint("column_of"), Constant],
    false,
    n("($0 with column {2} = {1})", &["($g with column {2} = 0)", "$g[:, {2}]"])
)
.joint()
.moves_first()
.index_first();
pub static SET_ROW: Rule = rule!(
    "set_row",
    Fwd::Runtime("set_row"),
    [OfAdjoint("set_row_base"), OfAdjoint("row_of"), Constant],
    false,
    n("($0 with row {2} = {1})", &["($g with row {2} = 0)", "$g[{2}, :]"])
)
.joint()
.moves_first()
.index_first();
pub static FILL: Rule = rule!(
    "fill",
    Fwd::Runtime("fill"),
    [OfAdjoint("overwritten"), OfAdjoint("sum_of")],
    false,
    n("($0 with every entry {1})", &["0", "⟨{g}, 1⟩"])
)
.joint()
.moves_first();
pub static FILL_DIAGONAL: Rule = rule!(
    "fill_diagonal",
    Fwd::Runtime("fill_diagonal"),
    [OfAdjoint("fill_diagonal_base"), OfAdjoint("diagonal_sum_of")],
    false,
    n("($0 with diagonal {1})", &["($g with diagonal 0)", "Σᵢ $g[(i, i)]"])
)
.joint()
.moves_first();
pub static SWAP_ROWS: Rule = rule!(
    "swap_rows",
    Fwd::Runtime("swap_rows"),
    [OfAdjoint("swap_rows_adj"), Constant, Constant],
    false,
    n("($0 with rows {1} and {2} swapped)", &["($g with rows {1} and {2} swapped)"])
)
.linear()
.moves_first();
pub static SWAP_COLUMNS: Rule = rule!(
    "swap_columns",
    Fwd::Runtime("swap_columns"),
    [OfAdjoint("swap_columns_adj"), Constant, Constant],
    false,
    n("($0 with columns {1} and {2} swapped)", &["($g with columns {1} and {2} swapped)"])
)
.linear()
.moves_first();

/// In-place methods written as statements (`m.fill(s);`), by name and arity: the rule of the
/// new value (`m.scale_mut(s)` is `m = m.scale(s)`). The receiver is the rule's first operand;
/// `set_column(j, &v)` and `set_row(i, &v)` take their index last (see [`Rule::index_first`]).
pub fn in_place(name: &str, arity: usize) -> Option<&'static Rule> {
    let rule = match (name, arity) {
        ("set_column", 2) => &SET_COLUMN,
        ("set_row", 2) => &SET_ROW,
        ("fill", 1) => &FILL,
        ("fill_diagonal", 1) => &FILL_DIAGONAL,
        ("swap_rows", 2) => &SWAP_ROWS,
        ("swap_columns", 2) => &SWAP_COLUMNS,
        ("component_mul_assign", 1) => return method("component_mul", 1),
        ("component_div_assign", 1) => return method("component_div", 1),
        ("scale_mut", 1) => return method("scale", 1),
        ("add_scalar_mut", 1) => return method("add_scalar", 1),
        _ => return None,
    };
    Some(rule)
}

/// `Matrix::from_diagonal(&d)`: the one constructor whose argument is differentiated.
pub static FROM_DIAGONAL: Rule = rule!(
    "from_diagonal",
    Fwd::Runtime("from_diagonal"),
    [R("from_diagonal_adj")],
    false,
    n("Diag({0})", &["diag({g})"])
)
.linear();

/// `x.map(|v| v.f())` for the scalar functions `f` whose derivative is a function of their
/// value (each row's [`Rule::value_map`]): the map's values over lanes (the input moved in when
/// dead), and `Ḡ ⊙ f′(Y)` computed from them in the reverse sweep, in `Ḡ`'s buffer, reading
/// neither the input nor a stored derivative.
pub static VALUE_MAPS: [Rule; 4] = [
    value_map_rule!("map_tanh", "map_tanh_adj", "tanh.({0})", "$g ⊙ (1 − $y²)"),
    value_map_rule!("map_exp", "map_exp_adj", "exp.({0})", "$g ⊙ $y"),
    value_map_rule!("map_sqrt", "map_sqrt_adj", "√.({0})", "$g ⊘ (2$y)"),
    value_map_rule!("map_recip", "map_recip_adj", "1 ⊘ {0}", "−$g ⊙ $y²"),
];

/// Scalar functions, written `x.f(…)` or `T::f(x, …)`; the arity counts the arguments after `x`.
static SCALAR_FNS: &[(usize, Rule)] = &[
    (
        0,
        rule!("exp", Fwd::Runtime("exp"), [R("exp_adj")], true, n("exp({0})", &["$g $y"]))
            .lanes(Lanes::FmaKernel)
            .value_map(&VALUE_MAPS[1]),
    ),
    (0, rule!("ln", Fwd::Runtime("ln"), [R("ln_adj")], true, n("ln({0})", &["$g / $0"])).lanes(Lanes::Kernel)),
    (
        0,
        rule!("sqrt", Fwd::Runtime("sqrt"), [R("sqrt_adj")], true, n("√$0", &["$g / (2$y)"]))
            .lanes(Lanes::Kernel)
            .value_map(&VALUE_MAPS[2]),
    ),
    (0, rule!("sin", Fwd::Runtime("sin"), [R("sin_adj")], true, n("sin({0})", &["$g cos({0})"]))),
    (0, rule!("cos", Fwd::Runtime("cos"), [R("cos_adj")], true, n("cos({0})", &["−$g sin({0})"]))),
    (0, rule!("tan", Fwd::Runtime("tan"), [R("tan_adj")], true, n("tan({0})", &["$g (1 + $y²)"]))),
    (0, rule!("sinh", Fwd::Runtime("sinh"), [R("sinh_adj")], true, n("sinh({0})", &["$g cosh({0})"]))),
    (0, rule!("cosh", Fwd::Runtime("cosh"), [R("cosh_adj")], true, n("cosh({0})", &["$g sinh({0})"]))),
    (
        0,
        rule!("tanh", Fwd::Runtime("tanh"), [R("tanh_adj")], true, n("tanh({0})", &["$g (1 − $y²)"]))
            .lanes(Lanes::Kernel)
            .value_map(&VALUE_MAPS[0]),
    ),
    (0, rule!("abs", Fwd::Runtime("abs"), [R("abs_adj")], true, n("|{0}|", &["$g sign({0})"])).lanes(Lanes::Select)),
    (
        0,
        rule!("recip", Fwd::Runtime("recip"), [R("recip_adj")], true, n("1 / $0", &["−$g $y²"]))
            .lanes(Lanes::Kernel)
            .value_map(&VALUE_MAPS[3]),
    ),
    (
        1,
        rule!("powi", Fwd::Runtime("powi"), [R("powi_adj"), Constant], true, n("$0^{1}", &["{1} $g $0^({1} − 1)"]))
            .lanes(Lanes::Kernel),
    ),
    (
        1,
        rule!(
            "powf",
            Fwd::Runtime("powf"),
            [R("powf_base_adj"), R("powf_exp_adj")],
            true,
            n("$0^$1", &["$1 $g $0^($1 − 1)", "$g $y ln($0)"])
        ),
    ),
    (
        1,
        rule!(
            "max",
            Fwd::Runtime("max"),
            [R("max_lhs_adj"), R("max_rhs_adj")],
            true,
            n("max({0}, {1})", &["$g 1[{0} > {1}]", "$g 1[{0} ≤ {1}]"])
        )
        .lanes(Lanes::Select),
    ),
    (
        1,
        rule!(
            "min",
            Fwd::Runtime("min"),
            [R("min_lhs_adj"), R("min_rhs_adj")],
            true,
            n("min({0}, {1})", &["$g 1[{0} < {1}]", "$g 1[{0} ≥ {1}]"])
        )
        .lanes(Lanes::Select),
    ),
    (0, rule!("ln_1p", Fwd::Runtime("ln_1p"), [R("ln_1p_adj")], true)),
    (0, rule!("exp_m1", Fwd::Runtime("exp_m1"), [R("exp_m1_adj")], true)),
    (0, rule!("log2", Fwd::Runtime("log2"), [R("log2_adj")], true)),
    (0, rule!("log10", Fwd::Runtime("log10"), [R("log10_adj")], true)),
    (0, rule!("asin", Fwd::Runtime("asin"), [R("asin_adj")], true)),
    (0, rule!("acos", Fwd::Runtime("acos"), [R("acos_adj")], true)),
    (0, rule!("atan", Fwd::Runtime("atan"), [R("atan_adj")], true)),
    (0, rule!("asinh", Fwd::Runtime("asinh"), [R("asinh_adj")], true)),
    (0, rule!("acosh", Fwd::Runtime("acosh"), [R("acosh_adj")], true)),
    (0, rule!("atanh", Fwd::Runtime("atanh"), [R("atanh_adj")], true)),
    (0, rule!("cbrt", Fwd::Runtime("cbrt"), [R("cbrt_adj")], true)),
    (0, rule!("signum", Fwd::Runtime("signum"), [R("signum_adj")], true)),
    (1, rule!("atan2", Fwd::Runtime("atan2"), [R("atan2_lhs_adj"), R("atan2_rhs_adj")], true)),
    (1, rule!("hypot", Fwd::Runtime("hypot"), [R("hypot_lhs_adj"), R("hypot_rhs_adj")], true)),
    (1, rule!("log", Fwd::Runtime("log"), [R("log_x_adj"), R("log_b_adj")], true)),
    (2, rule!("clamp", Fwd::Runtime("clamp"), [R("clamp_x_adj"), R("clamp_lo_adj"), R("clamp_hi_adj")], true)),
    (2, rule!("mul_add", Fwd::Runtime("mul_add"), [R("mul_add_x_adj"), R("mul_add_a_adj"), R("mul_add_b_adj")], true)),
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

/// How many leading operands of `rule` are matrices: the receiver and matrix arguments of a
/// matrix method, the base of an index; 0 for scalar ops.
pub fn matrix_operands(rule: &Rule) -> usize {
    if std::ptr::eq(rule, &INDEX) || std::ptr::eq(rule, &ELEMENT) {
        return 1;
    }
    match METHODS.iter().find(|(_, r)| std::ptr::eq(r, rule)) {
        Some((_, r)) if r.scalar_args => 1,
        Some((arity, _)) => arity + 1,
        None => 0,
    }
}

/// Every matrix method name with a rule, for "did you mean" lists.
pub fn matrix_methods() -> Vec<&'static str> {
    names(METHODS.iter().chain(UNWRAPPED).chain(TURBOFISH))
}

/// Every scalar function with a rule, for "did you mean" lists.
pub fn scalar_methods() -> Vec<&'static str> {
    names(SCALAR_FNS.iter())
}

fn names<'a>(rules: impl Iterator<Item = &'a (usize, Rule)>) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for (_, r) in rules {
        if !names.contains(&r.name) {
            names.push(r.name);
        }
    }
    names
}

/// Methods that copy their receiver's value: the adjoint passes through. `clone_owned` and
/// `into_owned` make an owned matrix of a view; `clone` and `to_owned` keep a view a view and
/// make a matrix of a reference.
static COPIES: &[(usize, Rule)] = &[
    (0, rule!("clone", Fwd::Method("clone"), [Pass], false, n("{0}", &["{g}"])).linear().copies_kind()),
    (0, rule!("clone_owned", Fwd::Method("clone_owned"), [Pass], false, n("{0}", &["{g}"])).linear()),
    (0, rule!("into_owned", Fwd::Consume("into_owned"), [Pass], false, n("{0}", &["{g}"])).linear()),
    (0, rule!("to_owned", Fwd::Method("to_owned"), [Pass], false, n("{0}", &["{g}"])).linear().copies_kind()),
];

/// The rule of `recv.name()` copying its receiver (see [`COPIES`]).
pub fn copy(name: &str, arity: usize) -> Option<&'static Rule> {
    find(COPIES, name, arity)
}

/// Whether the op's result is an owned value (a matrix, a factorization, a scalar) whatever its
/// operands are: not a view, nor a copy that may be one (`clone` of a view).
pub fn returns_owned(rule: &Rule) -> bool {
    !borrows_receiver(rule) && !rule.copies_kind
}

/// Methods of `f32`/`f64` (and not of nalgebra matrices) that have no rule: a call to one is on
/// a scalar, so its error lists only the scalar functions.
pub const FLOAT_METHODS: &[&str] = &[
    "exp2",
    "to_degrees",
    "to_radians",
    "floor",
    "ceil",
    "round",
    "round_ties_even",
    "trunc",
    "fract",
    "sin_cos",
    "rem_euclid",
    "div_euclid",
    "copysign",
    "sinc",
    "sinhc",
    "cosc",
    "coshc",
    "powc",
    "sinh_cosh",
    "total_cmp",
    "to_bits",
    "gamma",
    "ln_gamma",
    "erf",
    "erfc",
];

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

/// Paths into the standard library and nalgebra: their functions have no pullback.
pub fn is_std_path(path: &syn::Path) -> bool {
    let first = path.segments.first().map(|s| s.ident.to_string()).unwrap_or_default();
    ["std", "core", "alloc", "nalgebra", "na", "f32", "f64", "matgrad"].contains(&first.as_str())
}

/// `#[differentiable(skip)]`: the attribute of `#[derive(Differentiable)]` and its one key.
pub const DIFFERENTIABLE_ATTR: &str = "differentiable";
pub const SKIP: &str = "skip";

/// Whether an op on scalars has a lane form in `::matgrad::__private::lanes` (forward function
/// and adjoint rules of the same names): what a `map` closure evaluated over lanes may contain.
pub fn has_lane_form(rule: &Rule) -> bool {
    rule.lanes != Lanes::None
}

/// The names the runtime's `lanes` module defines beside the lane ops' own: what generated
/// closures call around the ops (borrows, seeds, accumulation, a shared value, negation).
const LANE_PLUMBING: &[&str] = &["by_ref", "one_like", "init", "add_to", "shared", "Neg"];

/// Whether `::matgrad::__private::lanes` defines `name`: the plumbing, and each lane op's
/// forward function and adjoint rules (with the meaning of the same names in
/// `::matgrad::__private`, over lanes).
pub fn is_lane_name(name: &str) -> bool {
    let arithmetic = [&ADD, &SUB, &MUL, &DIV, &NEG];
    let ops = arithmetic.into_iter().chain(SCALAR_FNS.iter().map(|(_, r)| r)).filter(|r| has_lane_form(r));
    LANE_PLUMBING.contains(&name)
        || ops.into_iter().any(|r| {
            matches!(r.fwd, Fwd::Runtime(f) if f == name)
                || r.adj.iter().any(|a| matches!(a, Adj::Rule(f) if *f == name))
        })
}
