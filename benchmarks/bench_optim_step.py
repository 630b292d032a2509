"""The optimiser step alone: chainrule vs PyTorch (CPU), same parameters and gradients.

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_optim_step.py

For each case the parameters of an MLP (weights and biases of the given
layer sizes) get fixed random gradients, and ``opt.step()`` alone is timed
in rounds that alternate between chainrule (with ``chunked`` on and off)
and torch.optim, so that all see the same machine load.  The table gives
median times per step.

Options: --rounds N (default 15), --steps-per-round N (default 20).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np
import torch

import chainrule as cr

CASES = [
    ("784-1024-1024-10", [784, 1024, 1024, 10], "Adam", {"lr": 1e-3}),
    ("64-128-128-10", [64, 128, 128, 10], "SGD", {"lr": 0.01, "momentum": 0.9}),
    ("64-128-128-10", [64, 128, 128, 10], "Adam", {"lr": 1e-3}),
]


def _arrays(sizes, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [s for a, b in itertools.pairwise(sizes) for s in ((a, b), (b,))]
    params = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 0.01 for s in shapes]
    return params, grads


def _ours(sizes, name, kwargs, chunked):
    params, grads = _arrays(sizes)
    ps = [cr.nn.Parameter(a) for a in params]
    for p, g in zip(ps, grads):
        p.grad = g
    return getattr(cr.optim, name)(ps, chunked=chunked, **kwargs).step


def _torch(sizes, name, kwargs):
    params, grads = _arrays(sizes)
    ts = [torch.nn.Parameter(torch.from_numpy(a)) for a in params]
    for t, g in zip(ts, grads):
        t.grad = torch.from_numpy(g)
    return getattr(torch.optim, name)(ts, **kwargs).step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps-per-round", type=int, default=20)
    args = parser.parse_args()
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    for label, sizes, name, kwargs in CASES:
        runners = {
            "chainrule": _ours(sizes, name, kwargs, None),
            "chainrule chunked=False": _ours(sizes, name, kwargs, False),
            "torch": _torch(sizes, name, kwargs),
        }
        times = {k: [] for k in runners}
        for _ in range(args.rounds):
            for key, step in runners.items():
                time.sleep(0.05)
                step()  # not counted: cold caches
                for _ in range(args.steps_per_round):
                    t0 = time.perf_counter()
                    step()
                    times[key].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\n{label} {name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})")
        for key, t in med.items():
            print(f"  {key:26s}{t * 1e6:10.1f} us   {t / med['torch']:6.3f} x torch")


if __name__ == "__main__":
    main()
