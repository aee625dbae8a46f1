//! The IR: values and the ops that compute them, each with the span of its syntax.
//!
//! A body is a list of statements in forward order; every value is assigned once (user
//! variables that are shadowed or reassigned become new values). A `map` closure is a body of
//! its own, nested in the op that applies it.

use proc_macro2::{Ident, Span, TokenStream};

use crate::symbol::Rule;

pub type ValueId = usize;

#[derive(Clone, Debug)]
pub enum Kind {
    /// The function's parameter `index`; `is_ref` for `&T`.
    Param { is_ref: bool },
    /// The entry a `map` closure is applied to.
    ClosureParam,
    /// Inside a closure: an outer value it captures.
    Capture { outer: ValueId, is_ref: bool },
    /// The result of a node.
    Node,
    /// A constant expression (a literal, a path to a constant) written out at each use.
    Inline(TokenStream),
}

#[derive(Debug)]
pub struct Value {
    pub ident: Ident,
    pub kind: Kind,
    /// Whether the value depends on a differentiated parameter (is "varied").
    pub active: bool,
    pub span: Span,
}

impl Value {
    /// Whether the generated code holds the value as a reference (`&T` parameters).
    pub fn is_ref(&self) -> bool {
        matches!(self.kind, Kind::Param { is_ref: true } | Kind::Capture { is_ref: true, .. })
    }
}

#[derive(Debug)]
pub enum Op {
    /// An op with a rule: `rule.fwd` applied to `args`.
    Rule { rule: &'static Rule, args: Vec<ValueId> },
    /// `input.map(closure)`.
    Map { input: ValueId, closure: Box<Closure> },
    /// A constant expression, written out with its variables renamed. `inputs` are the
    /// values it reads (only their shapes, or constants).
    Opaque { tokens: TokenStream, inputs: Vec<ValueId> },
}

#[derive(Debug)]
pub struct Node {
    pub out: ValueId,
    pub op: Op,
    pub span: Span,
    /// The type annotation of the `let` that bound it.
    pub ty: Option<syn::Type>,
}

#[derive(Debug)]
pub enum Stmt {
    Node(Box<Node>),
    /// A statement kept as written (an assertion, an item), reading `inputs`.
    Effect {
        tokens: TokenStream,
        inputs: Vec<ValueId>,
    },
}

#[derive(Debug, Default)]
pub struct Body {
    pub stmts: Vec<Stmt>,
    pub ret: Option<ValueId>,
}

#[derive(Debug)]
pub struct Closure {
    /// The closure's parameter (the entry).
    pub param: ValueId,
    /// Capture values inside the closure, paired with the outer values they stand for.
    pub captures: Vec<ValueId>,
    pub body: Body,
}

impl Op {
    /// The values the op reads in the forward pass.
    pub fn inputs(&self, values: &[Value]) -> Vec<ValueId> {
        match self {
            Op::Rule { args, .. } => args.clone(),
            Op::Map { input, closure } => {
                let mut v = vec![*input];
                v.extend(closure.captures.iter().map(|&c| outer_of(values, c)));
                v
            }
            Op::Opaque { inputs, .. } => inputs.clone(),
        }
    }
}

/// The outer value a capture stands for.
pub fn outer_of(values: &[Value], capture: ValueId) -> ValueId {
    match values[capture].kind {
        Kind::Capture { outer, .. } => outer,
        _ => capture,
    }
}
