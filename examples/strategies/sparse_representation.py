"""Sparse representations on digits: a penalty on the hidden units (book §7.10).

The same MLP 64-256-10 (ReLU) is trained on scikit-learn's 8x8 digits
with the same budget three ways:

* plain: the cross-entropy alone;
* L1: plus λ·(1/N) Σₙ ‖hₙ‖₁ on the hidden layer's output h (after the
  ReLU), ``regularization.ActivityRegularizer(net[1], "l1", lam)``;
* Student-t: plus λ·(1/N) Σₙ Σⱼ log(1 + hₙⱼ²) (ν = 1), the same hook with
  ``"student_t"``.

Reported on the held-out quarter of the images: the test accuracy, the
fraction of hidden activations that are near zero (|h| < 0.01), and the
mean number of active units per image.  Several seeds, mean ± standard
deviation.

Run: ``python examples/strategies/sparse_representation.py``
"""

from __future__ import annotations

import numpy as np
from _seeds import accuracy, digits, mlp, one_blas_thread, predict, summarize, table

import chainrule as cr
from chainrule import regularization as R
from chainrule.training import fit

HIDDEN = 256
NEAR_ZERO = 0.01
#: method -> (penalty, λ)
METHODS = {"plain": None, "L1": ("l1", 3e-3), "Student-t": ("student_t", 3e-3)}


def _hidden(net, X) -> np.ndarray:
    net.eval()
    with cr.no_grad():
        h = net[1](net[0](cr.tensor(X))).data
    net.train()
    return h


def train(method: str, X, y, epochs: int, seed: int):
    """The MLP trained with ``method``'s penalty on the hidden layer."""
    cr.manual_seed(seed)
    net = mlp(64, HIDDEN, 10)
    regs = []
    if METHODS[method] is not None:
        kind, lam = METHODS[method]
        regs = [R.ActivityRegularizer(net[1], kind, lam=lam)]
    fit(net, X, y, loss="cross_entropy", optimizer=cr.optim.Adam(net.parameters(), lr=3e-3),
        epochs=epochs, batch_size=64, regularizers=regs, generator=seed, verbose=0)
    for reg in regs:
        reg.remove()
    return net


def run(small: bool = False, seed: int = 0) -> dict:
    """Accuracy and sparsity of each method over seeds ``seed, seed+1, ...``.

    Returns ``{method: {"accuracy": (mean, std), "near_zero": ..., "active_units": ...},
    "seeds": n}``.
    """
    n_seeds, epochs = (2, 20) if small else (5, 40)
    per_seed = []
    for s in range(seed, seed + n_seeds):
        Xtr, ytr, Xte, yte = digits(seed=s)
        row = {}
        for method in METHODS:
            net = train(method, Xtr, ytr, epochs, s)
            h = _hidden(net, Xte)
            row[method] = {
                "accuracy": accuracy(predict(net, Xte), yte),
                "near_zero": float(np.mean(np.abs(h) < NEAR_ZERO)),
                "active_units": float(np.mean(np.sum(np.abs(h) >= NEAR_ZERO, axis=1))),
            }
        per_seed.append(row)
    summary = summarize(per_seed)
    table(f"sparse representations on digits, hidden layer of {HIDDEN} ({epochs} epochs)",
          summary, n_seeds)
    return {**summary, "seeds": n_seeds}


if __name__ == "__main__":
    with one_blas_thread():
        run()
