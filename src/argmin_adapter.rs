//! [argmin](https://argmin-rs.org) over any [`Differentiable`] parameters (feature `argmin`).
//!
//! argmin's solvers (L-BFGS, conjugate gradients, line searches) work on the parameter vector
//! type of a math backend; [`FlatProblem`] presents a `_grad` over a matrix, a tuple or a
//! derived struct as a problem on `Vec<f64>` through `to_flat`/`from_flat`, so it works with
//! argmin-math's `vec` backend whatever nalgebra version each side uses.

use std::vec::Vec;

use argmin::core::{CostFunction, Error, Gradient};

use crate::Differentiable;

/// A problem on flat `Vec<f64>` parameters from `grad`, a function returning the value and the
/// gradient at parameters shaped like `template` (a `_grad` of `#[differentiate]`).
pub struct FlatProblem<P, F> {
    template: P,
    grad: F,
}

impl<P: Differentiable<Scalar = f64>, F: Fn(&P) -> (f64, P)> FlatProblem<P, F> {
    /// The problem of `grad`, its parameters shaped like `template` (skipped fields are taken
    /// from it).
    pub fn new(template: P, grad: F) -> Self {
        FlatProblem { template, grad }
    }

    /// Parameters in argmin's form.
    pub fn flatten(&self, p: &P) -> Vec<f64> {
        p.to_flat()
    }

    /// Parameters in the model's form (from a solver's result).
    pub fn unflatten(&self, x: &[f64]) -> P {
        self.template.from_flat(x)
    }
}

impl<P: Differentiable<Scalar = f64>, F: Fn(&P) -> (f64, P)> CostFunction for FlatProblem<P, F> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Vec<f64>) -> Result<f64, Error> {
        Ok((self.grad)(&self.unflatten(x)).0)
    }
}

impl<P: Differentiable<Scalar = f64>, F: Fn(&P) -> (f64, P)> Gradient for FlatProblem<P, F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, Error> {
        Ok((self.grad)(&self.unflatten(x)).1.to_flat())
    }
}
