"""What :func:`~chainrule.training.fit` reads besides objects: names, datasets, dtypes.

* Names, as Keras users write them, through the one vocabulary of
  :mod:`chainrule.training.recipes` (:func:`~chainrule.training.recipes.resolve_name`):
  ``optimizer="adam"`` (with ``lr=``) builds the optimiser over the
  model's parameters; ``loss="sparse_categorical_crossentropy"`` is
  ``"cross_entropy"``; ``metrics=["acc"]`` is ``["accuracy"]``.  Losses
  always take logits (Keras's ``from_logits=True``).
  ``"categorical_crossentropy"`` takes one-hot targets (N, C), read as
  their class ids.  Without ``lr`` a named optimiser takes the default
  of its class (PyTorch's: Adam and AdamW 1e-3, Adagrad and RMSprop
  1e-2, L-BFGS 1); the SGD family, which has none in PyTorch, takes
  Keras's 0.01.
* Datasets: ``X`` may be any map-style dataset (``__len__`` and
  ``__getitem__`` returning ``x`` or ``(x, y)``, as
  ``torch.utils.data.Dataset``), read once into arrays (see
  :mod:`chainrule.data.collate`); so may ``validation_data``.
* dtypes: the data take the model's dtype
  (:mod:`chainrule.training.dtype_policy`); float64 NumPy inputs to a
  float32 model give a :class:`~chainrule.training.dtype_policy.DtypeConversionWarning`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..data.collate import dataset_arrays, is_map_style
from .dtype_policy import warn_if_narrowed
from .recipes import OPTIMIZERS, build_optimizer, resolve_name

__all__ = ["DEFAULT_LR", "FitArguments", "fit_arguments"]

#: learning rate of an optimiser given by name without ``lr``
DEFAULT_LR = {
    "sgd": 0.01,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 0.01,
    "rmsprop_nesterov": 0.01,
    "adam": 1e-3,
    "adamw": 1e-3,
    "lbfgs": 1.0,
}


class FitArguments(NamedTuple):
    X: Any
    y: Any
    loss: Any
    optimizer: Any
    metrics: Any
    validation_data: Any


def _optimizer(optimizer, model, lr):
    if isinstance(optimizer, str):
        name = resolve_name("optimizer", optimizer)
        return build_optimizer(name, model.parameters(), lr=DEFAULT_LR[name] if lr is None else lr)
    if lr is not None:
        raise ValueError(
            "Expected lr only with an optimizer given by name (an optimiser object has its "
            f"own). Received: lr={lr!r} with {type(optimizer).__name__}"
        )
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad")):
        raise TypeError(
            f"Expected optimizer to be a name in {sorted(OPTIMIZERS)} or a chainrule.optim "
            f"optimiser. Received: {type(optimizer).__name__}"
        )
    return optimizer


def _loss(loss):
    if isinstance(loss, str):
        return resolve_name("loss", loss)
    if isinstance(loss, dict):
        return {task: _loss(value) for task, value in loss.items()}
    return loss


def _metric(metric):
    if isinstance(metric, str):
        return resolve_name("metric", metric)
    if isinstance(metric, tuple) and len(metric) == 2 and isinstance(metric[0], str):
        return (metric[0], _metric(metric[1]))
    return metric


def _metrics(metrics):
    if isinstance(metrics, str):
        return [_metric(metrics)]
    if isinstance(metrics, dict):
        return {task: _metrics(value) for task, value in metrics.items()}
    return [_metric(m) for m in metrics]


def _class_ids(y, name: str):
    """One-hot targets (N, C) as class ids (N,), for ``"categorical_crossentropy"``."""
    if y is None or isinstance(y, dict):
        return y
    arr = np.asarray(y)
    if arr.ndim == 1 and arr.dtype.kind in "iu":
        return arr  # already class ids
    if arr.ndim != 2 or not np.all((arr == 0) | (arr == 1)) or not np.all(arr.sum(axis=1) == 1):
        raise ValueError(
            f"Expected one-hot {name} of shape (n_samples, n_classes) with loss "
            "'categorical_crossentropy' (or class ids with 'sparse_categorical_crossentropy'). "
            f"Received: shape {arr.shape}"
        )
    return arr.argmax(axis=1)


def _is_dataset(X) -> bool:
    """A map-style dataset, not array-like data (lists and tuples of rows are data)."""
    return is_map_style(X) and not isinstance(X, (list, tuple, dict)) and not hasattr(X, "__array__")


def _arrays(X, y, name: str):
    if not _is_dataset(X):
        return X, y
    if y is not None:
        raise ValueError(
            f"Expected y=None with a dataset as {name} (its examples hold the targets). "
            f"Received: y of type {type(y).__name__}"
        )
    return dataset_arrays(X, name=f"dataset given as {name}")


def fit_arguments(model, X, y, *, loss, optimizer, lr, metrics, validation_data) -> FitArguments:
    """``fit``'s arguments with names resolved, datasets read into arrays, dtypes noted."""
    X, y = _arrays(X, y, "X")
    if validation_data is not None and _is_dataset(validation_data):
        validation_data = _arrays(validation_data, None, "validation_data")
    one_hot = isinstance(loss, str) and loss.strip().lower() == "categorical_crossentropy"
    if one_hot:
        y = _class_ids(y, "y")
        if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            validation_data = (validation_data[0], _class_ids(validation_data[1], "y_val"))
    loss, metrics = _loss(loss), _metrics(metrics)
    optimizer = _optimizer(optimizer, model, lr)
    warn_if_narrowed(model, X, stacklevel=4)
    return FitArguments(X, y, loss, optimizer, metrics, validation_data)
