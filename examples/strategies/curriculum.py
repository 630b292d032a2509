"""Curriculum learning and continuation (book §8.7.6) on MNIST-1D.

The model is the standard MLP of MNIST-1D (40-128-128-10, ReLU, Adam 3e-3,
minibatches of 100).  Each row's difficulty is the loss a teacher gives it
without having seen it: the training set is cut in two halves, an MLP is
trained on each and scores the other half (cross-fitting), so a row is
"easy" when it looks like the rest of its class.

* **random order**: the usual shuffled epochs;
* **curriculum** (``CurriculumSampler``, linear pacing): epoch e uses the
  easiest 20% → 100% of the rows, all of them from epoch ``E / 2`` on;
  it takes fewer optimiser steps than random order (≈ 79% as many);
* **random order, the curriculum's steps**: random order for as many
  steps as the curriculum takes, to separate the order from the budget;
* **anti-curriculum**: the same pacing, hardest rows first;
* **continuation** (``continuation`` with ``ParameterNoise``): Gaussian
  noise on the weights, σ = 0.1, 0.03 and then 0, a third of the epochs
  each: the gradient of the blurred cost E J(θ + σε) first, then the cost.

Test accuracy, mean ± std over seeds (each seed: initial weights and
minibatch order; the teacher and the data are fixed).  What we measured
(see docs/ch8_optimization.md for the full run): the easy-first order is a
little better than random order at the same number of epochs and at the
same number of steps, and the hard-first order is not; the gain is about
one to two points, comparable with the spread over seeds, so it is a
modest effect on this data.  Too much smoothing is harmful: σ = 0.3 on
the weights leaves the network dead (10% accuracy) and the last, unsmoothed
stage does not recover it.

Run: ``python examples/strategies/curriculum.py``
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import CurriculumSampler
from chainrule.training import continuation, fit

try:
    from _common import accuracy, mnist1d, one_blas_thread, predict, report, summarize
except ImportError:  # run from elsewhere
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import accuracy, mnist1d, one_blas_thread, predict, report, summarize

LR = 3e-3
BATCH = 100
START = 0.2  # the fraction of the rows in use at epoch 0
LEVELS = (0.1, 0.03, 0.0)  # continuation: the noise on the weights, stage by stage


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(40, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def train(X, y, epochs: int, seed: int, sampler=None):
    cr.manual_seed(seed)
    net = mlp()
    fit(net, X, y, loss="cross_entropy", optimizer=cr.optim.Adam(net.parameters(), lr=LR),
        epochs=epochs, batch_size=BATCH, verbose=0, sampler=sampler)
    return net


def difficulty(X, y, epochs: int = 15, seed: int = 100) -> np.ndarray:
    """Each row's cross-entropy under an MLP trained on the other half of the rows."""
    n = len(X)
    order = np.random.default_rng(seed).permutation(n)
    halves = (order[: n // 2], order[n // 2:])
    scores = np.empty(n)
    for fit_on, score_on in ((0, 1), (1, 0)):
        net = train(X[halves[fit_on]], y[halves[fit_on]], epochs, seed)
        logits = predict(net, X[halves[score_on]]).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        rows = halves[score_on]
        scores[rows] = -log_p[np.arange(len(rows)), y[rows]]
    return scores


def run(small: bool = False, seed: int = 0) -> dict:
    """Train each way on several seeds; return per-method test accuracies."""
    epochs = 30
    seeds = [seed + i for i in range(3 if small else 8)]
    X, y, Xt, yt = mnist1d()
    scores = difficulty(X, y)

    def sampler(sign=1.0):
        return CurriculumSampler(sign * scores, "linear", start=START, full_epoch=epochs // 2)

    steps = sum(sampler().num_samples(e) for e in range(epochs))
    same_steps = round(steps / len(X))  # epochs of random order with the curriculum's steps
    names = {
        "random": f"random order ({epochs} epochs)",
        "curriculum": f"curriculum, easy first ({epochs} epochs)",
        "same_steps": f"random order, the curriculum's steps ({same_steps} epochs)",
        "anti": "anti-curriculum, hard first",
        "continuation": f"continuation, weight noise {'/'.join(map(str, LEVELS))}",
    }
    if small:
        del names["anti"], names["continuation"]
    rows = {key: [] for key in names}
    for s in seeds:
        rows["random"].append(accuracy(train(X, y, epochs, s), Xt, yt))
        rows["curriculum"].append(accuracy(train(X, y, epochs, s, sampler()), Xt, yt))
        rows["same_steps"].append(accuracy(train(X, y, same_steps, s), Xt, yt))
        if "anti" in rows:
            rows["anti"].append(accuracy(train(X, y, epochs, s, sampler(-1.0)), Xt, yt))
        if "continuation" in rows:
            cr.manual_seed(s)
            net = mlp()
            continuation(net, X, y, levels=LEVELS, loss="cross_entropy",
                         optimizer=cr.optim.Adam(net.parameters(), lr=LR),
                         epochs_per_level=epochs // len(LEVELS), batch_size=BATCH, verbose=0)
            rows["continuation"].append(accuracy(net, Xt, yt))
    report(f"curriculum and continuation: MNIST-1D MLP 40-128-128-10 "
           f"(curriculum: {START:.0%} -> 100% of the rows by epoch {epochs // 2})",
           {names[k]: v for k, v in rows.items()})
    out = {key: summarize(v) for key, v in rows.items()}
    out["per_seed"] = rows
    out["curriculum_steps_fraction"] = steps / (epochs * len(X))
    return out


if __name__ == "__main__":
    with one_blas_thread():
        run()
