#!/usr/bin/env bash
# matgrad's generated gradients against JAX's jit(value_and_grad(f)) on one core, float64, in one
# run: builds a Python virtual environment with jax (target/jax-venv, reused once built), runs the
# criterion benchmarks of the network and perceptron workloads pinned to CPU 0, then
# scripts/jax_compare.py, also pinned to CPU 0 with XLA on one thread, which prints the table.
#
# Usage: bash scripts/jax_compare.sh [--skip-bench]   (--skip-bench: reuse criterion's last figures)
# Env: CPU (default 0), the core both are pinned to; THREADS (default 1): XLA's threads, and the
# cores both are pinned to (0..THREADS-1); RUSTFLAGS and CARGO_TARGET_DIR as for cargo (XLA
# compiles for the host CPU, so `RUSTFLAGS="-C target-cpu=native"
# CARGO_TARGET_DIR=target/native` is the like-for-like build; criterion's figures are read from
# that target directory).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/jax-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import jax" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet jax
fi

threads="${THREADS:-1}"
cpu="${CPU:-0}"
if [ "$threads" != 1 ]; then
    cpu="0-$((threads - 1))"
fi
pin=()
if command -v taskset >/dev/null; then
    pin=(taskset -c "$cpu")
fi
# Absolute, so that the example's benchmark (run from its own directory) writes its criterion
# figures beside the others.
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
export CARGO_TARGET_DIR="$target"

if [ "${1:-}" != "--skip-bench" ]; then
    # network/… and mlp/… only; RAYON_NUM_THREADS for anything that would spawn threads.
    RAYON_NUM_THREADS=1 "${pin[@]}" cargo bench --bench gradients -- '^(network|mlp)/'
    if [ "$threads" != 1 ]; then
        RAYON_NUM_THREADS="$threads" "${pin[@]}" cargo bench -p matgrad-parallel-example --bench scaling
    fi
fi

if [ "$threads" = 1 ]; then
    export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
fi
"${pin[@]}" "$venv/bin/python" scripts/jax_compare.py --threads "$threads" "$target/criterion"
