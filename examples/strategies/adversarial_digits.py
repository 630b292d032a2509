"""Adversarial training on scikit-learn's digits (book §7.13).

An MLP 64-128-10 (ReLU) is trained on the 8x8 digits (pixels in [0, 1])
twice with the same budget (epochs, minibatches, Adam):

* plain: the cross-entropy on clean images;
* adversarial: (1 − α)·J(x) + α·J(x') with x' the fast-gradient-sign
  image at ε = 0.1 made against the current weights at every step (α = 0.5,
  Goodfellow et al. 2014), through ``regularization.AdversarialTraining``.

Both are scored on the held-out quarter of the images: clean accuracy,
accuracy under FGSM (ε = 0.1) and under a 10-step PGD attack (ε = 0.1,
random start), all pixels clipped to [0, 1].  Several seeds; the table
gives mean ± standard deviation.

Run: ``python examples/strategies/adversarial_digits.py``
"""

from __future__ import annotations

import numpy as np
from _seeds import accuracy, digits, mlp, one_blas_thread, predict, summarize, table

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import regularization as R
from chainrule.training import fit

EPS = 0.1
ALPHA = 0.5
CLIP = (0.0, 1.0)


def _scores(net, X, y, seed: int) -> dict:
    net.eval()
    x_fgsm = R.fgsm(net, F.cross_entropy, X, y, eps=EPS, clip=CLIP)
    with cr.random.use_generator(np.random.default_rng(seed)):
        x_pgd = R.pgd(net, F.cross_entropy, X, y, eps=EPS, steps=10, clip=CLIP)
    return {
        "clean": accuracy(predict(net, X), y),
        "fgsm": accuracy(predict(net, x_fgsm), y),
        "pgd": accuracy(predict(net, x_pgd), y),
    }


def train(adversarial: bool, Xtr, ytr, epochs: int, seed: int):
    """The MLP after ``epochs`` of Adam, with or without adversarial training."""
    cr.manual_seed(seed)
    net = mlp(64, 128, 10)
    regs = [R.AdversarialTraining(eps=EPS, alpha=ALPHA, clip=CLIP)] if adversarial else []
    fit(net, Xtr, ytr, loss="cross_entropy",
        optimizer=cr.optim.Adam(net.parameters(), lr=3e-3), epochs=epochs, batch_size=64,
        regularizers=regs, generator=seed, verbose=0)
    return net


def run(small: bool = False, seed: int = 0) -> dict:
    """Plain vs adversarially trained MLP over seeds ``seed, seed+1, ...``.

    Returns ``{"plain": {"clean": (mean, std), "fgsm": ..., "pgd": ...},
    "adversarial": {...}, "seeds": n}``.
    """
    n_seeds, epochs = (2, 15) if small else (5, 40)
    per_seed = []
    for s in range(seed, seed + n_seeds):
        Xtr, ytr, Xte, yte = digits(seed=s)
        per_seed.append({
            "plain": _scores(train(False, Xtr, ytr, epochs, s), Xte, yte, s),
            "adversarial": _scores(train(True, Xtr, ytr, epochs, s), Xte, yte, s),
        })
    summary = summarize(per_seed)
    table(f"adversarial training on digits, test accuracy (eps={EPS}, {epochs} epochs)",
          summary, n_seeds)
    return {**summary, "seeds": n_seeds}


if __name__ == "__main__":
    with one_blas_thread():
        run()
