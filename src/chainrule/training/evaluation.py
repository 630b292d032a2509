"""Scoring a model: input checks, :func:`evaluate` and :func:`predict`.

Both run the model in eval mode (dropout off, batch norm on its running
statistics) under ``no_grad`` and put it back in the mode it was in.

Devices: the model's namespace and device come from its first parameter.
NumPy data is moved there one minibatch at a time; data that already is an
array of the model's library stays on its device; data of another library
is refused, naming both.  :func:`evaluate` adds the losses and metrics up
on the device and brings the totals to the host once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .._backend import from_host, namespace_of, to_host
from ..autograd.engine import no_grad
from ..data.validation import check_features
from ._checks import _output_data, check_data
from ._placement import is_host, library_name, model_place, on_model
from .dtype_policy import as_input, keep_model_dtype
from .losses import get_loss
from .metrics import get_metric
from .multitask import MultiTaskLoss, task_metrics

__all__ = ["check_data", "evaluate", "predict"]


def _device_features(X, xp, device, name: str = "X"):
    """Device features for ``predict``: library, shape and dtype checked on the device.

    (Finiteness is checked only for host data: it would cost a copy off the device.)
    """
    X = on_model(X, xp, device, name)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(
            f"Expected {name} of shape (n_samples, n_features) with at least one sample. "
            f"Received: shape {tuple(X.shape)}"
        )
    if not xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"Expected {name} to hold real numbers. Received: dtype={X.dtype}")
    return X if X.dtype == xp.float32 else xp.astype(X, xp.float32)


def _rows(a, i: int, j: int):
    """Rows i:j of a NumPy or array-API array (standard indexing: the stop within bounds)."""
    return a[i:j] if isinstance(a, np.ndarray) else a[i : min(j, a.shape[0]), ...]


def _target_rows(y, i: int, j: int):
    """Rows i:j of targets: an array of any library, or a dict of them (one per task)."""
    if isinstance(y, dict):
        return {k: _rows(v, i, j) for k, v in y.items()}
    return _rows(y, i, j)


def _targets_to(y, xp, device):
    """Host targets (an array or a dict of them) moved to ``xp`` on ``device``."""
    if isinstance(y, dict):
        return {k: from_host(v, xp, device) for k, v in y.items()}
    return from_host(y, xp, device)


def _joined(outs: list, xp, host: bool):
    """Minibatch outputs as one array: NumPy for host data, else the model's library."""
    if xp is np:
        return np.concatenate([np.asarray(o) for o in outs], axis=0)
    out = outs[0] if len(outs) == 1 else xp.concat(outs, axis=0)
    return to_host(out) if host else out


def predict(model, X, batch_size: int = 256) -> Any:
    """Model outputs for X (eval mode, no gradients), as one array (a dict of
    them, one per task, for a :class:`~chainrule.nn.MultiTask` model).

    NumPy X gives one NumPy array (whatever device the model is on: its
    minibatches go there and the outputs come back once); X held as an
    array of the model's library (CuPy, torch, array_api_strict) gives an
    array of that library on the model's device.

    Returns raw outputs (logits for classifiers): take ``argmax(axis=1)``
    for classes or apply softmax for probabilities.  A model returning a
    dict (``nn.MultiTask``) gives a dict ``{task: array}``.

    Example:
        >>> classes = predict(model, X_test).argmax(axis=1)
    """
    xp, device = model_place(model)
    host = is_host(X)
    if host:
        X = keep_model_dtype(model, X, None, check_features(X, name="X"), None)[0]
    else:
        X = _device_features(X, xp, device)
    was_training = model.training
    model.eval()
    outs = []
    try:
        with no_grad():
            for i in range(0, X.shape[0], batch_size):
                xb = _rows(X, i, i + batch_size)
                if host and xp is not np:
                    xb = from_host(xb, xp, device)
                outs.append(_output_data(model(as_input(xb))))
    finally:
        model.train(was_training)
    if outs and isinstance(outs[0], dict):
        return {k: _joined([o[k] for o in outs], xp, host) for k in outs[0]}
    return _joined(outs, xp, host)


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
        ``{"loss": ..., "accuracy": ..., ...}`` (Python floats); the loss is
        the example-weighted mean of the per-batch mean losses (added up
        on the model's device, brought to the host once).

    Example:
        >>> evaluate(model, X_test, y_test, metrics=["accuracy"])
        {'loss': 0.07, 'accuracy': 0.98}
    """
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
    xp, device = model_place(model)
    move = xp is not np and is_host(X)
    if not move and not is_host(X) and namespace_of(X) is not xp:
        raise TypeError(
            f"Expected X of the model's library ({library_name(xp)}). "
            f"Received: {library_name(namespace_of(X))}"
        )
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with no_grad():
            for i in range(0, X.shape[0], batch_size):
                xb, yb = _rows(X, i, i + batch_size), _target_rows(y, i, i + batch_size)
                if move:
                    xb, yb = from_host(xb, xp, device), _targets_to(yb, xp, device)
                n = xb.shape[0]
                out = model(as_input(xb))
                if loss_fn is not None:
                    value = loss_fn(out, yb).data
                    # NumPy: a float at once; a device: a sum kept there until the end
                    total = total + (float(value) if xp is np else value) * n
                    for task, (part, rows) in (loss_fn.parts if multi else {}).items():
                        acc = parts.setdefault(task, [0.0, 0])
                        acc[0] += part * rows
                        acc[1] += rows
                count += n
                data = _output_data(out) if metric_objs else None
                for m in metric_objs:
                    m.update(data, yb)
    finally:
        model.train(was_training)
    result = {"loss": float(to_host(total)) / count} if loss_fn is not None else {}
    for task, (value, rows) in parts.items():
        result[f"{task}_loss"] = value / rows if rows else float("nan")
    for m in metric_objs:
        result[m.name] = m.result()
    return result
