"""Training step of an MLP: chainrule vs PyTorch (CPU), with a GEMM-only bound.

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_mlp.py

For each case, the same network (chainrule's init copied into torch; our
Linear weight is (in, out), torch's (out, in)) is trained on the same
minibatches of scikit-learn's bundled digits (8x8, resized to 28x28 = 784
inputs for the large case, as MNIST) by both libraries with plain user code:

    loss = F.cross_entropy(model(x), y); loss.backward(); opt.step(); opt.zero_grad()

and the time of one whole step is measured, step by step, in rounds that
alternate between the libraries (so both see the same machine load).  The
table gives medians.  The GEMM-only bound is the time of the matrix
products alone that forward and backward need (3 forward, 3 weight
gradients, one input gradient per layer but the first), in plain NumPy
with preallocated outputs: no library can do the step faster with this
BLAS.  Finally both libraries train 50 steps from the same start and the
losses must agree to float32 precision.

Each case runs at 1 thread (``cr.set_num_threads(1)``,
``torch.set_num_threads(1)``) and at the default thread count; the ratio
line gives the median and range of the per-round ratios.  JAX (``jit`` +
optax) has no runner yet: the script says whether it is installed.

Options: --rounds N (default 15), --steps-per-round N (default 10),
--case big|small|all, --threads 1|default|both.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import time

import numpy as np
import torch
from _harness import threads

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

CASES = {
    "big": {
        "sizes": [784, 1024, 1024, 10],
        "batch": 128,
        "opt": "Adam",
        "kwargs": {"lr": 1e-3},
        "targets": {"torch": 0.8, "torch at 1 thread": 0.75},
    },
    "small": {
        "sizes": [64, 128, 128, 10],
        "batch": 32,
        "opt": "SGD",
        "kwargs": {"lr": 0.01, "momentum": 0.9},
        "targets": {"torch": 0.4},
    },
}


def build(sizes, seed=0):
    """The same MLP in both libraries, chainrule's init copied into torch."""
    cr.manual_seed(seed)
    layers, tlayers = [], []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        lin = nn.Linear(a, b)
        lin.bias.data[...] = 0.01
        tlin = torch.nn.Linear(a, b)
        with torch.no_grad():
            tlin.weight.copy_(torch.from_numpy(lin.weight.data.T.copy()))
            tlin.bias.copy_(torch.from_numpy(lin.bias.data.copy()))
        layers.append(lin)
        tlayers.append(tlin)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            tlayers.append(torch.nn.ReLU())
    return nn.Sequential(*layers), torch.nn.Sequential(*tlayers)


def _digits(width):
    """scikit-learn's bundled 8x8 digits in [0, 1], resized to width pixels."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    img = (x / 16.0).reshape(-1, 8, 8)
    side = round(width**0.5)
    if side != 8:  # bilinear resize 8x8 -> side x side (784 = 28x28, as MNIST)
        pos = np.linspace(0, 7, side)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, 7)
        w = pos - lo
        img = img[:, lo, :] * (1 - w)[None, :, None] + img[:, hi, :] * w[None, :, None]
        img = img[:, :, lo] * (1 - w)[None, None, :] + img[:, :, hi] * w[None, None, :]
    return img.reshape(len(x), -1).astype(np.float32), y.astype(np.int64)


def make_batches(sizes, batch, n, seed=1):
    """n minibatches of digits drawn uniformly without replacement."""
    x, y = _digits(sizes[0])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        idx = rng.choice(len(x), batch, replace=False)
        out.append((x[idx], y[idx]))
    return out


class ChainruleStep:
    def __init__(self, model, opt_name, kwargs):
        self.model = model
        self.opt = getattr(cr.optim, opt_name)(model.parameters(), **kwargs)

    def __call__(self, x, y):
        loss = F.cross_entropy(self.model(cr.tensor(x)), y)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        return loss.item()


class TorchStep:
    def __init__(self, model, opt_name, kwargs):
        self.model = model
        self.opt = getattr(torch.optim, opt_name)(model.parameters(), **kwargs)

    def __call__(self, x, y):
        loss = torch.nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        return loss.item()


class GemmBound:
    """Only the matrix products of forward + backward, preallocated."""

    def __init__(self, sizes, batch):
        rng = np.random.default_rng(2)
        f32 = np.float32
        self.w = [
            rng.standard_normal((a, b)).astype(f32) * 0.01 for a, b in itertools.pairwise(sizes)
        ]
        self.h = [np.empty((batch, b), f32) for b in sizes]
        self.gh = [np.empty((batch, b), f32) for b in sizes]
        self.gw = [np.empty_like(w) for w in self.w]

    def __call__(self, x, y):
        h, gh, w, gw = self.h, self.gh, self.w, self.gw
        h[0] = x
        for i in range(len(w)):
            np.matmul(h[i], w[i], out=h[i + 1])
        gh[-1][...] = h[-1]
        for i in reversed(range(len(w))):
            np.matmul(h[i].T, gh[i + 1], out=gw[i])
            if i > 0:
                np.matmul(gh[i + 1], w[i].T, out=gh[i])
        return 0.0


def timed_rounds(runners, batches, rounds, per_round):
    """Per-step times of each runner, interleaved round by round.

    Between runners the script pauses 0.15 s: BLAS and OpenMP worker threads
    spin on a core for up to ~0.1 s after their last call, which would slow
    whichever library runs next.  The first step after each pause is not
    counted (cold caches).
    """
    times = {name: [] for name in runners}
    k = 0
    for _ in range(rounds):
        for name, (fn, convert) in runners.items():
            time.sleep(0.15)
            this = []
            for j in range(per_round + 1):
                x, y = convert(batches[(k + j) % len(batches)])
                t0 = time.perf_counter()
                fn(x, y)
                if j:
                    this.append(time.perf_counter() - t0)
            times[name].append(statistics.median(this))
        k += per_round
    return times


def check_losses(case, steps=50):
    """Train both libraries from the same start on the same batches."""
    model, tmodel = build(case["sizes"], seed=5)
    ours = ChainruleStep(model, case["opt"], case["kwargs"])
    theirs = TorchStep(tmodel, case["opt"], case["kwargs"])
    diffs, last = [], None
    for x, y in make_batches(case["sizes"], case["batch"], steps, seed=7):
        a = ours(x, y)
        b = theirs(torch.from_numpy(x), torch.from_numpy(y))
        diffs.append(abs(a - b))
        last = (a, b)
    return max(diffs), last


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    infos = [
        f"{i.get('internal_api')} {i.get('version')} "
        f"({i.get('architecture')}, {i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return "; ".join(infos) or "unknown"


def run_case(name, case, rounds, per_round, one_thread=False):
    sizes, batch = case["sizes"], case["batch"]
    model, tmodel = build(sizes)
    batches = make_batches(sizes, batch, 64)
    to_torch = lambda b: (torch.from_numpy(b[0]), torch.from_numpy(b[1]))
    same = lambda b: b
    runners = {
        "chainrule": (ChainruleStep(model, case["opt"], case["kwargs"]), same),
        "torch": (TorchStep(tmodel, case["opt"], case["kwargs"]), to_torch),
        "gemm": (GemmBound(sizes, batch), same),
    }
    timed_rounds(runners, batches, 1, 5)  # warm up
    per_round_times = timed_rounds(runners, batches, rounds, per_round)
    med = {k: statistics.median(v) for k, v in per_round_times.items()}
    ratios = [a / b for a, b in zip(per_round_times["chainrule"], per_round_times["torch"])]
    diff, (la, lb) = check_losses(case)
    arch = "-".join(map(str, sizes))
    opt = f"{case['opt']}({', '.join(f'{k}={v}' for k, v in case['kwargs'].items())})"
    print(f"\n{arch}, batch {batch}, {opt}")
    print(f"  {'':22s}{'ms/step':>9s}")
    for key in runners:
        print(f"  {key:22s}{med[key] * 1e3:9.3f}")
    r_torch = med["chainrule"] / med["torch"]
    r_gemm = med["chainrule"] / med["gemm"]
    t = dict(case["targets"])
    if one_thread and "torch at 1 thread" in t:
        t["torch"] = t["torch at 1 thread"]
    ok_torch = r_torch <= t["torch"]
    print(
        f"  chainrule / torch     {r_torch:9.3f}   per round {statistics.median(ratios):.3f} "
        f"[{min(ratios):.3f}-{max(ratios):.3f}]   (target <= {t['torch']}: "
        f"{'met' if ok_torch else 'MISSED'})"
    )
    line = f"  chainrule / gemm      {r_gemm:9.3f}"
    ok_gemm = True
    if "gemm" in t:
        ok_gemm = r_gemm <= t["gemm"]
        line += f"   (target <= {t['gemm']}: {'met' if ok_gemm else 'MISSED'})"
    print(line)
    print(
        f"  losses after 50 steps: chainrule {la:.6f}, torch {lb:.6f}; "
        f"max |diff| over the 50 steps {diff:.2e}"
    )
    assert diff <= 1e-5 * max(1.0, abs(lb)), "losses disagree beyond float32 precision"
    return ok_torch and ok_gemm


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps-per-round", type=int, default=10)
    ap.add_argument("--case", choices=["big", "small", "all"], default="all")
    ap.add_argument("--threads", choices=["1", "default", "both"], default="both")
    args = ap.parse_args(argv)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"{platform.machine()}"
    )
    print(f"numpy BLAS: {blas_info()}")
    try:
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError:
        print("JAX + optax: not installed here (pip install jax optax): skipped")
    else:
        print("JAX + optax installed: no JAX runner in this script yet (not measured)")
    names = ["big", "small"] if args.case == "all" else [args.case]
    ok = []
    for n in ([1, None] if args.threads == "both" else [1 if args.threads == "1" else None]):
        threads(n)
        print(f"\n=== threads: {n or 'default'} ===")
        ok += [run_case(name, CASES[name], args.rounds, args.steps_per_round, n == 1)
               for name in names]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
