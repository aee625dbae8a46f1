//! The adjoint rules, one small function per (op, operand), grouped by op family.
//!
//! Every rule takes the forward values it needs and `g`, the adjoint of the op's output, and
//! returns a [`Contrib`](crate::contrib::Contrib) to the operand's adjoint. Sources: the seeds
//! (matrix chain rule; right/left multiplication, elementwise functions, addition,
//! broadcasting, Frobenius norm, sum, quadratic form), M. Giles, "An extended collection of
//! matrix derivative results for forward and reverse mode AD" (2008), and The Matrix Cookbook.

mod arith;
mod dims;
mod element;
mod elementwise;
mod lazy;
mod linalg;
mod loss;
mod matmul;
mod reduce;
mod scalar;
mod structure;
mod svd;
mod tangent;
mod update;
mod vector;

pub use arith::*;
pub use dims::*;
pub use element::*;
pub use elementwise::*;
pub use lazy::*;
pub use linalg::*;
pub use loss::*;
pub use matmul::*;
pub use reduce::*;
pub use scalar::*;
pub use structure::*;
pub use svd::*;
pub use tangent::*;
pub use update::*;
pub use vector::*;
