"""Checking data against a model once, before training or scoring.

:func:`check_data` validates ``(X, y)`` for a model and a loss with one
call to :func:`chainrule.data.validation.check_dataset`, reading the input
size and output units from the model's layers (no forward pass).
"""

from __future__ import annotations

import numpy as np

from .._backend import dtype_in, from_host
from ..data.validation import check_dataset
from ..nn.container import Sequential
from ._placement import check_same_library, host_copy, is_host, model_place, on_model
from .dtype_policy import keep_model_dtype
from .losses import target_kind

__all__ = ["check_data"]


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

    Data held as arrays of a device library (the model's) is checked on a
    host copy, once, and stays on its device (made float32 / int64 there);
    NumPy data stays NumPy.

    Raises:
        ValueError / TypeError naming the row, label or shape at fault, or
        the two libraries when the data is not the model's.
    """
    first, n_out = _first_and_last_layer(model)
    kind = target_kind(loss_name)
    on_device = not (is_host(X) and (y is None or is_host(y)))
    if on_device:
        xp, device = model_place(model)
        check_same_library(xp, device, X, name)
        check_same_library(xp, device, y, name.replace("X", "y"))
    Xc, yc = check_dataset(
        host_copy(X) if on_device else X,
        host_copy(y) if on_device else y,
        targets=kind,
        input_size=None if transform is not None else first,
        n_classes=n_out if kind == "int" else None,
        name=name,
    )
    if not on_device:
        return keep_model_dtype(model, X, y, Xc, yc)
    Xd = _kept(X, Xc, xp, device)
    return Xd, (Xd if y is None else _kept(y, yc, xp, device))


def _kept(a, checked: np.ndarray, xp, device):
    """The checked data on the model's device: the caller's device array cast there, or moved."""
    if is_host(a):
        return from_host(checked, xp, device)
    a = on_model(a, xp, device)
    dtype = dtype_in(xp, checked.dtype)
    return a if a.dtype == dtype else xp.astype(a, dtype)
