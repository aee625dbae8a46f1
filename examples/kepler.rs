//! Differentiating through an iterative solve: fitting an orbit through Kepler's equation.
//!
//! A body on an ellipse (semi-major axis `a`, eccentricity `e`) is at
//! `(a (cos E − e), a √(1 − e²) sin E)`, where the eccentric anomaly `E` solves Kepler's equation
//! `E − e sin E = M` for the mean anomaly `M` (proportional to time). `E` has no closed form:
//! it is computed by Newton's method, in a `while` loop that runs until the step is below
//! 1e-14, so the number of iterations depends on `e`. `#[differentiate]` differentiates
//! through the iterations that ran. The derivative of Newton's iterates converges to the
//! derivative of the root, which the implicit function theorem gives in closed form:
//! `∂E/∂e = sin E / (1 − e cos E)` and `∂E/∂M = 1 / (1 − e cos E)`. The example checks both,
//! then fits `a` and `e` to observed positions by gradient descent.
//! Run with `cargo run --release --example kepler`.

use matgrad::differentiate;
use nalgebra::{DMatrix, DVector};

/// The eccentric anomaly: the root of `E − e sin E − M`, by Newton's method until converged.
#[differentiate]
fn eccentric_anomaly(m: f64, e: f64) -> f64 {
    let mut big_e = m;
    let mut step: f64 = 1.0;
    while step.abs() > 1e-14 {
        step = (big_e - e * big_e.sin() - m) / (1.0 - e * big_e.cos());
        big_e -= step;
    }
    big_e
}

/// The squared distance between the predicted and the observed positions, summed over the
/// observations (rows of `obs`, at mean anomalies `mean`). Kepler's equation is solved inside
/// the loop over observations, with a guard for the circular orbit.
#[differentiate(wrt(a, e))]
fn misfit(a: f64, e: f64, mean: &DVector<f64>, obs: &DMatrix<f64>) -> f64 {
    let mut total = 0.0;
    for i in 0..mean.len() {
        let m = mean[i];
        let mut big_e = m;
        let mut k = 0;
        while k < 50 {
            let step = (big_e - e * big_e.sin() - m) / (1.0 - e * big_e.cos());
            big_e -= step;
            if step.abs() < 1e-14 {
                break;
            }
            k += 1;
        }
        let x = a * (big_e.cos() - e);
        let y = a * (1.0 - e * e).sqrt() * big_e.sin();
        total += (x - obs[(i, 0)]).powi(2) + (y - obs[(i, 1)]).powi(2);
    }
    total
}

fn main() {
    // The implicit derivatives of the root, against the derivative through Newton's loop.
    println!("Kepler's equation E − e sin E = M, solved by Newton's method:");
    for (m, e) in [(0.3, 0.1), (1.0, 0.6), (2.5, 0.9)] {
        let (big_e, dm, de) = eccentric_anomaly_grad(m, e);
        let denom = 1.0 - e * big_e.cos();
        println!(
            "  M = {m:.1}, e = {e:.1}: E = {big_e:.12}; ∂E/∂e = {de:.12} (closed form {:.12}), ∂E/∂M = {dm:.12} (closed form {:.12})",
            big_e.sin() / denom,
            1.0 / denom
        );
        assert!((de - big_e.sin() / denom).abs() < 1e-10 && (dm - 1.0 / denom).abs() < 1e-10);
    }

    // Observed positions of an orbit with a = 2, e = 0.6, at 24 times over one period.
    let (a_true, e_true) = (2.0, 0.6);
    let mean = DVector::from_fn(24, |i, _| 2.0 * std::f64::consts::PI * i as f64 / 24.0);
    let obs = DMatrix::from_fn(24, 2, |i, j| {
        let big_e = eccentric_anomaly(mean[i], e_true);
        match j {
            0 => a_true * (big_e.cos() - e_true),
            _ => a_true * (1.0 - e_true * e_true).sqrt() * big_e.sin(),
        }
    });

    // Gradient descent from a circular orbit of the wrong size.
    let (mut a, mut e) = (1.0, 0.0);
    let rate = 0.003;
    println!("Fitting a and e by gradient descent:");
    for step in 0..=200 {
        let (loss, da, de) = misfit_grad(a, e, &mean, &obs);
        if step % 40 == 0 {
            println!("  step {step:4}: misfit {loss:.3e}, a = {a:.6}, e = {e:.6}");
        }
        a -= rate * da;
        e = (e - rate * de).clamp(0.0, 0.95);
    }
    println!("fitted a = {a:.6} (true {a_true}), e = {e:.6} (true {e_true})");
    assert!((a - a_true).abs() < 1e-4 && (e - e_true).abs() < 1e-4, "the fit did not converge");
}
