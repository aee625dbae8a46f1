#!/usr/bin/env python3
"""matgrad's generated gradients beside JAX's `jit(value_and_grad(f))`, float64, same inputs.

Run through `scripts/jax_compare.sh`, which builds the Python virtual environment (`pip install
jax`), runs the criterion benchmarks of the network and perceptron workloads, then this script.
Alone: `python3 scripts/jax_compare.py [--threads N] [label=path/to/target/criterion …]` with
jax installed (one `label=path` per build of matgrad measured; the shell script passes the
default and the native build).

For each workload of `benches/gradients.rs` (the one-layer network at three sizes, the two-layer
tanh perceptron) it rebuilds the benchmark's inputs bit for bit (the same generator as
`benches/workloads::data`, column-major like nalgebra's `from_fn`), compiles
`jax.jit(jax.value_and_grad(f, argnums=…))` in float64, checks its value against a NumPy
evaluation, and times it after compilation: each sample is a batch of calls ending with
`block_until_ready`, and the median per call over the samples is reported. It then reads
criterion's medians for `generated` and `hand` of each build from the same machine (what the
benchmarks just measured) and prints a table with the ratios generated/JAX and hand/JAX (below
1: faster than JAX).

Threads: `--threads 1` (the default) pins XLA to one thread (`--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1`); the shell script also pins the process to one core.
"""

import json
import os
import statistics
import sys
import time

MUL = 6_364_136_223_846_793_005
INC = 1_442_695_040_888_963_407
MASK = (1 << 64) - 1


def data(rows, cols, seed, scale):
    """`benches/workloads::data`: a deterministic matrix, entries in [-scale, scale]."""
    import numpy as np

    state = (seed * MUL + INC) & MASK
    out = np.empty((rows, cols), dtype=np.float64)
    for j in range(cols):
        for i in range(rows):
            state = (state * MUL + INC) & MASK
            out[i, j] = (((state >> 11) / float(1 << 53)) * 2.0 - 1.0) * scale
    return out


def network_inputs(n, d, k):
    w = data(d, k, 2, 1.0 / d ** 0.5)
    x = data(n, d, 1, 1.0)
    y = data(n, k, 3, 0.4) + 0.5
    return (w, x, y)


def mlp_inputs():
    import numpy as np

    n, d, h, k = 256, 64, 128, 10
    x = data(n, d, 7, 1.0)
    w1 = data(d, h, 8, 1.0 / d ** 0.5)
    b1 = np.array([[0.1 * ((j % 7) - 3.0) for j in range(h)]])
    w2 = data(h, k, 9, 1.0 / h ** 0.5)
    b2 = np.array([[0.05 * j for j in range(k)]])
    y = data(n, k, 10, 1.0)
    return (w1, b1, w2, b2, x, y)


def workloads():
    """(criterion group, f in jax.numpy, its NumPy twin, inputs, argnums)."""
    import jax.numpy as jnp
    import numpy as np

    def network(w, x, y):
        a = 1.0 / (1.0 + jnp.exp(-(x @ w)))
        return jnp.sum((a - y) ** 2)

    def network_np(w, x, y):
        a = 1.0 / (1.0 + np.exp(-(x @ w)))
        return np.sum((a - y) ** 2)

    def mlp(w1, b1, w2, b2, x, y):
        h = jnp.tanh(x @ w1 + b1)
        return jnp.sum((h @ w2 + b2 - y) ** 2)

    def mlp_np(w1, b1, w2, b2, x, y):
        h = np.tanh(x @ w1 + b1)
        return np.sum((h @ w2 + b2 - y) ** 2)

    out = []
    for n, d, k in ((8, 4, 3), (128, 64, 32), (1024, 512, 256)):
        out.append((f"network/{n}x{d}", network, network_np, network_inputs(n, d, k), (0,)))
    out.append(("mlp/256", mlp, mlp_np, mlp_inputs(), (0, 1, 2, 3)))
    return out


def time_jax(f, args, argnums, budget=2.0):
    """Median seconds per call of the compiled value-and-gradient, after compilation."""
    import jax

    g = jax.jit(jax.value_and_grad(f, argnums=argnums))
    dev = [jax.device_put(a) for a in args]
    value, _ = g(*dev)
    jax.block_until_ready(value)
    # calls per sample: about 20 ms each
    t0 = time.perf_counter()
    jax.block_until_ready(g(*dev))
    once = max(time.perf_counter() - t0, 1e-7)
    per = max(1, int(0.02 / once))
    samples = []
    end = time.perf_counter() + budget
    while time.perf_counter() < end or len(samples) < 10:
        t0 = time.perf_counter()
        for _ in range(per):
            r = g(*dev)
        jax.block_until_ready(r)
        samples.append((time.perf_counter() - t0) / per)
    return float(value), statistics.median(samples)


def criterion_medians(criterion_dir):
    """{group: {function: median ns}} from criterion's `new/estimates.json` files."""
    found = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "estimates.json" not in files or "benchmark.json" not in files:
            continue
        with open(os.path.join(root, "benchmark.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        with open(os.path.join(root, "estimates.json"), encoding="utf-8") as fh:
            median = float(json.load(fh)["median"]["point_estimate"])
        found.setdefault(meta.get("group_id"), {})[meta.get("function_id")] = median
    return found


def fmt(ns):
    if ns is None:
        return "–"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main():
    argv = sys.argv[1:]
    threads = 1
    if "--threads" in argv:
        k = argv.index("--threads")
        threads = int(argv[k + 1])
        del argv[k : k + 2]
    # `label=path/to/criterion` for each build measured (a bare path: one build, "matgrad")
    builds = [a.split("=", 1) if "=" in a else ("matgrad", a) for a in argv]
    if not builds:
        builds = [("matgrad", os.path.join("target", "criterion"))]
    if threads == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    ours = [(label, criterion_medians(path)) for label, path in builds]
    sources = ", ".join(f"{label}: {path}" for label, path in builds)
    print(f"jax {jax.__version__}, float64, {threads} thread(s); criterion medians from {sources}")
    print()
    if threads > 1:
        print(f"(matgrad generated: the sharded batch on {threads} rayon threads, `cargo bench -p matgrad-parallel-example`)")
    head = ["workload", "JAX jit(value_and_grad)"]
    for label, _ in ours:
        # on several threads the second pair of columns is the same batch with the pool's
        # workers spinning between calls (`spin::keep_spinning`), not a hand-written gradient
        other = f"workers spinning ({label})" if threads > 1 else f"hand-written ({label})"
        head += [f"generated ({label})", "/ JAX", other, "/ JAX"]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for group, f, f_np, args, argnums in workloads():
        value, secs = time_jax(f, args, argnums)
        want = float(f_np(*args))
        assert abs(value - want) <= 1e-9 * abs(want), f"{group}: JAX value {value} vs NumPy {want}"
        jax_ns = secs * 1e9
        ratio = lambda t: f"{t / jax_ns:.2f}" if t else "–"  # noqa: E731
        row = [group, fmt(jax_ns)]
        for _, medians in ours:
            gen = medians.get(group, {}).get("generated")
            hand = medians.get(group, {}).get("hand")
            if threads > 1:
                # the batch-parallel figure of examples/parallel/benches/scaling.rs, when measured
                parallel = medians.get(f"parallel/{group}", {})
                gen = next((t for f, t in parallel.items() if f and f.endswith(f", {threads} threads")), None)
                hand = next((t for f, t in parallel.items() if f and f.endswith(f", {threads} threads, workers spinning")), None)
            row += [fmt(gen), ratio(gen), fmt(hand), ratio(hand)]
        print("| " + " | ".join(row) + " |")
        print(f"<!-- {group}: value {value!r} -->")
    if threads > 1:
        # the speed-ups of the sharded batches: 1 thread against `threads`, asleep and spinning
        for label, medians in ours:
            for group, funcs in sorted((g, f) for g, f in medians.items() if g and g.startswith("parallel/")):
                one = next((t for f, t in funcs.items() if f and f.endswith(", 1 threads")), None)
                if one is None:
                    continue
                parts = []
                for suffix, what in ((f", {threads} threads", "asleep between calls"),
                                     (f", {threads} threads, workers spinning", "spinning")):
                    t = next((t for f, t in funcs.items() if f and f.endswith(suffix)), None)
                    if t:
                        parts.append(f"{fmt(t)} {what} ({one / t:.2f}x)")
                print(f"{label} {group}: 1 thread {fmt(one)}; {threads} threads " + ", ".join(parts))


if __name__ == "__main__":
    main()
