"""Multi-task learning (book §7.7): one shared trunk, a head per task, vs each task alone.

Two related tasks on scikit-learn's 8x8 digits: the digit (10 classes,
cross-entropy) and whether it is >= 5 (one logit, binary cross-entropy).
The shared model is ``nn.MultiTask(trunk, {"digit": ..., "big": ...})``
trained by one ``fit`` with a dict of targets and losses; each task alone
is the same trunk with its one head.  Every network takes the same number
of Adam steps (minibatches of 32).  Two settings, both with few labels:

* **same rows**: both tasks labelled on the same small training set;
* **different rows** (the pooled examples of §7.7): the digit labelled on
  some rows and ">= 5" on a few *other* rows, so the shared trunk sees the
  rows of both tasks; a row without a task's target carries
  ``MISSING_LABEL`` (-1) or NaN for it.

What the measurement says (see docs/ch7_regularization.md for the full
figures): on this data sharing does **not** clearly help.  In the same-rows
setting ">= 5" is a function of the digit, so its labels bring no
information the digit labels lack, and the shared and separate networks
are equal within the seed-to-seed spread (sharing costs the binary task
about a point).  With the binary task labelled on a few other rows, the
shared trunk gives it digit-shaped features learned from the digit rows;
the gain is a couple of points at most, inside the spread: reading ">= 5"
off those features still needs labels from every digit.  The library
part (one loop, weighted per-task losses, per-task logs) is what this
example exercises; the benefit of sharing needs tasks that carry
information about each other's inputs that this pair does not.

Run: ``python examples/strategies/multitask.py``
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.training import MISSING_LABEL, fit, predict

try:
    from _strategies import digits, one_blas_thread
except ImportError:  # run from elsewhere
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _strategies import digits, one_blas_thread


HIDDEN = 64
LOSSES = {"digit": "cross_entropy", "big": "bce"}


def _network(tasks, seed):
    cr.manual_seed(seed)
    trunk = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU())
    nn.init.he_uniform_(trunk[0].weight)
    heads = {"digit": nn.Linear(HIDDEN, 10), "big": nn.Linear(HIDDEN, 1)}
    return nn.MultiTask(trunk, {t: heads[t] for t in tasks})


def _train(X, targets, seed, steps):
    """One network over ``targets``' tasks, ``steps`` Adam steps of 32 rows."""
    model = _network(list(targets), seed)
    epochs = max(1, round(steps * 32 / len(X)))
    fit(model, X, targets, loss={t: LOSSES[t] for t in targets},
        optimizer=cr.optim.Adam(model.parameters(), lr=3e-3), epochs=epochs,
        batch_size=32, verbose=0, generator=seed)
    return model


def _accuracies(model, X, y):
    out = predict(model, X)
    acc = {}
    if "digit" in out:
        acc["digit"] = float(np.mean(out["digit"].argmax(axis=1) == y))
    if "big" in out:
        acc["big"] = float(np.mean((out["big"][:, 0] > 0) == (y >= 5)))
    return acc


def _one_seed(seed, n_same, n_digit, n_big, steps):
    X, y = digits()
    perm = np.random.default_rng(seed).permutation(len(X))
    test = perm[n_digit + n_big :]
    big = (y >= 5).astype(np.float32)
    res = {}

    # same rows: both tasks labelled on the first n_same rows
    rows = perm[:n_same]
    for task in LOSSES:
        res[f"same/{task}/alone"] = _accuracies(
            _train(X[rows], {task: y[rows] if task == "digit" else big[rows]}, seed, steps),
            X[test], y[test])[task]
    shared = _train(X[rows], {"digit": y[rows], "big": big[rows]}, seed, steps)
    for task, acc in _accuracies(shared, X[test], y[test]).items():
        res[f"same/{task}/shared"] = acc

    # different rows: the digit on n_digit rows, ">= 5" on n_big other rows
    d_rows, b_rows = perm[:n_digit], perm[n_digit : n_digit + n_big]
    res["different/digit/alone"] = _accuracies(
        _train(X[d_rows], {"digit": y[d_rows]}, seed, steps), X[test], y[test])["digit"]
    res["different/big/alone"] = _accuracies(
        _train(X[b_rows], {"big": big[b_rows]}, seed, steps), X[test], y[test])["big"]
    rows = np.concatenate([d_rows, b_rows])
    has_digit = np.arange(len(rows)) < n_digit
    targets = {
        "digit": np.where(has_digit, y[rows], MISSING_LABEL),
        "big": np.where(has_digit, np.nan, big[rows]).astype(np.float32),
    }
    shared = _train(X[rows], targets, seed, steps)
    for task, acc in _accuracies(shared, X[test], y[test]).items():
        res[f"different/{task}/shared"] = acc
    return res


def run(small: bool = False, seed: int = 0) -> dict:
    """Test accuracies of each task alone and shared, over several seeds.

    Returns ``{"<setting>/<task>/<alone|shared>": (mean, std)}`` plus the
    per-seed values under ``"runs"``.
    """
    seeds = range(seed, seed + (3 if small else 10))
    sizes = {"n_same": 50, "n_digit": 100, "n_big": 20, "steps": 150 if small else 400}
    runs = [_one_seed(s, **sizes) for s in seeds]
    result = {k: (float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs])))
              for k in runs[0]}
    print(f"multi-task (book 7.7), digits: test accuracy over {len(runs)} seeds, mean +- std")
    print(f"  same rows: both tasks on {sizes['n_same']} rows; different rows: digit on "
          f"{sizes['n_digit']}, '>= 5' on {sizes['n_big']} other rows; "
          f"{sizes['steps']} Adam steps each")
    print(f"  {'setting':<10} {'task':<6} {'alone':>17} {'shared':>17}")
    for setting in ("same", "different"):
        for task in ("digit", "big"):
            a, s = result[f"{setting}/{task}/alone"], result[f"{setting}/{task}/shared"]
            print(f"  {setting:<10} {task:<6} {a[0]:.4f} +- {a[1]:.4f}  {s[0]:.4f} +- {s[1]:.4f}")
    print("  (big = 'digit >= 5'.)  Sharing does not clearly help on this pair of tasks:")
    print("  '>= 5' is a function of the digit, so it adds no information (see the docstring).")
    result["runs"] = runs
    return result


if __name__ == "__main__":
    with one_blas_thread():
        run()
