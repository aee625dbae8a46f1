//! Forward mode against the function and reverse mode, in one run: `_jvp` / forward (target
//! ≤ 2) and `_hvp` / `_grad` (target ≤ 3) on the network and the perceptron, with a
//! hand-written JVP and HVP of the network for reference.
//!
//! `cargo bench --bench forward` (criterion), then `python3 scripts/bench_ratios.py --forward`
//! reads the groups `forward/…`. `cargo bench --bench forward -- count <workload> <which> <calls>`
//! calls one function `calls` times, for `scripts/forward_instructions.py` (callgrind).

mod workloads;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use nalgebra::{DMatrix, RowDVector};
use workloads::*;

/// ḟ = ⟨2(a − y) ⊙ σ′, XT⟩ with a = σ(XW), σ′ = a(1 − a): the network's JVP by hand.
fn network_jvp_hand(w: &DMatrix<f64>, x: &DMatrix<f64>, y: &DMatrix<f64>, t: &DMatrix<f64>) -> (f64, f64) {
    let mut a = x * w;
    a.apply(|v| *v = 1.0 / (1.0 + (-*v).exp()));
    let zd = x * t;
    let (mut value, mut tangent) = (0.0, 0.0);
    for ((&a, &y), &zd) in a.iter().zip(y.iter()).zip(zd.iter()) {
        let r = a - y;
        value += r * r;
        tangent += 2.0 * r * a * (1.0 - a) * zd;
    }
    (value, tangent)
}

/// g = Xᵀ(2(a − y) ⊙ σ′), H·T = Xᵀ(2 Ż ⊙ σ′² + 2(a − y) ⊙ σ″ ⊙ Ż), Ż = XT, σ″ = σ′(1 − 2a):
/// the network's HVP by hand, passes fused.
fn network_hvp_hand(
    w: &DMatrix<f64>,
    x: &DMatrix<f64>,
    y: &DMatrix<f64>,
    t: &DMatrix<f64>,
) -> (f64, DMatrix<f64>, DMatrix<f64>) {
    let mut a = x * w;
    a.apply(|v| *v = 1.0 / (1.0 + (-*v).exp()));
    let mut zd = x * t;
    let mut value = 0.0;
    for ((a, &y), zd) in a.iter_mut().zip(y.iter()).zip(zd.iter_mut()) {
        let r = *a - y;
        value += r * r;
        let s1 = *a * (1.0 - *a);
        let s2 = s1 * (1.0 - 2.0 * *a);
        *zd = 2.0 * *zd * (s1 * s1 + r * s2);
        *a = 2.0 * r * s1;
    }
    (value, x.tr_mul(&a), x.tr_mul(&zd))
}

struct Network {
    w: DMatrix<f64>,
    x: DMatrix<f64>,
    y: DMatrix<f64>,
    t: DMatrix<f64>,
}

fn network_data(n: usize, d: usize, k: usize) -> Network {
    let x = data(n, d, 1, 1.0);
    let w = data(d, k, 2, 1.0 / (d as f64).sqrt());
    let y = data(n, k, 3, 0.4).add_scalar(0.5);
    let t = data(d, k, 4, 1.0);
    Network { w, x, y, t }
}

struct Mlp {
    w1: DMatrix<f64>,
    b1: RowDVector<f64>,
    w2: DMatrix<f64>,
    b2: RowDVector<f64>,
    x: DMatrix<f64>,
    y: DMatrix<f64>,
    t: (DMatrix<f64>, RowDVector<f64>, DMatrix<f64>, RowDVector<f64>),
}

fn mlp_data() -> Mlp {
    let (n, d, h, k) = (256, 64, 128, 10);
    let x = data(n, d, 7, 1.0);
    let w1 = data(d, h, 8, 1.0 / (d as f64).sqrt());
    let b1 = RowDVector::from_fn(h, |_, j| 0.1 * ((j % 7) as f64 - 3.0));
    let w2 = data(h, k, 9, 1.0 / (h as f64).sqrt());
    let b2 = RowDVector::from_fn(k, |_, j| 0.05 * j as f64);
    let y = data(n, k, 10, 1.0);
    let t =
        (data(d, h, 11, 1.0), RowDVector::from_element(h, 0.3), data(h, k, 12, 1.0), RowDVector::from_element(k, -0.2));
    Mlp { w1, b1, w2, b2, x, y, t }
}

fn close(what: &str, a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{what}: {a} vs {b}");
}

fn bench_network(c: &mut Criterion) {
    for &(n, d, k) in &[(8, 4, 3), (128, 64, 32)] {
        let Network { w, x, y, t } = network_data(n, d, k);
        let name = format!("forward/network/{n}x{d}");
        let (v, tangent) = network_jvp(&w, &x, &y, &t);
        let (vh, th) = network_jvp_hand(&w, &x, &y, &t);
        close(&name, v, vh);
        close(&name, tangent, th);
        let (_, g, hv) = network_hvp(&w, &x, &y, &t);
        let (_, gh, hvh) = network_hvp_hand(&w, &x, &y, &t);
        close(&name, (g - gh).norm(), 0.0);
        close(&name, (hv - hvh).norm(), 0.0);

        let mut group = c.benchmark_group(&name);
        group.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
        let (w, x, y, t) = (&w, &x, &y, &t);
        group.bench_function("forward", |b| b.iter(|| network(black_box(w), black_box(x), black_box(y))));
        group.bench_function("jvp", |b| b.iter(|| network_jvp(black_box(w), black_box(x), black_box(y), black_box(t))));
        group.bench_function("jvp_hand", |b| {
            b.iter(|| network_jvp_hand(black_box(w), black_box(x), black_box(y), black_box(t)))
        });
        group.bench_function("grad", |b| b.iter(|| network_grad(black_box(w), black_box(x), black_box(y))));
        group.bench_function("hvp", |b| b.iter(|| network_hvp(black_box(w), black_box(x), black_box(y), black_box(t))));
        group.bench_function("hvp_hand", |b| {
            b.iter(|| network_hvp_hand(black_box(w), black_box(x), black_box(y), black_box(t)))
        });
        group.finish();
    }
}

fn bench_mlp(c: &mut Criterion) {
    let m = mlp_data();
    let mut group = c.benchmark_group("forward/mlp/256");
    group.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let args =
        || (black_box(&m.w1), black_box(&m.b1), black_box(&m.w2), black_box(&m.b2), black_box(&m.x), black_box(&m.y));
    let (t1, c1, t2, c2) = (&m.t.0, &m.t.1, &m.t.2, &m.t.3);
    group.bench_function("forward", |b| {
        b.iter(|| {
            let (w1, b1, w2, b2, x, y) = args();
            mlp(w1, b1, w2, b2, x, y)
        })
    });
    group.bench_function("jvp", |b| {
        b.iter(|| {
            let (w1, b1, w2, b2, x, y) = args();
            mlp_jvp(w1, b1, w2, b2, x, y, t1, c1, t2, c2)
        })
    });
    group.bench_function("grad", |b| {
        b.iter(|| {
            let (w1, b1, w2, b2, x, y) = args();
            mlp_grad(w1, b1, w2, b2, x, y)
        })
    });
    group.bench_function("hvp", |b| {
        b.iter(|| {
            let (w1, b1, w2, b2, x, y) = args();
            mlp_hvp(w1, b1, w2, b2, x, y, t1, c1, t2, c2)
        })
    });
    group.finish();
}

/// `count <workload> <which> <calls>`: `workload` is network (8×4), network_large (128×64) or
/// mlp; `which` is forward, jvp, grad, hvp, jvp_hand or hvp_hand (the last two for the networks).
fn count(workload: &str, which: &str, calls: usize) {
    match workload {
        "network" | "network_large" => {
            let (n, d, k) = if workload == "network" { (8, 4, 3) } else { (128, 64, 32) };
            let Network { w, x, y, t } = network_data(n, d, k);
            for _ in 0..calls {
                match which {
                    "forward" => drop(black_box(network(black_box(&w), &x, &y))),
                    "jvp" => drop(black_box(network_jvp(black_box(&w), &x, &y, &t))),
                    "jvp_hand" => drop(black_box(network_jvp_hand(black_box(&w), &x, &y, &t))),
                    "grad" => drop(black_box(network_grad(black_box(&w), &x, &y))),
                    "hvp" => drop(black_box(network_hvp(black_box(&w), &x, &y, &t))),
                    "hvp_hand" => drop(black_box(network_hvp_hand(black_box(&w), &x, &y, &t))),
                    other => panic!("unknown function {other}"),
                }
            }
        }
        "mlp" => {
            let m = mlp_data();
            let (t1, c1, t2, c2) = (&m.t.0, &m.t.1, &m.t.2, &m.t.3);
            for _ in 0..calls {
                let (w1, b1, w2, b2, x, y) = (black_box(&m.w1), &m.b1, &m.w2, &m.b2, &m.x, &m.y);
                match which {
                    "forward" => drop(black_box(mlp(w1, b1, w2, b2, x, y))),
                    "jvp" => drop(black_box(mlp_jvp(w1, b1, w2, b2, x, y, t1, c1, t2, c2))),
                    "grad" => drop(black_box(mlp_grad(w1, b1, w2, b2, x, y))),
                    "hvp" => drop(black_box(mlp_hvp(w1, b1, w2, b2, x, y, t1, c1, t2, c2))),
                    other => panic!("unknown function {other}"),
                }
            }
        }
        other => panic!("unknown workload {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if let [mode, workload, which, calls] = args.as_slice() {
        if mode == "count" {
            return count(workload, which, calls.parse().expect("calls"));
        }
    }
    let mut c = Criterion::default().configure_from_args();
    bench_network(&mut c);
    bench_mlp(&mut c);
    c.final_summary();
}
