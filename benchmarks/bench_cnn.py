"""Small CNN training step: chainrule vs PyTorch (CPU), same init, same batch.

Model (both libraries):
    Conv2d(1, 16, 3, padding=1) - ReLU - MaxPool2d(2)
    - Conv2d(16, 32, 3, padding=1) - ReLU - MaxPool2d(2)
    - Flatten - Linear(32·7·7, 10), softmax cross-entropy, SGD(lr=0.01, momentum=0.9)
on a batch of 64 images 1×28×28.  A step is zero_grad + forward + backward +
optimiser step.  Prints the median (and best) step time of each library
and the ratio chainrule / PyTorch; the target is a ratio ≤ 1.0.

Run:
    PYTHONPATH=src python benchmarks/bench_cnn.py [--steps 50] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _threads_from_argv():
    """--threads must act before NumPy's BLAS starts, so read it first."""
    if "--threads" in sys.argv:
        n = sys.argv[sys.argv.index("--threads") + 1]
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "CHAINRULE_NUM_THREADS"):
            os.environ[var] = n


_threads_from_argv()

import numpy as np
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def build_chainrule():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


def build_torch(cr_model):
    tn = torch.nn
    model = tn.Sequential(
        tn.Conv2d(1, 16, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
        tn.Conv2d(16, 32, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
        tn.Flatten(), tn.Linear(32 * 7 * 7, 10),
    )
    # copy chainrule's init; a Linear weight is stored transposed in torch
    with torch.no_grad():
        for i in (0, 3):
            model[i].weight.copy_(torch.from_numpy(cr_model[i].weight.data.copy()))
            model[i].bias.copy_(torch.from_numpy(cr_model[i].bias.data.copy()))
        model[7].weight.copy_(torch.from_numpy(cr_model[7].weight.data.T.copy()))
        model[7].bias.copy_(torch.from_numpy(cr_model[7].bias.data.copy()))
    return model


def time_steps(step, steps, warmup=5):
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return np.array(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternate the libraries this many times; keep each best median")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both libraries (torch, NumPy's BLAS and "
                             "chainrule's batch split); default: each library's own")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)

    cr_model = build_chainrule()
    t_model = build_torch(cr_model)
    cr_opt = cr.optim.SGD(cr_model.parameters(), lr=0.01, momentum=0.9)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.01, momentum=0.9)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    # the first losses agree: the same function from the same init
    with cr.no_grad():
        cr_loss0 = F.cross_entropy(cr_model(x), y).item()
    with torch.no_grad():
        t_loss0 = torch.nn.functional.cross_entropy(t_model(xt), yt).item()

    def cr_step():
        cr_opt.zero_grad()
        loss = F.cross_entropy(cr_model(x), y)
        loss.backward()
        cr_opt.step()

    def torch_step():
        t_opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(t_model(xt), yt)
        loss.backward()
        t_opt.step()

    best = {"chainrule": np.inf, "torch": np.inf}
    fastest = {"chainrule": np.inf, "torch": np.inf}
    for _ in range(args.repeats):
        for name, step in (("chainrule", cr_step), ("torch", torch_step)):
            t = time_steps(step, args.steps)
            best[name] = min(best[name], float(np.median(t)))
            fastest[name] = min(fastest[name], float(t.min()))

    print(f"initial loss: chainrule {cr_loss0:.6f}  torch {t_loss0:.6f}")
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    split = "off" if os.environ.get("CHAINRULE_NUM_THREADS") == "1" else "on"
    print(f"threads: torch {torch.get_num_threads()}, NumPy BLAS {blas}, "
          f"chainrule batch split {split}")
    for name, median in best.items():
        print(f"{name:>9}: median step {median * 1e3:7.2f} ms  "
              f"(fastest {fastest[name] * 1e3:6.2f} ms)")
    ratio = best["chainrule"] / best["torch"]
    print(f"ratio chainrule / torch (median): {ratio:.2f}  (target <= 1.0: "
          f"{'met' if ratio <= 1.0 else 'MISSED'})")


if __name__ == "__main__":
    main()
