#!/usr/bin/env python3
"""Generated ÷ hand-written time per workload, measured in alternating blocks.

Builds `benches/instructions.rs` (release) and runs `<workload> paired <rounds>` for each
workload: the two gradients are timed in alternating blocks of about a millisecond (the order
swapped every round), so that the machine's drift in speed, which moves two criterion runs of
the same binary by up to 2× here, moves both sides of each round's ratio alike. Prints the
median time per call of each, the median of the rounds' ratios and their quartiles. Pinned to
one core with `taskset` where it exists (`CORE`, 0 by default).

Usage: python3 scripts/paired.py [ROUNDS [WORKLOAD…]]   (ROUNDS = 41 by default; every workload
by default)
"""

import os
import shutil
import subprocess

from instructions import arguments, binary


def main():
    rounds, chosen = arguments(41)
    exe = binary()
    pin = ["taskset", "-c", os.environ.get("CORE", "0")] if shutil.which("taskset") else []
    print("| workload | generated (ns/call) | hand-written (ns/call) | ratio, median | quartiles |")
    print("|---|---:|---:|---:|---|")
    for w in chosen:
        out = subprocess.run(pin + [exe, w, "paired", str(rounds)], capture_output=True, text=True, check=True)
        g, h, m, q1, q3 = (float(x) for x in out.stdout.split())
        print(f"| {w} | {g:.1f} | {h:.1f} | {m:.2f} | {q1:.2f}–{q3:.2f} |")


if __name__ == "__main__":
    main()
