//! Runs one workload's generated and hand-written gradients, for two scripts:
//!
//! - `scripts/instructions.py` runs `<workload> <generated|hand> <calls>` under
//!   `valgrind --tool=callgrind` with N + 1 calls and with 1 call and takes the difference:
//!   instructions per call, whatever the machine is doing;
//! - `scripts/paired.py` runs `<workload> paired <rounds>`, which times the two gradients in
//!   alternating blocks of calls (each block about a millisecond, the order swapped every round)
//!   and prints the median time per call of each and the median and quartiles of the rounds'
//!   ratios: a drift of the machine's speed between two criterion runs seconds apart, which moves
//!   a ratio of two ~60 ns functions by up to 2× here, then moves both sides of each ratio alike.
//!
//! `cargo bench --bench instructions -- <workload> <generated|hand|paired> <calls|rounds>`.

mod workloads;

use std::hint::black_box;
use std::time::{Duration, Instant};

use nalgebra::{DMatrix, RowDVector, SMatrix, SVector};
use workloads::*;

fn gaussian_data(n: usize) -> (DMatrix<f64>, DMatrix<f64>) {
    let a = data(n, n, 11, 1.0);
    let s = &a * a.transpose() / n as f64 + DMatrix::identity(n, n);
    let b = data(n, n, 12, 1.0);
    (s, &b * b.transpose() / n as f64)
}

type Mlp = (DMatrix<f64>, RowDVector<f64>, DMatrix<f64>, RowDVector<f64>, DMatrix<f64>, DMatrix<f64>);

/// The perceptron of `gradients.rs` (batch 256, 64 → 128 → 10), the same data.
fn mlp_data() -> Mlp {
    let (n, d, h, k) = (256, 64, 128, 10);
    let x = data(n, d, 7, 1.0);
    let w1 = data(d, h, 8, 1.0 / (d as f64).sqrt());
    let b1 = RowDVector::from_fn(h, |_, j| 0.1 * ((j % 7) as f64 - 3.0));
    let w2 = data(h, k, 9, 1.0 / (h as f64).sqrt());
    let b2 = RowDVector::from_fn(k, |_, j| 0.05 * j as f64);
    (w1, b1, w2, b2, x, data(n, k, 10, 1.0))
}

type Pose = (SMatrix<f64, 3, 3>, SVector<f64, 3>, SMatrix<f64, 3, 8>, SMatrix<f64, 3, 8>);

fn pose_data() -> Pose {
    let (cz, sz) = (0.3f64.cos(), 0.3f64.sin());
    let r = SMatrix::<f64, 3, 3>::new(cz, -sz, 0.0, sz, cz, 0.0, 0.0, 0.0, 1.0);
    let t = SVector::<f64, 3>::new(0.1, -0.2, 0.3);
    let p = SMatrix::<f64, 3, 8>::from_fn(|i, j| ((i * 8 + j) % 5) as f64 * 0.3 - 0.6);
    let q = SMatrix::<f64, 3, 8>::from_fn(|i, j| ((i + 3 * j) % 7) as f64 * 0.2 - 0.5);
    (r, t, p, q)
}

/// Keeps a call's result (so that the call is not optimised away) and drops it.
fn sink<T>(v: T) {
    black_box(v);
}

/// What to do with a workload's two gradients.
enum Mode {
    /// Call one of them `calls` times (for callgrind).
    Count { hand: bool, calls: usize },
    /// Time them in `rounds` pairs of alternating blocks.
    Paired { rounds: usize },
}

fn drive(mode: &Mode, mut generated: impl FnMut(), mut hand: impl FnMut()) {
    match *mode {
        Mode::Count { hand: true, calls } => (0..calls).for_each(|_| hand()),
        Mode::Count { hand: false, calls } => (0..calls).for_each(|_| generated()),
        Mode::Paired { rounds } => paired(rounds, &mut generated, &mut hand),
    }
}

/// The time of `calls` calls of `f`.
fn block(calls: usize, f: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    (0..calls).for_each(|_| f());
    start.elapsed()
}

/// Times the two functions in alternating blocks and prints `generated_ns hand_ns ratio q1 q3`:
/// the medians of the per-call times, then the median and quartiles of the rounds' ratios.
fn paired(rounds: usize, generated: &mut impl FnMut(), hand: &mut impl FnMut()) {
    // blocks of about a millisecond of the generated gradient, after a warm-up of as long
    let mut calls = 1;
    while block(calls, generated) < Duration::from_millis(1) {
        calls *= 2;
    }
    block(calls, hand);
    let (mut g, mut h, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (tg, th) = match round % 2 {
            0 => (block(calls, generated), block(calls, hand)),
            _ => {
                let th = block(calls, hand);
                (block(calls, generated), th)
            }
        };
        g.push(tg.as_secs_f64() * 1e9 / calls as f64);
        h.push(th.as_secs_f64() * 1e9 / calls as f64);
        ratio.push(tg.as_secs_f64() / th.as_secs_f64());
    }
    let quantile = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let (gm, hm) = (quantile(&mut g, 0.5), quantile(&mut h, 0.5));
    let (q1, m, q3) = (quantile(&mut ratio, 0.25), quantile(&mut ratio, 0.5), quantile(&mut ratio, 0.75));
    println!("{gm:.1} {hm:.1} {m:.3} {q1:.3} {q3:.3}");
}

/// The workload this binary is built for alone, when `MATGRAD_INSTRUCTIONS_ONLY` names one at
/// build time (`scripts/instructions.py --apart`): the other workloads' code is then not in the
/// binary, so what LLVM inlines into this one's gradients (and so its count) does not depend on
/// what the others are. Every workload otherwise.
const ONLY: Option<&str> = option_env!("MATGRAD_INSTRUCTIONS_ONLY");

/// Whether this binary runs `workload` (a constant: the arms of the others are compiled out).
const fn built(workload: &str) -> bool {
    let Some(only) = ONLY else { return true };
    let (a, b) = (only.as_bytes(), workload.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [workload, which, n] = args.as_slice() else {
        eprintln!("usage: instructions <workload> <generated|hand|paired> <calls|rounds>");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("a count");
    let mode = match which.as_str() {
        "paired" => Mode::Paired { rounds: n },
        "hand" => Mode::Count { hand: true, calls: n },
        _ => Mode::Count { hand: false, calls: n },
    };
    match workload.as_str() {
        "network" if const { built("network") } => {
            let (x, w, y) = (data(8, 4, 1, 1.0), data(4, 3, 2, 0.5), data(8, 3, 3, 0.5));
            drive(
                &mode,
                || sink(network_grad(black_box(&w), black_box(&x), black_box(&y))),
                || sink(network_hand(black_box(&w), black_box(&x), black_box(&y))),
            );
        }
        "network_large" if const { built("network_large") } => {
            // the large network of `gradients.rs`: X 1024×512, W 512×256
            let (x, w) = (data(1024, 512, 1, 1.0), data(512, 256, 2, 1.0 / 512f64.sqrt()));
            let y = data(1024, 256, 3, 0.4).add_scalar(0.5);
            drive(
                &mode,
                || sink(network_grad(black_box(&w), black_box(&x), black_box(&y))),
                || sink(network_hand(black_box(&w), black_box(&x), black_box(&y))),
            );
        }
        "dictionary" if const { built("dictionary") } => {
            // the smaller dictionary of `gradients.rs`: X 64×128, D 64×16, R 16×128
            let (x, d, r) = (data(64, 128, 4, 1.0), data(64, 16, 5, 1.0), data(16, 128, 6, 0.25));
            drive(
                &mode,
                || sink(dictionary_grad(black_box(&x), black_box(&d), black_box(&r))),
                || sink(dictionary_hand(black_box(&x), black_box(&d), black_box(&r))),
            );
        }
        "factorization" if const { built("factorization") } => {
            // the factorization of `gradients.rs`: U 200×8, V 150×8, R 200×150
            let (u, v, r) = (data(200, 8, 21, 0.5), data(150, 8, 22, 0.5), data(200, 150, 23, 1.0));
            drive(
                &mode,
                || sink(factorization_grad(black_box(&u), black_box(&v), black_box(&r))),
                || sink(factorization_hand(black_box(&u), black_box(&v), black_box(&r))),
            );
        }
        "mlp" if const { built("mlp") } => {
            let (w1, b1, w2, b2, x, y) = mlp_data();
            drive(
                &mode,
                || {
                    sink(mlp_grad(
                        black_box(&w1),
                        black_box(&b1),
                        black_box(&w2),
                        black_box(&b2),
                        black_box(&x),
                        black_box(&y),
                    ))
                },
                || {
                    sink(mlp_hand(
                        black_box(&w1),
                        black_box(&b1),
                        black_box(&w2),
                        black_box(&b2),
                        black_box(&x),
                        black_box(&y),
                    ))
                },
            );
        }
        "gaussian" if const { built("gaussian") } => {
            let (s, c) = gaussian_data(16);
            drive(
                &mode,
                || sink(gaussian_grad(black_box(&s), black_box(&c))),
                || sink(gaussian_hand(black_box(&s), black_box(&c))),
            );
        }
        "gaussian_solve" if const { built("gaussian_solve") } => {
            let (s, c) = gaussian_data(16);
            drive(
                &mode,
                || sink(gaussian_solve_grad(black_box(&s), black_box(&c))),
                || sink(gaussian_hand(black_box(&s), black_box(&c))),
            );
        }
        "pose" if const { built("pose") } => {
            let (r, t, p, q) = pose_data();
            drive(
                &mode,
                || sink(pose_grad(black_box(&r), black_box(&t), black_box(&p), black_box(&q))),
                || sink(pose_hand(black_box(&r), black_box(&t), black_box(&p), black_box(&q))),
            );
        }
        "pose_loop" if const { built("pose_loop") } => {
            let (r, t, p, q) = pose_data();
            drive(
                &mode,
                || sink(pose_loop_grad(black_box(&r), black_box(&t), black_box(&p), black_box(&q))),
                || sink(pose_hand(black_box(&r), black_box(&t), black_box(&p), black_box(&q))),
            );
        }
        "pose_angle" if const { built("pose_angle") } => {
            let (theta, t, p, q) = pose_angle_data();
            drive(
                &mode,
                || sink(pose_angle_grad(black_box(theta), black_box(&t), black_box(&p), black_box(&q))),
                || sink(pose_angle_hand(black_box(theta), black_box(&t), black_box(&p), black_box(&q))),
            );
        }
        "layers" if const { built("layers") } => {
            let (p, x, y) = layers_data();
            drive(
                &mode,
                || sink(layers_grad(black_box(&p), black_box(&x), black_box(&y))),
                || sink(layers_hand(black_box(&p), black_box(&x), black_box(&y))),
            );
        }
        other => {
            eprintln!(
                "unknown workload {other}: network, network_large, dictionary, factorization, mlp, gaussian, gaussian_solve, pose, pose_loop, pose_angle, layers{}",
                ONLY.map(|w| format!(" (this binary: {w} only)")).unwrap_or_default()
            );
            std::process::exit(2);
        }
    }
}
