//! Seed 001's one-layer network, f(W) = ‖σ(XW) − Y‖²_F, trained by gradient descent with the
//! gradient `#[differentiate]` generates. Run with `cargo run --release --example network`.
//!
//! The data are a teacher network's outputs: Y = σ(X W*), and training from W = 0 recovers a W
//! with nearly the same outputs. Each line prints the loss, which falls towards 0.

use matgrad::differentiate;
use nalgebra::DMatrix;

#[differentiate(wrt(w))]
fn loss(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let z = x * w;
    let a = z.map(|v| 1.0 / (1.0 + (-v).exp()));
    (a - y).norm_squared()
}

/// A deterministic pseudo-random matrix with entries in [-1, 1].
fn data(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    DMatrix::from_fn(rows, cols, |_, _| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    })
}

fn main() {
    println!("The derivation #[differentiate] wrote for the loss:\n\n{}", loss_derivation());
    let (samples, inputs, outputs) = (200, 8, 3);
    let x = data(samples, inputs, 1);
    let teacher = data(inputs, outputs, 2) * 2.0;
    let y = (&x * &teacher).map(|v| 1.0 / (1.0 + (-v).exp()));

    let mut w = DMatrix::zeros(inputs, outputs);
    let rate = 0.05;
    let first = loss(&w, &x, &y);
    println!("step     loss");
    for step in 0..=300 {
        let (value, dw) = loss_grad(&w, &x, &y);
        if step % 30 == 0 {
            println!("{step:4}  {value:.3e}");
        }
        w -= rate * dw;
    }
    let last = loss(&w, &x, &y);
    println!("loss fell from {first:.3e} to {last:.3e}; max |W − W*| = {:.2e}", (&w - &teacher).amax());
    assert!(last < first * 1e-2, "training did not converge");
}
