//! Calls one workload's generated or hand-written gradient a given number of times, for
//! `scripts/instructions.py`, which runs it under `valgrind --tool=callgrind` with N + 1 calls
//! and with 1 call and takes the difference: instructions per call, whatever the machine is
//! doing. `cargo bench --bench instructions -- <workload> <generated|hand> <calls>`.

mod workloads;

use std::hint::black_box;

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [workload, which, calls] = args.as_slice() else {
        eprintln!("usage: instructions <workload> <generated|hand> <calls>");
        std::process::exit(2);
    };
    let calls: usize = calls.parse().expect("calls");
    let hand = which == "hand";
    match workload.as_str() {
        "network" => {
            let (x, w, y) = (data(8, 4, 1, 1.0), data(4, 3, 2, 0.5), data(8, 3, 3, 0.5));
            for _ in 0..calls {
                match hand {
                    true => drop(black_box(network_hand(black_box(&w), &x, &y))),
                    false => drop(black_box(network_grad(black_box(&w), &x, &y))),
                }
            }
        }
        "network_large" => {
            // the large network of `gradients.rs`: X 1024×512, W 512×256
            let (x, w) = (data(1024, 512, 1, 1.0), data(512, 256, 2, 1.0 / 512f64.sqrt()));
            let y = data(1024, 256, 3, 0.4).add_scalar(0.5);
            for _ in 0..calls {
                match hand {
                    true => drop(black_box(network_hand(black_box(&w), &x, &y))),
                    false => drop(black_box(network_grad(black_box(&w), &x, &y))),
                }
            }
        }
        "mlp" => {
            let (w1, b1, w2, b2, x, y) = mlp_data();
            for _ in 0..calls {
                match hand {
                    true => drop(black_box(mlp_hand(black_box(&w1), &b1, &w2, &b2, &x, &y))),
                    false => drop(black_box(mlp_grad(black_box(&w1), &b1, &w2, &b2, &x, &y))),
                }
            }
        }
        "gaussian" | "gaussian_solve" => {
            let (s, c) = gaussian_data(16);
            for _ in 0..calls {
                match (hand, workload.as_str()) {
                    (true, _) => drop(black_box(gaussian_hand(black_box(&s), &c))),
                    (false, "gaussian") => drop(black_box(gaussian_grad(black_box(&s), &c))),
                    _ => drop(black_box(gaussian_solve_grad(black_box(&s), &c))),
                }
            }
        }
        "pose" | "pose_loop" => {
            let (r, t, p, q) = pose_data();
            for _ in 0..calls {
                match (hand, workload.as_str()) {
                    (true, _) => drop(black_box(pose_hand(black_box(&r), &t, &p, &q))),
                    (false, "pose") => drop(black_box(pose_grad(black_box(&r), &t, &p, &q))),
                    _ => drop(black_box(pose_loop_grad(black_box(&r), &t, &p, &q))),
                }
            }
        }
        other => {
            eprintln!(
                "unknown workload {other}: network, network_large, mlp, gaussian, gaussian_solve, pose, pose_loop"
            );
            std::process::exit(2);
        }
    }
}
