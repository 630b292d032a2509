"""Scoring a model: input checks, :func:`evaluate` and :func:`predict`.

Both run the model in eval mode (dropout off, batch norm on its running
statistics) under ``no_grad`` and put it back in the mode it was in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..autograd.engine import Tensor, no_grad
from ..data.loader import take_rows
from ..data.validation import check_dataset, check_features
from ..nn.container import Sequential
from .losses import get_loss, target_kind
from .metrics import get_metric

__all__ = ["check_data", "evaluate", "predict"]


def _first_and_last_layer(model):
    """(input axis and size, output units) read from a model's layers, or None each.

    Known for a ``Sequential`` (whose order is the data flow) and for a
    bare Linear/Conv layer: the first layer's ``in_features`` (last axis) or
    ``in_channels`` (axis 1) when it is one, and the ``out_features`` of the
    last Linear after which only parameter-free layers follow.  Other
    models are checked by their first minibatch (layers name the shapes
    they expect).
    """
    layers = list(model) if isinstance(model, Sequential) else [model]
    first = last = None
    if layers and hasattr(layers[0], "in_features"):
        first = (-1, int(layers[0].in_features))
    elif layers and hasattr(layers[0], "in_channels"):
        first = (1, int(layers[0].in_channels))
    for layer in reversed(layers):  # past parameter-free layers (activations)
        if hasattr(layer, "out_features"):
            last = int(layer.out_features)
            break
        if list(layer.parameters()):
            break
    return first, last


def _output_data(out):
    """A model output's arrays: one array, or a dict of them (multi-task models)."""
    if isinstance(out, dict):
        return {k: v.data for k, v in out.items()}
    return out.data


def check_data(model, X, y, loss_name: str = "", name: str = "X", transform=None):
    """Validate (X, y) for ``model`` and a loss, once; return them as arrays.

    One call to :func:`chainrule.data.validation.check_dataset`, with the
    target kind the loss needs and the input size and output units read
    from the model's layers (no forward pass).  With a training
    ``transform`` the input size is not checked (it may change the width).

    Raises:
        ValueError / TypeError naming the row, label or shape at fault.
    """
    first, n_out = _first_and_last_layer(model)
    kind = target_kind(loss_name)
    return check_dataset(
        X,
        y,
        targets=kind,
        input_size=None if transform is not None else first,
        n_classes=n_out if kind == "int" else None,
        name=name,
    )


def predict(model, X, batch_size: int = 256) -> Any:
    """Model outputs for X (eval mode, no gradients), as one NumPy array
    (a dict of them, one per task, for a :class:`~chainrule.nn.MultiTask` model).

    Returns raw outputs (logits for classifiers): take ``argmax(axis=1)``
    for classes or apply softmax for probabilities.  A model returning a
    dict (``nn.MultiTask``) gives a dict ``{task: array}``.

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
                outs.append(_output_data(model(Tensor(X[i : i + batch_size]))))
    finally:
        model.train(was_training)
    if outs and isinstance(outs[0], dict):
        return {k: np.concatenate([np.asarray(o[k]) for o in outs]) for k in outs[0]}
    return np.concatenate([np.asarray(o) for o in outs], axis=0)


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
        X, y: data and targets (checked as in ``fit``); a dict of targets
            for a multi-task model.
        loss: a loss name or callable (see ``fit``), a dict ``{task: loss}``
            or a :class:`~chainrule.training.MultiTaskLoss` (each task's mean
            loss is then reported as ``<task>_loss`` too); None to skip it.
        metrics: metric names or callables (``{task: [metric, ...]}`` for a
            multi-task model).
        batch_size: rows per forward pass (memory only; results are the
            same).

    Returns:
        ``{"loss": ..., "accuracy": ..., ...}`` (floats); the loss is the
        example-weighted mean of the per-batch mean losses.

    Example:
        >>> evaluate(model, X_test, y_test, metrics=["accuracy"])
        {'loss': 0.07, 'accuracy': 0.98}
    """
    from .multitask import MultiTaskLoss, task_metrics  # it builds on this module

    metric_objs = [m for m in map(get_metric, task_metrics(metrics)) if m]
    if isinstance(loss, dict):
        loss = MultiTaskLoss(loss)
    loss_fn: Any
    loss_fn, loss_name = get_loss(loss) if loss is not None else (None, "")
    multi = isinstance(loss_fn, MultiTaskLoss)
    if not _checked:
        if multi:
            X, y = loss_fn.check_data(model, X, y)
        else:
            X, y = check_data(model, X, y, loss_name)
    parts: dict = {}
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with no_grad():
            for i in range(0, X.shape[0], batch_size):
                xb, yb = X[i : i + batch_size], take_rows(y, slice(i, i + batch_size))
                out = model(Tensor(xb))
                if loss_fn is not None:
                    total += float(loss_fn(out, yb).data) * len(xb)
                    for task, (value, rows) in (loss_fn.parts if multi else {}).items():
                        acc = parts.setdefault(task, [0.0, 0])
                        acc[0] += value * rows
                        acc[1] += rows
                count += len(xb)
                data: Any = _output_data(out) if metric_objs else None
                for m in metric_objs:
                    m.update(data, yb)
    finally:
        model.train(was_training)
    result = {"loss": total / count} if loss_fn is not None else {}
    for task, (value, rows) in parts.items():
        result[f"{task}_loss"] = value / rows if rows else float("nan")
    for m in metric_objs:
        result[m.name] = m.result()
    return result
