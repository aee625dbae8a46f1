//! A two-layer tanh network whose parameters live in a struct, trained with Adam and with SGD
//! with momentum on a smooth regression, y = sin(2x₁) + x₂²/2, printing the loss as it goes.
//! Checks the struct gradient against central differences first.
//!
//! `cargo run --release --example mlp_struct`

use matgrad::{differentiate, Adam, Differentiable, Sgd};
use nalgebra::{DMatrix, DVector, RowDVector};

#[derive(Clone, Debug, Differentiable)]
pub struct Mlp {
    pub w1: DMatrix<f64>,
    pub b1: RowDVector<f64>,
    pub w2: DMatrix<f64>,
    #[differentiable(skip)]
    pub hidden: usize,
}

/// Mean squared error of the network on the batch (rows are samples).
#[differentiate(wrt(p))]
fn loss(p: &Mlp, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let ones = DVector::from_element(x.nrows(), 1.0);
    let h = (x * &p.w1 + &ones * &p.b1).map(|v| v.tanh());
    (h * &p.w2 - y).norm_squared() / (x.nrows() as f64)
}

/// A deterministic pseudo-random number in [-1, 1).
fn noise(k: usize) -> f64 {
    let x = (k as u64).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn init(hidden: usize) -> Mlp {
    Mlp {
        w1: DMatrix::from_fn(2, hidden, |i, j| 0.8 * noise(i * hidden + j)),
        b1: RowDVector::from_fn(hidden, |_, j| 0.1 * noise(1000 + j)),
        w2: DMatrix::from_fn(hidden, 1, |i, _| 0.5 * noise(2000 + i)),
        hidden,
    }
}

fn main() {
    let n = 200;
    let x = DMatrix::from_fn(n, 2, |i, j| 1.5 * noise(3000 + 2 * i + j));
    let y = DMatrix::from_fn(n, 1, |i, _| (2.0 * x[(i, 0)]).sin() + 0.5 * x[(i, 1)] * x[(i, 1)]);
    let p0 = init(16);

    // The struct gradient against central differences, through to_flat/from_flat.
    let (_, dp) = loss_grad(&p0, &x, &y);
    let flat = p0.to_flat();
    let numeric: Vec<f64> = (0..flat.len())
        .map(|k| {
            let (mut a, mut b) = (flat.clone(), flat.clone());
            a[k] += 1e-6;
            b[k] -= 1e-6;
            (loss(&p0.from_flat(&a), &x, &y) - loss(&p0.from_flat(&b), &x, &y)) / 2e-6
        })
        .collect();
    let worst = dp.to_flat().iter().zip(&numeric).map(|(g, h)| (g - h).abs()).fold(0.0, f64::max);
    println!("{} parameters; largest difference from central differences: {worst:.2e}", p0.len());
    assert!(worst < 1e-6);

    let mut adam = Adam::new(0.01);
    let mut sgd = Sgd::with_momentum(0.02, 0.9);
    let (mut pa, mut ps) = (p0.clone(), p0.clone());
    println!("{:>6} {:>12} {:>12}", "step", "Adam", "SGD+momentum");
    for step in 0..=3000 {
        let (la, ga) = loss_grad(&pa, &x, &y);
        let (ls, gs) = loss_grad(&ps, &x, &y);
        if step % 500 == 0 {
            println!("{step:>6} {la:>12.6} {ls:>12.6}");
        }
        adam.step(&mut pa, &ga);
        sgd.step(&mut ps, &gs);
    }
    let first = loss(&p0, &x, &y);
    let (la, ls) = (loss(&pa, &x, &y), loss(&ps, &x, &y));
    println!("loss {first:.4} → Adam {la:.5}, SGD with momentum {ls:.5} ({} hidden units)", pa.hidden);
    assert!(la < first / 20.0 && ls < first / 10.0);
}
