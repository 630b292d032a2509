"""The cost of the compiled kernel layer: import time, first-call compile, install size.

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_kernels.py

Each figure is measured in fresh Python processes (median of --runs):

* ``import chainrule`` (numba is not imported by it), and ``import numba``;
* the first Adam step in a process: with an empty kernel cache folder
  (cold: numba compiles the loop) and with the cache filled by a previous
  process (cached: numba loads the machine code);
* the installed size of numba and llvmlite (the default install's extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata

FIRST_STEP = """
import time, numpy as np
import chainrule as cr
p = cr.nn.Parameter(np.ones(1000, np.float32)); p.grad = np.ones(1000, np.float32)
opt = cr.optim.Adam([p], lr=1e-3)
t = time.perf_counter(); opt.step(); print(time.perf_counter() - t)
"""


def _seconds(code: str, env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _size(dist: str) -> float:
    files = metadata.distribution(dist).files or []
    total = 0
    for f in files:
        path = f.locate()
        if os.path.isfile(path):
            total += os.path.getsize(path)
    return total / 2**20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    env = dict(os.environ)
    timer = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"
    for name in ("chainrule", "numba"):
        ts = [_seconds(timer.format(name), env) for _ in range(args.runs)]
        print(f"import {name:10s} {statistics.median(ts) * 1e3:8.1f} ms "
              f"[{min(ts) * 1e3:.1f}-{max(ts) * 1e3:.1f}]")
    cold, cached = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            env["CHAINRULE_CACHE_DIR"] = folder
            cold.append(_seconds(FIRST_STEP, env))
            cached.append(_seconds(FIRST_STEP, env))
    for label, ts in (("first Adam step, cold cache", cold), ("first Adam step, cached", cached)):
        print(f"{label:30s} {statistics.median(ts):7.2f} s [{min(ts):.2f}-{max(ts):.2f}]")
    sizes = {d: _size(d) for d in ("numba", "llvmlite")}
    print("installed size: " + ", ".join(f"{d} {s:.1f} MiB" for d, s in sizes.items())
          + f" (total {sum(sizes.values()):.1f} MiB)")


if __name__ == "__main__":
    main()
