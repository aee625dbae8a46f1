//! How a rule's contribution reaches an adjoint.
//!
//! Generated code writes the first contribution to an adjoint as
//! `let d = init(rule(..));` and every later one as `add_to(&mut d, rule(..))`, so an adjoint
//! is never a matrix of zeros added to. A rule returns either an owned adjoint (moved in by
//! `init`) or a lazy value that knows how to accumulate in place (a product added with `gemm`).

use crate::value::Adjoint;

/// One contribution to an adjoint.
pub trait Contrib: Sized {
    /// The adjoint type this contributes to.
    type Adj: Adjoint;
    /// The contribution as a new adjoint (the first one).
    fn init(self) -> Self::Adj;
    /// `acc += contribution`.
    fn add_to(self, acc: &mut Self::Adj);
    /// `acc -= contribution`.
    fn sub_from(self, acc: &mut Self::Adj) {
        acc.sub_assign_ref(&self.init());
    }
    /// The negated contribution as a new adjoint. Contributions that scale something override
    /// it to fold the sign into the scaling (one pass instead of two).
    fn init_neg(self) -> Self::Adj {
        let mut a = self.init();
        a.neg_in_place();
        a
    }
}

impl<A: Adjoint> Contrib for A {
    type Adj = A;
    #[inline(always)]
    fn init(self) -> A {
        self
    }
    #[inline(always)]
    fn add_to(self, acc: &mut A) {
        acc.add_assign_ref(&self);
    }
    #[inline(always)]
    fn sub_from(self, acc: &mut A) {
        acc.sub_assign_ref(&self);
    }
}

/// An adjoint still needed later, contributed by reference (cloned only if it starts an adjoint).
pub struct Shared<'a, A>(pub &'a A);

impl<A: Adjoint> Contrib for Shared<'_, A> {
    type Adj = A;
    #[inline(always)]
    fn init(self) -> A {
        self.0.clone()
    }
    #[inline(always)]
    fn add_to(self, acc: &mut A) {
        acc.add_assign_ref(self.0);
    }
    #[inline(always)]
    fn sub_from(self, acc: &mut A) {
        acc.sub_assign_ref(self.0);
    }
}

/// The negation of a contribution.
pub struct Neg<C>(pub C);

impl<C: Contrib> Contrib for Neg<C> {
    type Adj = C::Adj;
    #[inline(always)]
    fn init(self) -> C::Adj {
        self.0.init_neg()
    }
    #[inline(always)]
    fn add_to(self, acc: &mut C::Adj) {
        self.0.sub_from(acc);
    }
    #[inline(always)]
    fn sub_from(self, acc: &mut C::Adj) {
        self.0.add_to(acc);
    }
    #[inline(always)]
    fn init_neg(self) -> C::Adj {
        self.0.init()
    }
}

/// Starts an adjoint with its first contribution.
#[inline(always)]
pub fn init<C: Contrib>(c: C) -> C::Adj {
    c.init()
}

/// Adds a contribution to an adjoint.
#[inline(always)]
pub fn add_to<C: Contrib>(acc: &mut C::Adj, c: C) {
    // The zeros of a placeholder (see `control::Placeholder`) are 0×0 where the shape is dynamic:
    // an empty adjoint takes its first contribution's shape.
    match acc.is_empty_adjoint() {
        true => *acc = c.init(),
        false => c.add_to(acc),
    }
}

/// Contributes an adjoint that is still needed afterwards.
#[inline(always)]
pub fn shared<A: Adjoint>(a: &A) -> Shared<'_, A> {
    Shared(a)
}
