"""Small helpers shared by the task gallery (book §5.1.1): data, MLPs, training.

Every example in this folder exposes ``run(small=False, seed=0) -> dict``
and prints its metric next to a simple baseline.  ``small=True`` is the
quick version the test suite runs; the full version is what the script
prints when run directly (``python examples/tasks/classification.py``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.training import fit


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with one BLAS thread (threadpoolctl, when installed).

    The matrices here are small (minibatch x a few hundred units): splitting
    each product over threads costs more in synchronisation than it saves,
    and on a busy machine it can be ten times slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@functools.lru_cache(maxsize=1)
def _load_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X.setflags(write=False)  # shared between calls: split copies it
    return X, y


def digits(test_size: float = 0.25, seed: int = 0):
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], stratified split.

    Returns:
        ``(X_train, y_train, X_test, y_test)``: float32 (n, 64) images and
        int64 labels.
    """
    from sklearn.model_selection import train_test_split

    X, y = _load_digits()
    Xtr, Xte, ytr, yte = train_test_split(
        X, y.astype(np.int64), test_size=test_size, random_state=seed, stratify=y
    )
    return Xtr, ytr, Xte, yte


def mlp(*sizes: int, activation=nn.ReLU, out_activation=None) -> nn.Sequential:
    """A fully connected network sizes[0] -> ... -> sizes[-1] (book §6.1).

    Hidden layers use He-uniform weights for ReLU; the last layer is linear
    (an output unit's non-linearity lives in the loss, which takes logits).
    """
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layer = nn.Linear(n_in, n_out)
        last = i == len(sizes) - 2
        if not last and activation is nn.ReLU:
            nn.init.he_uniform_(layer.weight)
        layers.append(layer)
        if not last:
            layers.append(activation())
        elif out_activation is not None:
            layers.append(out_activation())
    return nn.Sequential(*layers)


def train(model, X, y, loss, *, epochs: int, batch_size: int = 64, lr: float = 1e-3,
          weight_decay: float = 0.0, transform=None, params=None,
          cosine: bool = False) -> list:
    """Minibatch Adam on ``loss(model(xb), yb)``; returns the loss per epoch.

    A thin wrapper of ``chainrule.training.fit``; ``transform`` is applied
    to each training minibatch (fresh masks or noise), and ``cosine``
    anneals the step size to 0 over the run (``CosineAnnealingLR``,
    stepped once per epoch).
    """
    params = list(model.parameters()) if params is None else list(params)
    opt = cr.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    scheduler = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if cosine else None
    history = fit(model, X, y, loss=loss, optimizer=opt, epochs=epochs,
                  batch_size=batch_size, transform=transform, scheduler=scheduler, verbose=0)
    return list(history.history["loss"])


def predict(model, X, batch_size: int = 2048) -> np.ndarray:
    """Outputs of ``model`` on ``X`` in eval mode, without building a graph."""
    model.eval()
    outs = []
    with cr.no_grad():
        for start in range(0, len(X), batch_size):
            outs.append(model(cr.tensor(X[start:start + batch_size])).data)
    model.train()
    return np.concatenate(outs, axis=0)


def random_mask(shape, missing_fraction, rng) -> np.ndarray:
    """A 0/1 float32 mask, 1 where an entry is observed.

    Each row hides each entry independently with probability
    ``missing_fraction`` (a scalar, or one fraction per row).
    """
    frac = np.broadcast_to(np.asarray(missing_fraction, dtype=np.float32), (shape[0],))
    return (rng.random(shape, dtype=np.float32) >= frac[:, None]).astype(np.float32)


def with_mask(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A model input that says what is missing: [x ⊙ m, m] (observed values,
    zeros where missing, then the mask itself)."""
    return np.hstack([x * mask, mask]).astype(np.float32)


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose arg-max is the label."""
    return float(np.mean(logits.argmax(axis=1) == y))


def report(title: str, rows: list) -> None:
    """Print ``(name, value, baseline_name, baseline_value)`` rows as a table."""
    print(f"== {title}")
    for name, value, base_name, base_value in rows:
        print(f"   {name:<28s} {value:8.4f}    | {base_name:<30s} {base_value:8.4f}")
