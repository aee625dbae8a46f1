//! Passes over the IR and the reverse plan, between lowering and emission.
//!
//! - [`simplify`] (IR → IR, before the plan): rewrites that keep what the code computes and make
//!   the reverse sweep cheaper (the trace of a product that nothing else reads).

pub mod simplify;
