//! A small recurrent network trained by gradient descent, written with a loop: it reads a
//! sine wave one sample at a time and predicts the next sample.
//!
//! h₀ = 0,  hₖ₊₁ = tanh(W hₖ + u xₖ + b),  ŷₖ = v·hₖ₊₁,  loss = Σₖ (ŷₖ − xₖ₊₁)² / T
//!
//! The recurrent step is its own `#[differentiate]` function (matrix-valued); the loss calls
//! it in a loop, and its gradient flows through it (back-propagation through time, generated
//! at compile time: the loop keeps each step's state on a tape, and the reverse pass calls the
//! cell's pullback on it).
//!
//! Run with `cargo run --release --example recurrent`.

use matgrad::differentiate;
use nalgebra::{DMatrix, DVector};

/// One step of the recurrence.
#[differentiate(wrt(w, u, b, h))]
fn cell(w: &DMatrix<f64>, u: &DVector<f64>, b: &DVector<f64>, h: &DVector<f64>, x: f64) -> DVector<f64> {
    (w * h + u * x + b).map(|v| v.tanh())
}

/// Mean squared error of the one-step-ahead predictions over the sequence `xs`.
#[differentiate(wrt(w, u, b, v))]
fn loss(w: &DMatrix<f64>, u: &DVector<f64>, b: &DVector<f64>, v: &DVector<f64>, xs: &[f64]) -> f64 {
    let mut h = DVector::zeros(w.nrows());
    let mut total = 0.0;
    for k in 0..xs.len() - 1 {
        h = cell(w, u, b, &h, xs[k]);
        let err = v.dot(&h) - xs[k + 1];
        total += err * err;
    }
    total / (xs.len() - 1) as f64
}

fn main() {
    let n = 8;
    let xs: Vec<f64> = (0..40).map(|k| (0.3 * k as f64).sin()).collect();
    let init = |r: usize, c: usize, s: u64| {
        DMatrix::from_fn(r, c, |i, j| {
            let k = (i * 31 + j * 17) as u64 + s * 101;
            ((k * 2_654_435_761) % 1000) as f64 / 1000.0 - 0.5
        })
    };
    let mut w = 0.5 * init(n, n, 1);
    let mut u = init(n, 1, 2).column(0).into_owned();
    let mut b = DVector::zeros(n);
    let mut v = init(n, 1, 3).column(0).into_owned();
    let rate = 0.1;
    let first = loss(&w, &u, &b, &v, &xs);
    for epoch in 0..=1500 {
        let (value, dw, du, db, dv) = loss_grad(&w, &u, &b, &v, &xs);
        if epoch % 300 == 0 {
            println!("epoch {epoch:4}: loss {value:.3e}");
        }
        w -= rate * dw;
        u -= rate * du;
        b -= rate * db;
        v -= rate * dv;
    }
    let last = loss(&w, &u, &b, &v, &xs);
    println!("loss {first:.3e} -> {last:.3e}");
    assert!(last < 0.05 * first, "training did not reduce the loss");
}
