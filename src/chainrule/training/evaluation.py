"""Scoring a model: input checks, :func:`evaluate` and :func:`predict`.

Both run the model in eval mode (dropout off, batch norm on its running
statistics) under ``no_grad`` and put it back in the mode it was in.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..autograd.engine import Tensor, no_grad
from ..data.validation import check_class_labels, check_features, check_targets
from .losses import get_loss, target_kind
from .metrics import get_metric

__all__ = ["check_data", "evaluate", "predict"]


def _targets(X: np.ndarray, y, loss_name: str, name: str) -> np.ndarray:
    if y is None:
        return X
    kind = target_kind(loss_name)
    if kind == "any":
        kind = "int" if np.asarray(y).dtype.kind in "iu" else "float"
    arr = check_targets(y, X.shape[0], name=name, integer=(kind == "int"))
    if kind == "binary" and not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)][0]
        raise ValueError(f"Expected 0/1 labels in {name} for loss {loss_name!r}. Received: {bad}")
    return arr


def check_data(model, X, y, loss_name: str = "", name: str = "X", transform=None):
    """Validate (X, y) for ``model`` and a loss; return them as arrays.

    X becomes float32 (finite, at least 2-D, non-empty); y becomes int64
    class ids for class losses, float32 otherwise (y=None: X itself).
    One row is run through the model in eval mode to check the feature
    count and, for class losses, that every label has an output unit
    (skipped with a training ``transform``, which may change the width).

    Raises:
        ValueError / TypeError naming the row, label or shape at fault.
    """
    X = check_features(X, name=name)
    y_name = name.replace("X", "y")
    y = _targets(X, y, loss_name, y_name)
    was_training = model.training
    model.eval()
    if transform is not None:
        # the model sees transformed rows, which may have another width:
        # the first minibatch checks them (layers name the shapes they expect)
        return X, y
    try:
        with no_grad():
            out = model(Tensor(X[:1]))
    except ValueError as err:
        raise ValueError(f"The model cannot take {name} of shape {X.shape}: {err}") from err
    finally:
        model.train(was_training)
    if target_kind(loss_name) == "int" and out.ndim == 2:
        check_class_labels(y, out.shape[1], name=y_name)
    return X, y


def predict(model, X, batch_size: int = 256) -> np.ndarray:
    """Model outputs for X (eval mode, no gradients), as one NumPy array.

    Returns raw outputs (logits for classifiers): take ``argmax(axis=1)``
    for classes or apply softmax for probabilities.

    Example:
        >>> classes = predict(model, X_test).argmax(axis=1)
    """
    X = check_features(X, name="X")
    was_training = model.training
    model.eval()
    outs = []
    try:
        with no_grad():
            for i in range(0, X.shape[0], batch_size):
                outs.append(np.asarray(model(Tensor(X[i : i + batch_size])).data))
    finally:
        model.train(was_training)
    return np.concatenate(outs, axis=0)


def evaluate(
    model,
    X,
    y,
    loss="cross_entropy",
    metrics: Iterable = (),
    batch_size: int = 256,
    _checked: bool = False,
) -> dict:
    """Mean loss and metrics over (X, y) in eval mode, without gradients.

    Args:
        model: the trained model.
        X, y: data and targets (checked as in ``fit``).
        loss: a loss name or callable (see ``fit``); None to skip it.
        metrics: metric names or callables.
        batch_size: rows per forward pass (memory only; results are the
            same).

    Returns:
        ``{"loss": ..., "accuracy": ..., ...}`` (floats); the loss is the
        example-weighted mean of the per-batch mean losses.

    Example:
        >>> evaluate(model, X_test, y_test, metrics=["accuracy"])
        {'loss': 0.07, 'accuracy': 0.98}
    """
    metric_objs = [m for m in map(get_metric, metrics) if m]
    loss_fn, loss_name = get_loss(loss) if loss is not None else (None, "")
    if not _checked:
        X, y = check_data(model, X, y, loss_name)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with no_grad():
            for i in range(0, X.shape[0], batch_size):
                xb, yb = X[i : i + batch_size], y[i : i + batch_size]
                out = model(Tensor(xb))
                if loss_fn is not None:
                    total += float(loss_fn(out, yb).data) * len(xb)
                count += len(xb)
                for m in metric_objs:
                    m.update(out.data, yb)
    finally:
        model.train(was_training)
    result = {"loss": total / count} if loss_fn is not None else {}
    for m in metric_objs:
        result[m.name] = m.result()
    return result
