"""Why a parallel optimiser step may not use the second core: BLAS's threads.

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_threads.py [--rounds 7]

The Adam step alone on the 1.86 M parameters of a 784-1024-1024-10 MLP,
timed in alternating rounds for each combination of BLAS threads (1 or 2,
set with threadpoolctl) and chainrule threads (1 or 2), each right after a
matrix product of the MLP's size ("after GEMM") and after a 50 ms pause
("idle"): OpenBLAS's worker threads keep spinning on their cores for a
while after a product, and a helper thread started then competes with them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _harness import report
from threadpoolctl import threadpool_limits

import chainrule as cr
from chainrule import _threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    shapes = [(784, 1024), (1024,), (1024, 1024), (1024,), (1024, 10), (10,)]
    params = [cr.nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    for p in params:
        p.grad = rng.standard_normal(p.shape).astype(np.float32) * 1e-3
    opt = cr.optim.Adam(params, lr=1e-6)
    opt.step()
    a = rng.standard_normal((128, 1024)).astype(np.float32)
    w = rng.standard_normal((1024, 1024)).astype(np.float32)
    results: dict = {}
    for _ in range(args.rounds):
        for blas in (1, 2):
            with threadpool_limits(blas, user_api="blas"):
                for ours in (1, 2):
                    _threads._num_threads[:] = [ours]
                    for when in ("after GEMM", "idle"):
                        times = []
                        for _ in range(args.steps):
                            if when == "after GEMM":
                                a @ w
                            else:
                                time.sleep(0.05)
                            t0 = time.perf_counter()
                            opt.step()
                            times.append(time.perf_counter() - t0)
                        key = f"BLAS {blas}, chainrule {ours}, {when}"
                        results.setdefault(key, []).append(sorted(times)[len(times) // 2])
    report("Adam step alone, 1.86 M parameters", results,
           reference="BLAS 1, chainrule 1, idle")


if __name__ == "__main__":
    main()
