"""Data-parallel step time over MPI: 1 and 2 ranks, with the all-reduce's share.

Run from the repository root (needs ``pip install "chainrule[distributed]"``):

    PYTHONPATH=src python benchmarks/bench_distributed.py            # starts mpiexec -n 1 and -n 2

It starts itself under ``mpiexec -n R`` for R in --ranks (default 1 2).
Each run trains the MLP 784-1024-1024-10 with Adam on a *global*
minibatch of --batch rows (default 128), sharded over the ranks, with plain
user code (``nn.Sequential``, ``DistributedOptimizer``), and rank 0 prints
the median step time, the median time of the one all-reduce of the
gradients (1.86 M float32 = 7.5 MB) and its share of the step.  With R
ranks on one machine each rank gets 2/R of its cores: BLAS runs on
``cores // R`` threads per rank, so the comparison is at equal hardware.

Finally a model on paper: the ring all-reduce of B bytes over R machines
sends 2 (R-1)/R · B per machine, so at link speed L it takes about
2 (R-1)/R · B / L (plus latency); printed for 10, 25 and 100 Gbit/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def worker(args):
    from threadpoolctl import threadpool_limits

    import chainrule as cr
    import chainrule.distributed as dist
    import chainrule.nn.functional as F
    from chainrule import nn

    dist.init()
    r, world = dist.rank(), dist.world_size()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    threads = max(1, cores // world)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                          nn.Linear(1024, 10))
    dist.broadcast_parameters(model)
    opt = dist.DistributedOptimizer(cr.optim.Adam(model.parameters(), lr=1e-3))
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    part = dist.shard(args.batch)
    xb, yb = x[part], y[part]
    steps, reduces = [], []
    with threadpool_limits(threads, user_api="blas"):
        for i in range(args.steps + 3):
            dist.barrier()
            t0 = time.perf_counter()
            loss = F.cross_entropy(model(cr.tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.set_share(len(xb), args.batch)
            t1 = time.perf_counter()
            opt.synchronize()
            t2 = time.perf_counter()
            opt.optimizer.step()
            t3 = time.perf_counter()
            if i >= 3:
                steps.append(t3 - t0)
                reduces.append(t2 - t1)
    step = dist.all_reduce(np.array(statistics.median(steps)), op="max")
    red = dist.all_reduce(np.array(statistics.median(reduces)), op="max")
    if r == 0:
        print(f"RESULT ranks={world} threads/rank={threads} step_ms={1e3 * float(step):.3f} "
              f"allreduce_ms={1e3 * float(red):.3f} share={float(red / step):.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    print("MLP 784-1024-1024-10, Adam, global batch", args.batch)
    rows = {}
    for n in args.ranks:
        cmd = ["mpiexec", "-n", str(n), sys.executable, __file__, "--worker",
               "--batch", str(args.batch), "--steps", str(args.steps)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
        print(line[7:])
        rows[n] = float(line.split("step_ms=")[1].split()[0])
    if 1 in rows:
        for n, ms in rows.items():
            print(f"speed-up with {n} ranks: {rows[1] / ms:.2f}x")
    grad_bytes = 1_863_690 * 4
    print(f"\npaper model, ring all-reduce of {grad_bytes / 1e6:.1f} MB per step:")
    for gbit in (10, 25, 100):
        for machines in (2, 8, 64):
            t = 2 * (machines - 1) / machines * grad_bytes / (gbit * 1e9 / 8)
            print(f"  {gbit:>3} Gbit/s, {machines:>2} machines: {1e3 * t:6.2f} ms")


if __name__ == "__main__":
    main()
