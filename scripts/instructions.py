#!/usr/bin/env python3
"""Instructions per call of the generated and hand-written gradients, by callgrind.

Builds `benches/instructions.rs` (release), runs it under `valgrind --tool=callgrind` with N + 1
calls and with 1 call for each workload and each of `generated` and `hand`, and prints the
difference divided by N (setup and the first call's one-time costs cancel), with the ratio.
Instruction counts do not depend on machine noise.

Usage: python3 scripts/instructions.py [--apart] [N [WORKLOAD…]]   (N = 200 by default; every
workload by default)

--apart builds the binary once per workload with that workload's code alone in it
(MATGRAD_INSTRUCTIONS_ONLY), so that its count does not depend on the others': LLVM inlines a
function with one caller almost whatever its size, so adding a workload to the binary can move
another's count (the pose's moved from 601 to 648 instructions with its code unchanged).
"""

import glob
import os
import re
import subprocess
import sys

# The large network (1024×512 · 512×256) takes about a second a call under callgrind: 3 calls.
LARGE = ("network_large",)
LARGE_CALLS = 3
WORKLOADS = ("network", "network_large", "dictionary", "factorization", "mlp", "gaussian", "gaussian_solve", "pose", "pose_loop", "pose_angle", "layers")


def binary(only=None):
    """The bench binary, built for every workload, or for `only` alone (`--apart`)."""
    env = dict(os.environ)
    env.pop("MATGRAD_INSTRUCTIONS_ONLY", None)
    if only:
        env["MATGRAD_INSTRUCTIONS_ONLY"] = only
    subprocess.run(["cargo", "bench", "--bench", "instructions", "--no-run"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    found = [p for p in glob.glob("target/release/deps/instructions-*") if os.access(p, os.X_OK)
             and not p.endswith(".d")]
    return max(found, key=os.path.getmtime)


def instructions(exe, workload, which, calls):
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", exe,
                          workload, which, str(calls)], capture_output=True, text=True, check=True)
    m = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
    return int(m.group(1))


def arguments(default_count):
    """The count (argv[1], `default_count` by default) and the workloads (the rest, every one
    by default) of a command line, exiting on an unknown workload."""
    args = [a for a in sys.argv[1:] if a != "--apart"]
    n = int(args[0]) if args else default_count
    chosen = args[1:] or WORKLOADS
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workloads {unknown}; known: {', '.join(WORKLOADS)}")
    return n, chosen


def main():
    n, chosen = arguments(200)
    apart = "--apart" in sys.argv[1:]
    exe = None if apart else binary()
    print("| workload | generated (instr/call) | hand-written (instr/call) | ratio |")
    print("|---|---:|---:|---:|")
    for w in chosen:
        if apart:
            exe = binary(w)
        per = {}
        calls = min(n, LARGE_CALLS) if w in LARGE else n
        for which in ("generated", "hand"):
            per[which] = (instructions(exe, w, which, calls + 1) - instructions(exe, w, which, 1)) / calls
        print(f"| {w} | {per['generated']:.0f} | {per['hand']:.0f} | {per['generated'] / per['hand']:.2f} |")


if __name__ == "__main__":
    main()
