//! Batch-parallel scaling of the generated gradients with rayon: the large network
//! (1024×512 · 512×256) and the perceptron (256 · 64 → 128 → 10) of `benches/gradients.rs`, same
//! data, the batch split into row shards whose `_grad`s run on a pool of 1 or 2 threads and are
//! summed by halves as they finish (a tree fixed by the shard count: the same bits for any
//! thread count). Beside them, the whole batch's `_grad` on the calling thread, measured in the
//! same run; the 2-thread batches again with the pool's workers kept looking for work between
//! calls (`spin::keep_spinning`) instead of sleeping; and the delay before a worker starts on
//! work handed to it, asleep and spinning (`parallel/wake`), which bounds the speed-up of a
//! short call.
//!
//! `cargo bench -p matgrad-parallel-example --bench scaling`; the speed-up is the 1-thread
//! median over the 2-thread one.

use std::hint::black_box;
use std::ops::Range;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use nalgebra::{DMatrix, RowDVector};

#[path = "../src/malloc.rs"]
mod malloc;
#[path = "../src/spin.rs"]
mod spin;
#[path = "../../../benches/workloads/mod.rs"]
mod workloads;
use workloads::*;

/// Rows `[k·len, (k+1)·len)` of `m` for each of `count` shards.
fn split(m: &DMatrix<f64>, count: usize) -> Vec<DMatrix<f64>> {
    let len = m.nrows() / count;
    (0..count).map(|k| m.rows(k * len, len).into_owned()).collect()
}

/// Σₖ f(k) for k in `shards`, by halves in parallel: each half's sum is added to the other's when
/// both are done, so the additions run on the threads beside the shards' gradients, not on one
/// after them, and the tree of additions (hence the bits) depends on the number of shards alone.
fn tree_sum<T: Send>(shards: Range<usize>, f: &(impl Fn(usize) -> T + Sync), add: &(impl Fn(&mut T, T) + Sync)) -> T {
    if shards.len() == 1 {
        return f(shards.start);
    }
    let mid = shards.start + shards.len() / 2;
    let (mut a, b) = rayon::join(|| tree_sum(shards.start..mid, f, add), || tree_sum(mid..shards.end, f, add));
    add(&mut a, b);
    a
}

/// Σ over shards of the network's value and gradient.
fn network_batch(w: &DMatrix<f64>, xs: &[DMatrix<f64>], ys: &[DMatrix<f64>]) -> (f64, DMatrix<f64>) {
    let add = |acc: &mut (f64, DMatrix<f64>), (v, g): (f64, DMatrix<f64>)| {
        acc.0 += v;
        acc.1 += g;
    };
    tree_sum(0..xs.len(), &|k| network_grad(w, &xs[k], &ys[k]), &add)
}

type MlpGrad = (f64, DMatrix<f64>, RowDVector<f64>, DMatrix<f64>, RowDVector<f64>);

/// Σ over shards of the perceptron's value and gradients.
fn mlp_batch(
    p: (&DMatrix<f64>, &RowDVector<f64>, &DMatrix<f64>, &RowDVector<f64>),
    xs: &[DMatrix<f64>],
    ys: &[DMatrix<f64>],
) -> MlpGrad {
    let (w1, b1, w2, b2) = p;
    let add = |acc: &mut MlpGrad, g: MlpGrad| {
        acc.0 += g.0;
        acc.1 += g.1;
        acc.2 += g.2;
        acc.3 += g.3;
        acc.4 += g.4;
    };
    tree_sum(0..xs.len(), &|k| mlp_grad(w1, b1, w2, b2, &xs[k], &ys[k]), &add)
}

/// The pools each batch runs on: 1 thread, 2 threads whose idle workers sleep (rayon's own), and
/// 2 threads whose workers spin between calls (`spin::keep_spinning`).
const POOLS: [(usize, bool); 3] = [(1, false), (2, false), (2, true)];

/// The benchmark's name for a batch of `shards` on a pool of `POOLS` (`scripts/jax_compare.py`
/// reads the names).
fn pool_name(shards: usize, threads: usize, spinning: bool) -> String {
    let spin = if spinning { ", workers spinning" } else { "" };
    format!("{shards} shards, {threads} threads{spin}")
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool")
}

fn bench_network(c: &mut Criterion) {
    // As the example does: freed buffers stay in the process (see `malloc`); without it, set
    // `MATGRAD_DEFAULT_MALLOC=1` to measure glibc's defaults.
    if std::env::var_os("MATGRAD_DEFAULT_MALLOC").is_none() {
        malloc::keep_freed_memory();
    }
    let (n, d, k) = (1024, 512, 256);
    let x = data(n, d, 1, 1.0);
    let w = data(d, k, 2, 1.0 / (d as f64).sqrt());
    let y = data(n, k, 3, 0.4).add_scalar(0.5);
    let shards = 8;
    let (xs, ys) = (split(&x, shards), split(&y, shards));
    let (v, g) = network_grad(&w, &x, &y);
    let (vb, gb) = network_batch(&w, &xs, &ys);
    assert_value("network shards", vb, v);
    assert_rel("network shards dW", &gb, &g);

    let mut group = c.benchmark_group("parallel/network/1024x512");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group.bench_function("whole", |b| b.iter(|| network_grad(black_box(&w), &x, &y)));
    for (threads, spinning) in POOLS {
        let pool = pool(threads);
        let _spinning = spinning.then(|| spin::keep_spinning(&pool, spin::LINGER));
        group.bench_function(pool_name(shards, threads, spinning), |b| {
            pool.install(|| b.iter(|| network_batch(black_box(&w), &xs, &ys)))
        });
    }
    group.finish();
}

fn bench_mlp(c: &mut Criterion) {
    let (n, d, h, k) = (256, 64, 128, 10);
    let x = data(n, d, 7, 1.0);
    let w1 = data(d, h, 8, 1.0 / (d as f64).sqrt());
    let b1 = RowDVector::from_fn(h, |_, j| 0.1 * ((j % 7) as f64 - 3.0));
    let w2 = data(h, k, 9, 1.0 / (h as f64).sqrt());
    let b2 = RowDVector::from_fn(k, |_, j| 0.05 * j as f64);
    let y = data(n, k, 10, 1.0);
    let shards = 4;
    let (xs, ys) = (split(&x, shards), split(&y, shards));
    let whole = mlp_grad(&w1, &b1, &w2, &b2, &x, &y);
    let batch = mlp_batch((&w1, &b1, &w2, &b2), &xs, &ys);
    assert_value("mlp shards", batch.0, whole.0);
    assert_rel("mlp shards dW1", &batch.1, &whole.1);
    assert_rel("mlp shards dW2", &batch.3, &whole.3);

    let mut group = c.benchmark_group("parallel/mlp/256");
    group.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    group.bench_function("whole", |b| b.iter(|| mlp_grad(black_box(&w1), &b1, &w2, &b2, &x, &y)));
    for (threads, spinning) in POOLS {
        let pool = pool(threads);
        let _spinning = spinning.then(|| spin::keep_spinning(&pool, spin::LINGER));
        group.bench_function(pool_name(shards, threads, spinning), |b| {
            pool.install(|| b.iter(|| mlp_batch((black_box(&w1), &b1, &w2, &b2), &xs, &ys)))
        });
    }
    group.finish();
}

/// How long a sleeping worker takes to start on work handed to it: the calling worker `join`s a
/// stolen half that reads the clock against a half of 100 µs it runs itself. After each call the
/// other worker has nothing to do, spins briefly and sleeps, as between two batch gradients, so
/// every `join` wakes it. The reported time is that delay per call (δ), not the call's time. A
/// call of T on one thread then takes at least (T + δ)/2 on two, whatever the shards: a
/// speed-up of at most 2T/(T + δ).
fn bench_wake(c: &mut Criterion) {
    let busy = |micros: u64| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_micros(micros) {
            std::hint::spin_loop();
        }
    };
    let pool = pool(2);
    let mut group = c.benchmark_group("parallel/wake");
    group.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let delay = |iters: u64| {
        let mut delay = Duration::ZERO;
        for _ in 0..iters {
            let start = Instant::now();
            let (_, started) = rayon::join(|| busy(100), || start.elapsed());
            delay += started;
        }
        delay
    };
    group.bench_function("until the stolen half starts", |b| pool.install(|| b.iter_custom(delay)));
    let spinning = spin::keep_spinning(&pool, spin::LINGER);
    group.bench_function("until the stolen half starts, workers spinning", |b| pool.install(|| b.iter_custom(delay)));
    drop(spinning);
    group.finish();
}

criterion_group!(benches, bench_network, bench_mlp, bench_wake);
criterion_main!(benches);
