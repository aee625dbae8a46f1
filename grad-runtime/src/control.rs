//! What generated code needs for control flow and composition: tapes that keep each loop
//! iteration's values for the reverse pass, and the gradient slots of a pullback.

use crate::value::{Adjoint, Value};

/// A loop's tape when its trip count is a compile-time constant `N`: an array on the stack.
///
/// `push` and `pop` work as a stack; generated code pushes once per iteration, so the tape is
/// never full.
pub struct FixedTape<T, const N: usize> {
    items: [Option<T>; N],
    len: usize,
}

impl<T, const N: usize> FixedTape<T, N> {
    /// An empty tape.
    #[inline(always)]
    pub fn new() -> Self {
        FixedTape { items: [const { None }; N], len: 0 }
    }

    /// Keeps one iteration's values.
    ///
    /// # Panics
    /// If the tape holds `N` iterations already (the loop ran more often than its range says).
    #[inline(always)]
    pub fn push(&mut self, item: T) {
        assert!(self.len < N, "matgrad: a loop ran more than its {N} iterations");
        self.items[self.len] = Some(item);
        self.len += 1;
    }

    /// The last iteration's values, removed.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<T> {
        self.len = self.len.checked_sub(1)?;
        self.items[self.len].take()
    }
}

impl<T, const N: usize> Default for FixedTape<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The tape of a loop that runs exactly `N` times (a constant range, no `break`): an array on
/// the stack, written and read at the iteration's index, which generated code counts in a local
/// of its own. With the count outside the array, a loop the compiler unrolls reads and writes
/// the tape at constant indices, so its entries stay in registers (no stack traffic, no
/// `Option` tags); [`FixedTape`]'s length, beside the entries in memory, keeps them there.
pub struct ExactTape<T, const N: usize> {
    items: [Option<T>; N],
}

impl<T, const N: usize> ExactTape<T, N> {
    /// An empty tape.
    #[inline(always)]
    pub fn new() -> Self {
        ExactTape { items: [const { None }; N] }
    }

    /// Keeps iteration `k`'s values.
    ///
    /// # Panics
    /// If `k ≥ N` (the loop ran more often than its range says).
    #[inline(always)]
    pub fn put(&mut self, k: usize, item: T) {
        assert!(k < N, "matgrad: a loop ran more than its {N} iterations");
        self.items[k] = Some(item);
    }

    /// Iteration `k`'s values, removed.
    ///
    /// # Panics
    /// If iteration `k` was not kept (generated code takes each iteration it kept once).
    #[inline(always)]
    pub fn take(&mut self, k: usize) -> T {
        match self.items.get_mut(k).and_then(Option::take) {
            Some(item) => item,
            None => panic!("matgrad: a loop's tape has no iteration {k}"),
        }
    }
}

impl<T, const N: usize> Default for ExactTape<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A loop's tape with room for `R·C` iterations (one per entry of an `R×C` matrix), on the
/// stack.
pub struct FixedTape2<T, const R: usize, const C: usize> {
    items: [[Option<T>; R]; C],
    len: usize,
}

impl<T, const R: usize, const C: usize> FixedTape2<T, R, C> {
    /// An empty tape.
    #[inline(always)]
    pub fn new() -> Self {
        FixedTape2 { items: [const { [const { None }; R] }; C], len: 0 }
    }

    /// Keeps one iteration's values.
    ///
    /// # Panics
    /// If the tape holds `R·C` iterations already.
    #[inline(always)]
    pub fn push(&mut self, item: T) {
        assert!(self.len < R * C, "matgrad: a loop ran more than its {} iterations", R * C);
        self.items[self.len / R][self.len % R] = Some(item);
        self.len += 1;
    }

    /// The last iteration's values, removed.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<T> {
        self.len = self.len.checked_sub(1)?;
        self.items[self.len / R][self.len % R].take()
    }
}

impl<T, const R: usize, const C: usize> Default for FixedTape2<T, R, C> {
    fn default() -> Self {
        Self::new()
    }
}

/// The tape of a loop over the columns (rows) of a matrix: one item per column, in an array
/// when the dimension is static (`Const<N>`), a `Vec` when it is dynamic. rustc's types choose.
pub trait DimTape: nalgebra::Dim {
    /// The tape.
    type Tape<I>;
    /// An empty tape for `n` iterations.
    fn tape<I>(n: usize) -> Self::Tape<I>;
}

impl<const N: usize> DimTape for nalgebra::Const<N> {
    type Tape<I> = FixedTape<I, N>;
    #[inline(always)]
    fn tape<I>(_: usize) -> FixedTape<I, N> {
        FixedTape::new()
    }
}

#[cfg(feature = "alloc")]
impl DimTape for nalgebra::Dyn {
    type Tape<I> = VecTape<I>;
    #[inline(always)]
    fn tape<I>(n: usize) -> VecTape<I> {
        VecTape::with_capacity(n)
    }
}

/// The tape of a loop over the entries of an `R×C` matrix: an array when both dimensions are
/// static, a `Vec` otherwise.
pub trait EntryTape<C: nalgebra::Dim>: nalgebra::Dim {
    /// The tape.
    type Tape<I>;
    /// An empty tape for `n` iterations.
    fn tape<I>(n: usize) -> Self::Tape<I>;
}

impl<const R: usize, const C: usize> EntryTape<nalgebra::Const<C>> for nalgebra::Const<R> {
    type Tape<I> = FixedTape2<I, R, C>;
    #[inline(always)]
    fn tape<I>(_: usize) -> FixedTape2<I, R, C> {
        FixedTape2::new()
    }
}

#[cfg(feature = "alloc")]
impl<C: nalgebra::Dim> EntryTape<C> for nalgebra::Dyn {
    type Tape<I> = VecTape<I>;
    #[inline(always)]
    fn tape<I>(n: usize) -> VecTape<I> {
        VecTape::with_capacity(n)
    }
}

#[cfg(feature = "alloc")]
impl<const R: usize> EntryTape<nalgebra::Dyn> for nalgebra::Const<R> {
    type Tape<I> = VecTape<I>;
    #[inline(always)]
    fn tape<I>(n: usize) -> VecTape<I> {
        VecTape::with_capacity(n)
    }
}

/// The tape of `for c in m.column_iter()` (rewritten over the column indices).
#[inline(always)]
pub fn columns_tape<I, T, R: nalgebra::Dim, C: DimTape, S: nalgebra::RawStorage<T, R, C>>(
    m: &nalgebra::Matrix<T, R, C, S>,
) -> C::Tape<I> {
    C::tape(m.ncols())
}

/// The tape of `for r in m.row_iter()`.
#[inline(always)]
pub fn rows_tape<I, T, R: DimTape, C: nalgebra::Dim, S: nalgebra::RawStorage<T, R, C>>(
    m: &nalgebra::Matrix<T, R, C, S>,
) -> R::Tape<I> {
    R::tape(m.nrows())
}

/// The tape of `for v in m.iter()`.
#[inline(always)]
pub fn entries_tape<I, T, R: EntryTape<C>, C: nalgebra::Dim, S: nalgebra::RawStorage<T, R, C>>(
    m: &nalgebra::Matrix<T, R, C, S>,
) -> R::Tape<I> {
    R::tape(m.len())
}

/// A loop's tape when its trip count is known only at run time.
#[cfg(feature = "alloc")]
pub type VecTape<T> = alloc::vec::Vec<T>;

/// The tape of a loop with no bound on its trip count (a `while` or a `loop`): it grows on the
/// heap.
#[cfg(feature = "alloc")]
#[inline(always)]
pub fn unbounded_tape<T>() -> VecTape<T> {
    alloc::vec::Vec::new()
}

/// Without `alloc`, a `while` or `loop` has nowhere to keep its iterations: a compile error.
#[cfg(not(feature = "alloc"))]
pub fn unbounded_tape<T: UnboundedLoopNeedsAlloc>() -> VecTape<T> {
    VecTape(core::marker::PhantomData)
}

/// Implemented for nothing: the bound of [`unbounded_tape`] without `alloc`.
#[cfg(not(feature = "alloc"))]
#[diagnostic::on_unimplemented(
    message = "a `while` or `loop` has no bound on its iterations, so its reverse pass keeps them on the heap, and matgrad is built without `alloc`",
    label = "an unbounded loop",
    note = "write `for _ in 0..MAX_ITER {{ … if done {{ break; }} }}` with a constant `MAX_ITER`: its tape is a fixed array and a count, with no heap; or enable matgrad's `alloc` feature"
)]
pub trait UnboundedLoopNeedsAlloc {}

/// A value standing where an early exit left before the code that computes it ran (the value
/// of `return` before a `return`, of a `loop` before its `break`): never read as a result. Zero
/// of the type's static shape, 0×0 where a dimension is dynamic.
pub trait Placeholder {
    /// The placeholder.
    fn placeholder() -> Self;
}

impl<T: crate::value::Real> Placeholder for T {
    #[inline(always)]
    fn placeholder() -> T {
        nalgebra::zero()
    }
}

impl<T: crate::value::Real, R: nalgebra::Dim, C: nalgebra::Dim> Placeholder for nalgebra::OMatrix<T, R, C>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    #[inline(always)]
    fn placeholder() -> Self {
        let r = R::from_usize(R::try_to_usize().unwrap_or(0));
        let c = C::from_usize(C::try_to_usize().unwrap_or(0));
        Self::zeros_generic(r, c)
    }
}

// Constants a rewritten closure may return (an iterator's `map` over constants, a `return`
// inside its loop): any value of the type.
macro_rules! constant_placeholders {
    ($($t:ty),*) => {$(
        impl Placeholder for $t {
            #[inline(always)]
            fn placeholder() -> $t {
                <$t>::default()
            }
        }
    )*};
}

constant_placeholders!((), bool, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

impl<T> Placeholder for Option<T> {
    #[inline(always)]
    fn placeholder() -> Self {
        None
    }
}

#[cfg(feature = "alloc")]
impl<T> Placeholder for alloc::vec::Vec<T> {
    #[inline(always)]
    fn placeholder() -> Self {
        alloc::vec::Vec::new()
    }
}

macro_rules! tuple_placeholders {
    ($($v:ident),+) => {
        impl<$($v: Placeholder),+> Placeholder for ($($v,)+) {
            #[inline(always)]
            fn placeholder() -> Self {
                ($($v::placeholder(),)+)
            }
        }
    };
}

tuple_placeholders!(A, B);
tuple_placeholders!(A, B, C);
tuple_placeholders!(A, B, C, D);

/// See [`Placeholder`].
#[inline(always)]
pub fn placeholder<P: Placeholder>() -> P {
    P::placeholder()
}

/// The gradient slot of a parameter a function is not differentiated with respect to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoGradient;

/// A gradient returned by a called function's pullback, for an argument that depends on a
/// differentiated value.
#[diagnostic::on_unimplemented(
    message = "this argument depends on a differentiated value, but the called function is not differentiated with respect to it",
    label = "no gradient for this argument",
    note = "add the parameter to the `wrt(...)` of the called function's `#[differentiate]` (or `#[custom_vjp]`), or pass a constant"
)]
pub trait Gradient {
    /// The gradient's type.
    type Adj: Adjoint;
    /// The gradient.
    fn into_adj(self) -> Self::Adj;
}

impl<A: Adjoint> Gradient for A {
    type Adj = A;
    #[inline(always)]
    fn into_adj(self) -> A {
        self
    }
}

/// Checks that a pullback's slot holds a gradient.
#[inline(always)]
pub fn gradient<G: Gradient>(g: G) -> G::Adj {
    g.into_adj()
}

/// The adjoint `a` held, leaving zeros of its shape in its place.
#[inline(always)]
pub fn take_zeroed<A: Adjoint + Value<Adj = A>>(a: &mut A) -> A {
    let zeros = a.zeros_adj();
    core::mem::replace(a, zeros)
}

/// Without the `alloc` feature, a loop whose trip count is not a compile-time constant has
/// nowhere to keep its iterations: using it is a compile error saying so.
#[cfg(not(feature = "alloc"))]
pub struct VecTape<T>(core::marker::PhantomData<T>);

/// The iterator of a loop whose iterations `tape` keeps, after reserving room for them; generated
/// code calls it in the loop's head, so that the iterable's temporaries live through the loop.
#[cfg(feature = "alloc")]
#[inline(always)]
pub fn reserve_for<T, I: Iterator>(tape: &mut VecTape<T>, it: I) -> I {
    tape.reserve(it.size_hint().0);
    it
}

/// The iterator of a loop (without `alloc`, [`VecTape::with_capacity`] has already failed).
#[cfg(not(feature = "alloc"))]
#[inline(always)]
pub fn reserve_for<T, I: Iterator>(_: &mut VecTape<T>, it: I) -> I {
    it
}

/// Implemented for nothing: the bound of [`VecTape::with_capacity`] without `alloc`.
#[cfg(not(feature = "alloc"))]
#[diagnostic::on_unimplemented(
    message = "this loop's trip count is not a compile-time constant, so its reverse pass keeps its iterations on the heap, and matgrad is built without `alloc`",
    note = "loop over a constant range (`for i in 0..8`, or `0..N` with `N` a constant), or enable matgrad's `alloc` feature"
)]
pub trait HeapTapeNeedsAlloc {}

#[cfg(not(feature = "alloc"))]
impl<T> VecTape<T> {
    /// Unusable without `alloc`.
    pub fn with_capacity(_: usize) -> Self
    where
        T: HeapTapeNeedsAlloc,
    {
        VecTape(core::marker::PhantomData)
    }
    /// Unusable without `alloc`.
    pub fn push(&mut self, _: T) {}
    /// Unusable without `alloc`.
    pub fn pop(&mut self) -> Option<T> {
        None
    }
}

/// A reference to a value generated code reads through auto-deref: `x.as_value()` is `&M` for a
/// matrix `M` whether `x` is `M`, `&M` or `&&M` (a pattern's binding over a collection).
pub trait AsValue {
    /// The value.
    fn as_value(&self) -> &Self;
}

impl<T: crate::value::Real> AsValue for T {
    #[inline(always)]
    fn as_value(&self) -> &T {
        self
    }
}

impl<T: crate::value::Real, R: nalgebra::Dim, C: nalgebra::Dim, S> AsValue for nalgebra::Matrix<T, R, C, S> {
    #[inline(always)]
    fn as_value(&self) -> &Self {
        self
    }
}

// (tuples, elements of collection fields: `rules::element`)
