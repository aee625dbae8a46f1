#!/usr/bin/env python3
"""Instructions per call of forward mode against the function and reverse mode, by callgrind.

Builds `benches/forward.rs` (release), runs it under `valgrind --tool=callgrind` with N + 1
calls and with 1 call of each function, and prints the difference divided by N, with the
ratios `_jvp` / forward and `_hvp` / `_grad` (and the hand-written network's).

Workloads: network (8×4 · 4×3), network_large (128×64 · 64×32), mlp (the perceptron).

Usage: python3 scripts/forward_instructions.py [N]   (N = 100 by default)
"""

import glob
import os
import re
import subprocess
import sys

FUNCTIONS = {
    "network": ("forward", "jvp", "jvp_hand", "grad", "hvp", "hvp_hand"),
    "network_large": ("forward", "jvp", "jvp_hand", "grad", "hvp", "hvp_hand"),
    "mlp": ("forward", "jvp", "grad", "hvp"),
}


def binary():
    subprocess.run(["cargo", "bench", "--bench", "forward", "--no-run"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = [p for p in glob.glob("target/release/deps/forward-*") if os.access(p, os.X_OK)
             and not p.endswith(".d")]
    return max(found, key=os.path.getmtime)


def instructions(exe, workload, which, calls):
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", exe,
                          "count", workload, which, str(calls)], capture_output=True, text=True,
                         check=True)
    return int(re.search(r"Collected\s*:\s*(\d+)", out.stderr).group(1))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    exe = binary()
    for workload, functions in FUNCTIONS.items():
        per = {f: (instructions(exe, workload, f, n + 1) - instructions(exe, workload, f, 1)) / n
               for f in functions}
        print(f"{workload}: " + ", ".join(f"{f} {per[f]:.0f}" for f in functions))
        print(f"  jvp / forward = {per['jvp'] / per['forward']:.2f}, hvp / grad = {per['hvp'] / per['grad']:.2f}")
        if "jvp_hand" in per:
            print(f"  jvp / jvp_hand = {per['jvp'] / per['jvp_hand']:.2f}, "
                  f"hvp / hvp_hand = {per['hvp'] / per['hvp_hand']:.2f}")


if __name__ == "__main__":
    main()
