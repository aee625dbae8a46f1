//! Passes over the IR and the reverse plan, between lowering and emission.
//!
//! - [`simplify`] (IR → IR, before the plan): rewrites that keep what the code computes and make
//!   the reverse sweep cheaper (the trace of a product that nothing else reads, a product with a
//!   transpose that nothing else reads).
//! - [`identities`] (a pass over the reverse program): a scaled identity `s̄ I` (a trace's
//!   adjoint) is kept as the scalar `s̄` where its operand's op has adjoints for that, and so is
//!   `s̄ Bᵀ` for the left factor of such a product.
//! - [`share`] (a pass over the reverse program): what several adjoint rules read is computed
//!   once (the inverse of a factorization, `share::inverses`).
//! - [`signs`] (a pass over the reverse program): the adjoint of `-x` or `c - x` is kept negated,
//!   so that the sign folds into the contributions to it.
//! - [`places`] (a pass over the reverse program): the adjoint of a field of a collection's
//!   element (`layer.w` in `for layer in &p.layers`) is added into that field of the
//!   collection's adjoint, where that exists before the loop, instead of through a whole
//!   element's adjoint.
//! - [`storage`] (passes over the reverse program): which forward values the reverse sweep
//!   reads, read off the program; from that, which value is moved, borrowed or cloned, and
//!   where; which adjoint borrows another's (`storage::aliases`) and what each step moves
//!   (`storage::moves`).
//!
//! [`reverse`] runs reverse mode: the [`Plan`] that `reverse::plan` builds (which ops take part,
//! how many contributions each adjoint gets), completed by `storage`, and the reverse program
//! written plainly from it and rewritten by `identities`, `share`, `signs`, `places` and
//! `storage`, which `emit` prints. The passes depend on `reverse` and `ir`, never the other way.

pub mod identities;
pub mod places;
pub mod share;
pub mod signs;
pub mod simplify;
pub mod storage;

use crate::ir::{Body, Value};
use crate::reverse::{self, program, Plan};

/// Reverse mode for `body`: the plan of [`reverse::plan`], then the passes, in order, that
/// decide the rest and write and rewrite the reverse program that `emit` prints.
pub fn reverse(values: &[Value], body: &Body) -> Plan {
    let mut p = reverse::plan(values, body);
    let mut prog = program::build(values, body, &p);
    identities::scaled(values, body, &mut p, &mut prog);
    share::inverses(values, body, &p, &mut prog);
    storage::reverse_reads(values, body, &mut p, &prog);
    storage::run(values, body, &mut p);
    signs::fold(values, body, &p, &mut prog);
    places::fields(body, &mut prog);
    storage::aliases(body, &p, &mut prog);
    storage::moves(body, &p, &mut prog);
    p.program = prog;
    p
}
