"""The optimiser step alone: chainrule vs PyTorch (CPU), same parameters and gradients.

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_optim_step.py [--rounds 7] [--steps 20]

For each case the parameters of an MLP (weights and biases of the given
layer sizes) get fixed random gradients and ``opt.step()`` alone is timed,
at 1 thread and at the default thread count, in rounds alternating between
chainrule (compiled kernels; plain NumPy kernels) and torch.optim (default
and ``fused=True``); see ``_harness.py``.  Also timed: chainrule's check
that every gradient is finite, alone.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch
from _harness import alternate, report, threads

import chainrule as cr
from chainrule._backend.fused import first_nonfinite, kernels

CASES = [
    ("784-1024-1024-10", [784, 1024, 1024, 10], "Adam", {"lr": 1e-3}),
    ("64-128-128-10", [64, 128, 128, 10], "SGD", {"lr": 0.01, "momentum": 0.9}),
]


def _arrays(sizes, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [s for a, b in itertools.pairwise(sizes) for s in ((a, b), (b,))]
    params = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) * 0.01 for s in shapes]
    return params, grads


def _ours(sizes, name, kwargs, mode):
    params, grads = _arrays(sizes)
    ps = [cr.nn.Parameter(a) for a in params]
    for p, g in zip(ps, grads):
        p.grad = g
    opt = getattr(cr.optim, name)(ps, **kwargs)

    def step():
        with kernels(mode):
            opt.step()

    return step


def _torch(sizes, name, kwargs, **extra):
    params, grads = _arrays(sizes)
    ts = [torch.nn.Parameter(torch.from_numpy(a)) for a in params]
    for t, g in zip(ts, grads):
        t.grad = torch.from_numpy(g)
    return getattr(torch.optim, name)(ts, **kwargs, **extra).step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    print(f"numpy {np.__version__}, torch {torch.__version__}")
    for n in (1, None):
        threads(n)
        for label, sizes, name, kwargs in CASES:
            grads = _arrays(sizes)[1]
            runners = {
                "torch": _torch(sizes, name, kwargs),
                "torch fused=True": _torch(sizes, name, kwargs, fused=True),
                "chainrule": _ours(sizes, name, kwargs, "compiled"),
                "chainrule CHAINRULE_KERNELS=numpy": _ours(sizes, name, kwargs, "numpy"),
                "  (its finiteness check alone)": lambda grads=grads: first_nonfinite(grads),
            }
            runners["chainrule"]()  # compile (or load) the kernel outside the timing
            res = alternate(runners, args.rounds, args.steps)
            report(f"{name} step, {label}, threads={n or 'default'}", res,
                   reference="torch fused=True")


if __name__ == "__main__":
    main()
