"""Training steps of sequence models: chainrule vs PyTorch (CPU), default threads.

Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_sequence.py

Cases (the same weights in both libraries, moved with ``cr.interop``):

- ``gru`` / ``lstm``: a one-layer GRU / LSTM (batch 32, 35 steps, 64 inputs,
  128 hidden units, batch_first) with a linear read-out of the last step
  and cross-entropy over 10 classes;
- ``transformer``: a pre-norm Transformer block (batch 32, 35 positions,
  width 128, 4 heads, MLP 512 with GELU), mean-pooled into a 10-class
  cross-entropy.

One step is ``loss = F.cross_entropy(model(x), y); loss.backward();
opt.step(); opt.zero_grad()`` with SGD, timed step by step in rounds that
alternate between the libraries (both see the same machine load); the
table gives the median and the range of the per-round medians, and their
ratio.  Before timing, both libraries take 5 steps from the same start and
their losses must agree to float32 precision.

Options: --rounds N (default 7), --steps-per-round N (default 5), --case NAME|all,
--threads N (both libraries on N threads: ``cr.set_num_threads`` and
``torch.set_num_threads``; default: each library's own default).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

BATCH, STEPS, FEATURES, HIDDEN, CLASSES = 32, 35, 64, 128, 10
WIDTH, HEADS, MLP = 128, 4, 512


class CrRecurrent(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.rnn = getattr(nn, kind)(FEATURES, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class TorchRecurrent(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.rnn = getattr(torch.nn, kind)(FEATURES, HIDDEN, batch_first=True)
        self.head = torch.nn.Linear(HIDDEN, CLASSES)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class CrBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(FEATURES, WIDTH)
        self.norm1 = nn.LayerNorm(WIDTH)
        self.attn = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
        self.norm2 = nn.LayerNorm(WIDTH)
        self.mlp = nn.Sequential(nn.Linear(WIDTH, MLP), nn.GELU(), nn.Linear(MLP, WIDTH))
        self.head = nn.Linear(WIDTH, CLASSES)

    def forward(self, x):
        h = self.embed(x)
        a = self.norm1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        h = h + self.mlp(self.norm2(h))
        return self.head(h.mean(axis=1))


class TorchBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(FEATURES, WIDTH)
        self.norm1 = torch.nn.LayerNorm(WIDTH)
        self.attn = torch.nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
        self.norm2 = torch.nn.LayerNorm(WIDTH)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(WIDTH, MLP), torch.nn.GELU(),
                                       torch.nn.Linear(MLP, WIDTH))
        self.head = torch.nn.Linear(WIDTH, CLASSES)

    def forward(self, x):
        h = self.embed(x)
        a = self.norm1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        h = h + self.mlp(self.norm2(h))
        return self.head(h.mean(dim=1))


CASES = {
    "gru": (lambda: CrRecurrent("GRU"), lambda: TorchRecurrent("GRU")),
    "lstm": (lambda: CrRecurrent("LSTM"), lambda: TorchRecurrent("LSTM")),
    "transformer": (CrBlock, TorchBlock),
}


def _pair(case):
    cr.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = CASES[case][0](), CASES[case][1]()
    ours.load_state_dict(cr.interop.from_torch_state_dict(theirs.state_dict()))
    return ours, theirs


def _steppers(ours, theirs, x, y):
    opt = cr.optim.SGD(ours.parameters(), lr=0.01)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.01)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step_cr():
        loss = F.cross_entropy(ours(cr.tensor(x)), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()

    def step_torch():
        loss = torch.nn.functional.cross_entropy(theirs(tx), ty)
        loss.backward()
        topt.step()
        topt.zero_grad()
        return loss.item()

    return step_cr, step_torch


def _timed(step, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(case, rounds, per_round):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    step_cr, step_torch = _steppers(*_pair(case), x, y)
    for _ in range(5):  # same start, same steps: same losses
        a, b = step_cr(), step_torch()
        assert abs(a - b) <= 1e-4 * max(1.0, abs(b)), f"{case}: losses {a} vs {b}"
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(_timed(step_cr, per_round))
        theirs.append(_timed(step_torch, per_round))
    mo, mt = statistics.median(ours), statistics.median(theirs)
    ratios = sorted(o / t for o, t in zip(ours, theirs))
    print(f"{case:12s} chainrule {mo * 1e3:7.2f} ms [{min(ours) * 1e3:.2f}-{max(ours) * 1e3:.2f}]"
          f"   torch {mt * 1e3:7.2f} ms [{min(theirs) * 1e3:.2f}-{max(theirs) * 1e3:.2f}]"
          f"   ratio {mo / mt:.2f} (rounds {ratios[0]:.2f}-{ratios[-1]:.2f})", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps-per-round", type=int, default=5)
    parser.add_argument("--case", default="all", choices=[*CASES, "all"])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        cr.set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    threads = f"{args.threads} threads in both" if args.threads else "default threads in both"
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}, {threads}")
    for case in CASES if args.case == "all" else [args.case]:
        run(case, args.rounds, args.steps_per_round)


if __name__ == "__main__":
    main()
