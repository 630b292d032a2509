"""Helpers shared by the optimisation-strategy examples (book §6.4, §8.7).

Each example in this folder exposes ``run(small=False, seed=0) -> dict``
and prints a table of each method's test figure as mean ± standard
deviation over several seeds (the seeds are ``seed, seed + 1, ...``).
``small=True`` is the quick version the test suite runs
(tests/examples/test_strategies_opt.py); the full version is what the
script prints when run directly.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np

import chainrule as cr

_TASKS = str(Path(__file__).resolve().parents[1] / "tasks")
if _TASKS not in sys.path:
    sys.path.insert(0, _TASKS)

from _common import one_blas_thread

__all__ = ["accuracy", "digits", "mnist1d", "one_blas_thread", "predict", "report", "summarize"]


def digits():
    """scikit-learn's bundled digits: pixels scaled to [0, 1] (float32), class ids (int64)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)


@functools.lru_cache(maxsize=4)
def _mnist1d(seed: int):
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = 42 + seed
    data = make_dataset(args)  # never get_dataset(): that one downloads
    X = data["x"].astype(np.float32)
    Xt = data["x_test"].astype(np.float32)
    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-6
    out = ((X - mu) / sd, data["y"].astype(np.int64),
           (Xt - mu) / sd, data["y_test"].astype(np.int64))
    for a in out:
        a.setflags(write=False)
    return out


def mnist1d(seed: int = 0, n_train: int | None = None):
    """MNIST-1D (Greydanus 2020) generated locally, standardised per position:
    4,000 training and 1,000 test series of length 40, 10 classes.

    ``seed`` 0 is the data set of the published defaults (generator seed
    42); ``n_train`` keeps the first rows of the training set only.  The
    arrays are cached and read-only.
    """
    X, y, Xt, yt = _mnist1d(seed)
    if n_train is not None:
        X, y = X[:n_train], y[:n_train]
    return X, y, Xt, yt


def predict(model, X, batch_size: int = 2048) -> np.ndarray:
    """Outputs of ``model`` on ``X`` in eval mode, without building a graph."""
    model.eval()
    outs = []
    with cr.no_grad():
        for start in range(0, len(X), batch_size):
            outs.append(model(cr.tensor(X[start:start + batch_size])).data)
    model.train()
    return np.concatenate(outs, axis=0)


def accuracy(model, X, y) -> float:
    """Fraction of rows whose arg-max output is the label."""
    return float(np.mean(predict(model, X).argmax(axis=1) == y))


def summarize(values) -> tuple:
    """``(mean, std)`` of a list of numbers (std with ddof=0)."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std())


def report(title: str, rows: dict, metric: str = "test accuracy") -> None:
    """Print ``{method: [value per seed]}`` as ``method  mean ± std  (n seeds)``."""
    print(f"== {title}")
    print(f"   {'method':<52s} {metric:>22s}")
    for name, values in rows.items():
        m, s = summarize(values)
        print(f"   {name:<52s} {m:10.4f} ± {s:.4f}   ({len(values)} seeds)")
