//! Passes over the IR and the reverse plan, between lowering and emission.
//!
//! - [`simplify`] (IR → IR, before the plan): rewrites that keep what the code computes and make
//!   the reverse sweep cheaper (the trace of a product that nothing else reads, a product with a
//!   transpose that nothing else reads).
//! - [`share`] (part of the reverse plan, and a pass over the reverse program): a scaled identity
//!   `s̄ I` is kept as the scalar `s̄`; what several adjoint rules read is computed once (the
//!   inverse of a factorization, `share::inverses`).
//! - [`signs`] (a pass over the reverse program): the adjoint of `-x` or `c - x` is kept negated,
//!   so that the sign folds into the contributions to it.
//! - [`storage`] (passes over the reverse program): which forward values the reverse sweep
//!   reads, read off the program; from that, which value is moved, borrowed or cloned, and
//!   where; which adjoint borrows another's (`storage::aliases`) and what each step moves
//!   (`storage::moves`).
//!
//! `share` and `storage` write the [`Plan`](crate::reverse::Plan) that `reverse::plan` builds
//! (which ops take part, how many contributions each adjoint gets), and `storage` rewrites the
//! reverse program that `emit` prints.

pub mod share;
pub mod signs;
pub mod simplify;
pub mod storage;
