//! First-order optimisers over any [`Differentiable`] parameters (a matrix, a tuple, a derived
//! struct): SGD with momentum and Adam. Their state has the parameters' type, made on the first
//! step, so a fixed-size model is optimised without the heap.
//!
//! ```
//! use matgrad_runtime::Adam;
//! // Minimise f(x) = ‖x − c‖² (gradient 2(x − c)) for x a pair of scalars.
//! let c = (3.0_f64, -1.0_f64);
//! let mut x = (0.0, 0.0);
//! let mut adam = Adam::new(0.1);
//! for _ in 0..500 {
//!     let g = (2.0 * (x.0 - c.0), 2.0 * (x.1 - c.1));
//!     adam.step(&mut x, &g);
//! }
//! assert!((x.0 - c.0).abs() < 1e-3 && (x.1 - c.1).abs() < 1e-3);
//! ```

use nalgebra::ComplexField;

use crate::differentiable::Differentiable;

/// Stochastic gradient descent with (heavy-ball) momentum μ and learning rate η:
/// ```text
/// v ← μ v + g
/// x ← x − η v
/// ```
/// With μ = 0 it is plain gradient descent (PyTorch's `SGD(lr, momentum)` without dampening).
#[derive(Clone, Debug)]
pub struct Sgd<P: Differentiable> {
    /// η
    pub learning_rate: P::Scalar,
    /// μ (0 for plain gradient descent)
    pub momentum: P::Scalar,
    velocity: Option<P>,
}

impl<P: Differentiable> Sgd<P> {
    /// Plain gradient descent: `x ← x − η g`.
    pub fn new(learning_rate: P::Scalar) -> Self {
        Self::with_momentum(learning_rate, nalgebra::zero())
    }

    /// Gradient descent with momentum μ.
    pub fn with_momentum(learning_rate: P::Scalar, momentum: P::Scalar) -> Self {
        Sgd { learning_rate, momentum, velocity: None }
    }

    /// One step from the gradient `grad` of the objective at `params`.
    pub fn step(&mut self, params: &mut P, grad: &P) {
        let v = self.velocity.get_or_insert_with(|| grad.zero_like());
        v.scale(self.momentum);
        v.add_scaled(nalgebra::one(), grad);
        params.add_scaled(-self.learning_rate, v);
    }
}

/// Adam (Kingma & Ba, 2015) with learning rate η, decay rates β₁, β₂ and ε, at step t ≥ 1:
/// ```text
/// m ← β₁ m + (1 − β₁) g
/// v ← β₂ v + (1 − β₂) g ⊙ g
/// x ← x − η (m / (1 − β₁ᵗ)) ⊘ (√(v / (1 − β₂ᵗ)) + ε)
/// ```
#[derive(Clone, Debug)]
pub struct Adam<P: Differentiable> {
    /// η
    pub learning_rate: P::Scalar,
    /// β₁ (default 0.9)
    pub beta1: P::Scalar,
    /// β₂ (default 0.999)
    pub beta2: P::Scalar,
    /// ε (default 1e-8)
    pub epsilon: P::Scalar,
    /// The number of steps taken.
    pub t: i32,
    /// m, v and the step's direction.
    state: Option<(P, P, P)>,
}

impl<P: Differentiable> Adam<P> {
    /// Adam with the usual β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸.
    pub fn new(learning_rate: P::Scalar) -> Self {
        let c = |v: f64| nalgebra::convert::<f64, P::Scalar>(v);
        Adam { learning_rate, beta1: c(0.9), beta2: c(0.999), epsilon: c(1e-8), t: 0, state: None }
    }

    /// One step from the gradient `grad` of the objective at `params`.
    pub fn step(&mut self, params: &mut P, grad: &P) {
        let (b1, b2, eps) = (self.beta1, self.beta2, self.epsilon);
        let one = nalgebra::one::<P::Scalar>();
        self.t += 1;
        let (c1, c2) = (one - b1.powi(self.t), one - b2.powi(self.t));
        let (m, v, dir) = self.state.get_or_insert_with(|| (grad.zero_like(), grad.zero_like(), grad.zero_like()));
        m.scale(b1);
        m.add_scaled(one - b1, grad);
        v.zip_apply(grad, &mut |v, g| b2 * v + (one - b2) * g * g);
        dir.zip_apply(m, &mut |_, m| m / c1);
        dir.zip_apply(v, &mut |d, v| d / ((v / c2).sqrt() + eps));
        params.add_scaled(-self.learning_rate, dir);
    }
}
