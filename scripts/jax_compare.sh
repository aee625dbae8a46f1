#!/usr/bin/env bash
# matgrad's generated gradients against JAX's jit(value_and_grad(f)) on one core, float64, in one
# run: builds a Python virtual environment with jax (target/jax-venv, reused once built), runs the
# criterion benchmarks of the network and perceptron workloads pinned to CPU 0, in two builds
# (the default target, and `-C target-cpu=native` in target/native), then
# scripts/jax_compare.py, also pinned to CPU 0 with XLA on one thread, which prints the table.
#
# Usage: bash scripts/jax_compare.sh [--skip-bench]   (--skip-bench: reuse criterion's last figures)
# Env: CPU (default 0), the core both are pinned to; THREADS (default 1): XLA's threads, and the
# cores both are pinned to (0..THREADS-1); TARGET_CPUS (default "native"): the builds beside the
# default target, one per `-C target-cpu` (say "native x86-64-v3"), each in
# $CARGO_TARGET_DIR/<cpu>; RUSTFLAGS and CARGO_TARGET_DIR as for cargo.
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

# The builds of matgrad, measured in the same run: the default target (what `cargo bench`
# builds: on x86-64 SSE2 only, so a lane is two f64) and one per TARGET_CPUS, by default the
# host CPU's (`-C target-cpu=native`, its own target directory), which is what XLA compiles for.
builds=("default=$target")
for cpu_name in ${TARGET_CPUS:-native}; do
    builds+=("$cpu_name=$target/$cpu_name")
done
if [ "${1:-}" != "--skip-bench" ]; then
    for build in "${builds[@]}"; do
        name="${build%%=*}"
        dir="${build#*=}"
        flags="${RUSTFLAGS:-}"
        if [ "$name" != default ]; then
            flags="$flags -C target-cpu=$name"
        fi
        # network/… and mlp/… only; RAYON_NUM_THREADS for anything that would spawn threads.
        RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" RAYON_NUM_THREADS=1 "${pin[@]}" \
            cargo bench --bench gradients -- '^(network|mlp)/'
        if [ "$threads" != 1 ]; then
            RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" RAYON_NUM_THREADS="$threads" "${pin[@]}" \
                cargo bench -p matgrad-parallel-example --bench scaling
        fi
    done
fi

if [ "$threads" = 1 ]; then
    export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
fi
args=()
for build in "${builds[@]}"; do
    args+=("${build%%=*}=${build#*=}/criterion")
done
"${pin[@]}" "$venv/bin/python" scripts/jax_compare.py --threads "$threads" "${args[@]}"
