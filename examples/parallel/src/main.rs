//! Data-parallel gradients over a batch with rayon: each shard's `loss_grad` on its own thread,
//! the shards' gradients (structs) reduced with `Differentiable::add_scaled` by halves, a tree
//! fixed by the number of shards, so the result does not depend on the number of threads.
//!
//! `cargo run --release -p matgrad-parallel-example`

use matgrad::{differentiate, Adam, Differentiable};
use nalgebra::{DMatrix, DVector, RowDVector};

mod malloc;
mod spin;

#[derive(Clone, Debug, PartialEq, Differentiable)]
pub struct Mlp {
    pub w1: DMatrix<f64>,
    pub b1: RowDVector<f64>,
    pub w2: DMatrix<f64>,
}

/// The summed squared error on a shard (rows are samples).
#[differentiate(wrt(p))]
fn sse(p: &Mlp, x: &DMatrix<f64>, y: &DMatrix<f64>) -> f64 {
    let ones = DVector::from_element(x.nrows(), 1.0);
    let h = (x * &p.w1 + &ones * &p.b1).map(|v| v.tanh());
    (h * &p.w2 - y).norm_squared()
}

struct Shard {
    x: DMatrix<f64>,
    y: DMatrix<f64>,
}

/// The loss and gradient of the whole batch: each half of the shards on its own thread (rayon's
/// `join`), the two added when both are done. The tree of additions depends on the number of
/// shards alone, so the bits do not depend on the threads, and the additions run beside the
/// shards' gradients, not on one thread after them.
fn batch_grad(p: &Mlp, shards: &[Shard]) -> (f64, Mlp) {
    match shards {
        [] => (0.0, p.zero_like()),
        [s] => sse_grad(p, &s.x, &s.y),
        _ => {
            let (lo, hi) = shards.split_at(shards.len() / 2);
            let ((mut loss, mut grad), (l, g)) = rayon::join(|| batch_grad(p, lo), || batch_grad(p, hi));
            loss += l;
            grad.add_scaled(1.0, &g);
            (loss, grad)
        }
    }
}

fn noise(k: usize) -> f64 {
    let x = (k as u64).wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn main() {
    // Freed buffers stay in the process, so that the shards' threads scale (see `malloc`).
    malloc::keep_freed_memory();
    let (n, shard, hidden) = (4096, 256, 32);
    let x = DMatrix::from_fn(n, 4, |i, j| noise(4 * i + j));
    let y = DMatrix::from_fn(n, 1, |i, _| (x[(i, 0)] * x[(i, 1)]).sin() + 0.3 * x[(i, 2)] - 0.2 * x[(i, 3)]);
    let shards: Vec<Shard> = (0..n / shard)
        .map(|s| Shard { x: x.rows(s * shard, shard).into_owned(), y: y.rows(s * shard, shard).into_owned() })
        .collect();
    let mut p = Mlp {
        w1: DMatrix::from_fn(4, hidden, |i, j| 0.5 * noise(100_000 + i * hidden + j)),
        b1: RowDVector::from_fn(hidden, |_, j| 0.1 * noise(200_000 + j)),
        w2: DMatrix::from_fn(hidden, 1, |i, _| 0.3 * noise(300_000 + i)),
    };

    // The same bits whatever the number of threads; the full batch at once differs only by
    // rounding (another summation order).
    let with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
        pool.install(|| batch_grad(&p, &shards))
    };
    let (one, four) = (with(1), with(4));
    assert!(one.0 == four.0 && one.1 == four.1, "the reduction depends on the thread count");
    let (full_loss, full) = sse_grad(&p, &x, &y);
    let diff = full.to_flat().iter().zip(one.1.to_flat()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    println!(
        "{} shards of {shard}: 1 and 4 threads agree bit for bit; full batch differs by {diff:.1e} (loss {full_loss:.6} vs {:.6})",
        shards.len(),
        one.0
    );
    assert!(diff < 1e-9);

    // The training loop calls `batch_grad` back to back: the pool's workers look for work between
    // the calls instead of sleeping, so that each call's `join` does not wait for one to wake
    // (see `spin`).
    let pool = rayon::ThreadPoolBuilder::new().build().expect("a thread pool");
    let _spinning = spin::keep_spinning(&pool, spin::LINGER);
    let mut adam = Adam::new(0.01);
    pool.install(|| {
        for step in 0..=300 {
            let (loss, g) = batch_grad(&p, &shards);
            if step % 50 == 0 {
                println!("step {step:>4}  mean squared error {:.6}", loss / n as f64);
            }
            adam.step(&mut p, &g);
        }
    });
}
