//! The argmin adapter (feature `argmin`): cost and gradient on flat vectors are the `_grad`'s,
//! and L-BFGS finds a quadratic's known minimum. `cargo test --features argmin --test argmin`
#![cfg(feature = "argmin")]

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use matgrad::argmin_adapter::FlatProblem;
use matgrad::{differentiate, Differentiable};
use nalgebra::DMatrix;

#[derive(Clone, Debug, Differentiable)]
struct P {
    w: DMatrix<f64>,
    b: f64,
    #[differentiable(skip)]
    tag: u8,
}

/// f = ‖W − C‖² + (b − 1)² ⇒ minimum 0 at (C, 1); ∇ = (2(W − C), 2(b − 1)).
#[differentiate(wrt(p))]
fn f(p: &P, c: &DMatrix<f64>) -> f64 {
    let d = p.b - 1.0;
    (&p.w - c).norm_squared() + d * d
}

#[test]
fn flat_problem_and_lbfgs() {
    let c = DMatrix::from_fn(2, 2, |i, j| i as f64 - j as f64 + 0.5);
    let p0 = P { w: DMatrix::zeros(2, 2), b: 0.0, tag: 7 };
    let problem = FlatProblem::new(p0.clone(), |p: &P| f_grad(p, &c));
    let x = problem.flatten(&p0);
    assert_eq!(problem.cost(&x).unwrap(), f(&p0, &c));
    let expected: Vec<f64> = (-2.0 * &c).iter().copied().chain([-2.0]).collect();
    assert_eq!(problem.gradient(&x).unwrap(), expected);
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 5);
    let res = Executor::new(problem, solver).configure(|s| s.param(x).max_iters(50)).run().unwrap();
    let best = p0.from_flat(res.state().get_best_param().unwrap());
    assert!((&best.w - &c).amax() < 1e-8 && (best.b - 1.0).abs() < 1e-8);
    assert_eq!(best.tag, 7);
}
