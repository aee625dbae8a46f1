//! L-BFGS from argmin on a model held in a `#[derive(Differentiable)]` struct, against plain
//! gradient descent (feature `argmin`).
//!
//! `cargo run --release --features argmin --example lbfgs`

use argmin::core::{Executor, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use matgrad::argmin_adapter::FlatProblem;
use matgrad::{differentiate, Differentiable, Sgd};
use nalgebra::{DMatrix, DVector, RowDVector};

#[derive(Clone, Debug, Differentiable)]
pub struct Mlp {
    pub w1: DMatrix<f64>,
    pub b1: RowDVector<f64>,
    pub w2: DMatrix<f64>,
}

/// Mean squared error (rows are samples).
#[differentiate(wrt(p))]
fn loss(p: &Mlp, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let ones = DVector::from_element(x.nrows(), 1.0);
    let h = (x * &p.w1 + &ones * &p.b1).map(|v| v.tanh());
    (h * &p.w2 - y).norm_squared() / (x.nrows() as f64)
}

fn noise(k: usize) -> f64 {
    let x = (k as u64).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn main() -> Result<(), argmin::core::Error> {
    let n = 200;
    let x = DMatrix::from_fn(n, 2, |i, j| 1.5 * noise(3000 + 2 * i + j));
    let y = DMatrix::from_fn(n, 1, |i, _| (2.0 * x[(i, 0)]).sin() + 0.5 * x[(i, 1)] * x[(i, 1)]);
    let hidden = 12;
    let p0 = Mlp {
        w1: DMatrix::from_fn(2, hidden, |i, j| 0.8 * noise(i * hidden + j)),
        b1: RowDVector::from_fn(hidden, |_, j| 0.1 * noise(1000 + j)),
        w2: DMatrix::from_fn(hidden, 1, |i, _| 0.5 * noise(2000 + i)),
    };
    let start = loss(&p0, &x, &y);

    let problem = FlatProblem::new(p0.clone(), |p: &Mlp| loss_grad(p, &x, &y));
    let init = problem.flatten(&p0);
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7);
    let result = Executor::new(problem, solver).configure(|s| s.param(init).max_iters(300)).run()?;
    let state = result.state();
    let lbfgs = state.get_best_cost();
    println!("L-BFGS: loss {start:.4} → {lbfgs:.6} in {} iterations", state.get_iter());

    let mut p = p0.clone();
    let mut gd = Sgd::new(0.1);
    for _ in 0..300 {
        let (_, g) = loss_grad(&p, &x, &y);
        gd.step(&mut p, &g);
    }
    let descent = loss(&p, &x, &y);
    println!("gradient descent (η = 0.1): loss {start:.4} → {descent:.6} in 300 steps");
    assert!(lbfgs < descent, "L-BFGS should beat 300 steps of gradient descent here");
    Ok(())
}
