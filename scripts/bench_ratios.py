#!/usr/bin/env python3
"""Ratio table for `cargo bench --bench gradients`.

Reads criterion's results, target/criterion/<group>/<function>/new/estimates.json (criterion
writes the `/` of a group id as `_` in the directory name), for the functions `generated`,
`hand` and `forward` of every workload group (`network/128x64`, ...), takes each median
(`median.point_estimate`, ns), and prints a markdown table with the generated/hand-written
ratio and the gradient/forward ratio (the generated `_grad`'s time over the forward pass's).

With `--forward`, the table of `cargo bench --bench forward` instead (groups `forward/…`):
`_jvp` / forward and `_hvp` / `_grad`, and the generated over the hand-written JVP and HVP.

Usage: python3 scripts/bench_ratios.py [path/to/target/criterion]
       python3 scripts/bench_ratios.py --forward [path/to/target/criterion]
"""

import json
import os
import re
import sys

FUNCTIONS = ("generated", "hand", "forward")
FAMILIES = ("network", "dictionary", "factorization", "mlp", "gaussian", "gaussian_solve", "pose", "pose_loop", "pose_angle", "layers")


def load(criterion_dir):
    """{group_id: {function_id: median ns}} for the functions of the workload families.

    Criterion writes `<group>/<function>/new/estimates.json`, with the `/` of a group id such as
    `network/128x64` replaced by `_` in the directory name (`network_128x64`); the ids themselves
    are in `new/benchmark.json` next to it, so the directories are read rather than guessed.
    """
    results = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "estimates.json" not in files or "benchmark.json" not in files:
            continue
        with open(os.path.join(root, "benchmark.json"), encoding="utf-8") as f:
            meta = json.load(f)
        group, function = meta.get("group_id"), meta.get("function_id")
        if function not in FUNCTIONS or not group or group.split("/")[0] not in FAMILIES:
            continue
        with open(os.path.join(root, "estimates.json"), encoding="utf-8") as f:
            results.setdefault(group, {})[function] = float(json.load(f)["median"]["point_estimate"])
    return results


def order(group):
    """Families in FAMILIES order, sizes by total entries then dimensions."""
    family, _, size = group.partition("/")
    dims = [int(d) for d in re.findall(r"\d+", size)]
    product = 1
    for d in dims:
        product *= d
    return (FAMILIES.index(family), product, dims)


def fmt_time(ns):
    if ns is None:
        return "–"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_ratio(num, den):
    if num is None or den is None or den == 0:
        return "–"
    return f"{num / den:.2f}×"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    criterion_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "target", "criterion")
    results = load(criterion_dir)
    if not results:
        sys.exit(f"no results under {criterion_dir}: run `cargo bench --bench gradients` first")
    print("| workload | generated | hand-written | forward | generated / hand-written | gradient / forward |")
    print("|---|---:|---:|---:|---:|---:|")
    for group in sorted(results, key=order):
        gen, hand, fwd = (results[group].get(fn) for fn in FUNCTIONS)
        print(
            f"| {group} | {fmt_time(gen)} | {fmt_time(hand)} | {fmt_time(fwd)} "
            f"| {fmt_ratio(gen, hand)} | {fmt_ratio(gen, fwd)} |"
        )
    print()
    print("Medians of criterion's estimates. gradient / forward is the generated `_grad` (value and")
    print("gradients) over the forward function alone.")


FORWARD_FUNCTIONS = ("forward", "jvp", "jvp_hand", "grad", "hvp", "hvp_hand")


def load_forward(criterion_dir, fastest=False):
    """{workload: {function: median ns}} for the groups `forward/<workload>` of
    `cargo bench --bench forward`; with `fastest`, the fastest sample's time per iteration
    instead (`new/sample.json`), the one least disturbed by other load on a shared machine."""
    results = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "estimates.json" not in files or "benchmark.json" not in files:
            continue
        with open(os.path.join(root, "benchmark.json"), encoding="utf-8") as f:
            meta = json.load(f)
        group, function = meta.get("group_id") or "", meta.get("function_id")
        if not group.startswith("forward/") or function not in FORWARD_FUNCTIONS:
            continue
        if fastest:
            with open(os.path.join(root, "sample.json"), encoding="utf-8") as f:
                sample = json.load(f)
            ns = min(t / n for t, n in zip(sample["times"], sample["iters"]))
        else:
            with open(os.path.join(root, "estimates.json"), encoding="utf-8") as f:
                ns = float(json.load(f)["median"]["point_estimate"])
        results.setdefault(group[len("forward/"):], {})[function] = ns
    return results


def print_forward(results):
    """The forward-mode table: `_jvp` / forward (target ≤ 2), `_hvp` / `_grad` (target ≤ 3), and
    the generated over the hand-written JVP and HVP where the workload has them."""
    print("| workload | forward | `_jvp` | `_grad` | `_hvp` | `_jvp` / forward | `_hvp` / `_grad` | generated / hand-written JVP, HVP |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for workload in sorted(results):
        r = results[workload]
        get = r.get
        print(
            f"| {workload} | {fmt_time(get('forward'))} | {fmt_time(get('jvp'))} | {fmt_time(get('grad'))} "
            f"| {fmt_time(get('hvp'))} | {fmt_ratio(get('jvp'), get('forward'))} | {fmt_ratio(get('hvp'), get('grad'))} "
            f"| {fmt_ratio(get('jvp'), get('jvp_hand'))}, {fmt_ratio(get('hvp'), get('hvp_hand'))} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--forward":
        here = os.path.dirname(os.path.abspath(__file__))
        where = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "target", "criterion")
        found = load_forward(where)
        if not found:
            sys.exit("no forward-mode results: run `cargo bench --bench forward` first")
        print("Medians:")
        print_forward(found)
        print()
        print("Fastest samples (least disturbed by other load):")
        print_forward(load_forward(where, fastest=True))
    else:
        main()
