"""Loss functions by name, as the training loop calls them.

A training loss is a callable ``loss(output: Tensor, target: ndarray) ->
scalar Tensor``, the mean negative log-likelihood of a minibatch
(book §6.2.1.1).  Names:

=================  =============================  =========================
name               output unit / NLL              targets
=================  =============================  =========================
"cross_entropy"    softmax, multinoulli           int class ids, (N,)
"bce"              sigmoid, Bernoulli (logits)    0/1, same size as output
"mse"              linear, Gaussian (fixed var.)  real, same size as output
"l1"               linear, Laplace                real, same size as output
"gaussian_nll"     linear mean + softplus var.    real, (N, k); output (N, 2k)
=================  =============================  =========================

For "gaussian_nll" the output's first k columns are the mean and the last
k go through softplus to give the variance (positive by construction).
Targets whose size equals the output's are reshaped to the output's
shape, so (N,) targets work with (N, 1) outputs.  Targets may be NumPy
arrays or arrays of the output's library (CuPy, torch, array_api_strict):
NumPy targets of an output on a device are moved there.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .._backend import device_of, from_host, namespace_of
from ..autograd import ops
from ..nn import functional as F
from ._placement import on_model

__all__ = ["LOSSES", "get_loss"]


def _match(output, target):
    """Targets as an array of the output's library, device and dtype, shaped like it."""
    data = output.data
    xp = namespace_of(data)
    if xp is np:
        t = np.asarray(target, dtype=output.dtype)
        if t.size == output.size and t.shape != output.shape:
            t = t.reshape(output.shape)
        return t
    if namespace_of(target) is np:
        t = from_host(np.asarray(target), xp, device_of(data), dtype=None)
    else:
        t = on_model(target, xp, device_of(data), "the targets")
    if t.dtype != data.dtype:
        t = xp.astype(t, data.dtype)
    if math.prod(t.shape) == math.prod(data.shape) and tuple(t.shape) != tuple(data.shape):
        t = xp.reshape(t, data.shape)
    return t


def _class_ids(output, target):
    """Class ids on the output's device (NumPy ids stay NumPy for a NumPy output)."""
    data = output.data
    xp = namespace_of(data)
    if xp is np or namespace_of(target) is xp:
        return target
    return on_model(target, xp, device_of(data), "the targets")


def cross_entropy(output, target):
    """Softmax cross-entropy (multinoulli NLL)."""
    return F.cross_entropy(output, _class_ids(output, target))


def bce(output, target):
    """Sigmoid cross-entropy from logits (Bernoulli NLL)."""
    return F.binary_cross_entropy_with_logits(output, _match(output, target))


def mse(output, target):
    """Mean squared error (Gaussian NLL up to constants)."""
    return F.mse_loss(output, _match(output, target))


def l1(output, target):
    """Mean absolute error (Laplace NLL up to constants)."""
    return F.l1_loss(output, _match(output, target))


def gaussian_nll(output, target):
    """Gaussian NLL with a learned variance: mean and softplus(raw variance)."""
    k2 = output.shape[-1]
    if output.ndim != 2 or k2 % 2:
        raise ValueError(
            "Expected output of shape (N, 2k) for 'gaussian_nll' (k means, then k raw "
            f"variances). Received: shape {output.shape}"
        )
    k = k2 // 2
    mean = output[:, :k]
    var = ops.softplus(output[:, k:])
    return F.gaussian_nll_loss(mean, var, _match(mean, target))


LOSSES = {
    "cross_entropy": cross_entropy,
    "bce": bce,
    "mse": mse,
    "l1": l1,
    "gaussian_nll": gaussian_nll,
}

_KNOWN_CALLABLES = {
    F.cross_entropy: "cross_entropy",
    F.nll_loss: "nll_loss",
    F.binary_cross_entropy_with_logits: "binary_cross_entropy_with_logits",
    F.mse_loss: "mse_loss",
    F.l1_loss: "l1_loss",
    F.gaussian_nll_loss: "gaussian_nll_loss",
}

#: losses whose targets are class ids (int64) and 0/1 labels
INTEGER_TARGETS = ("cross_entropy",)
BINARY_TARGETS = ("bce",)


def get_loss(loss) -> tuple[Callable, str]:
    """``(callable, name)`` for a loss name or a user's callable."""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(
                f"Expected a loss in {sorted(LOSSES)} or a callable "
                f"(output, target) -> Tensor. Received: {loss!r}"
            )
        return LOSSES[loss], loss
    if callable(loss):
        fn = loss
        while hasattr(fn, "func"):  # functools.partial(F.cross_entropy, ...)
            fn = fn.func
        # only the library's own losses imply a target type; a user's
        # callable (whatever its name) accepts whatever targets it is given
        name = _KNOWN_CALLABLES.get(fn, "user")
        return loss, name
    raise TypeError(f"Expected a loss name or callable. Received: {type(loss).__name__}")


def target_kind(name: str) -> str:
    """'int' for class-id losses, 'binary' for 0/1, 'float' for real targets,
    'any' for user losses (integer targets stay int64, others float32)."""
    if name in INTEGER_TARGETS or name == "nll_loss":
        return "int"
    if name in BINARY_TARGETS or name == "binary_cross_entropy_with_logits":
        return "binary"
    if name in LOSSES or name in ("mse_loss", "l1_loss", "gaussian_nll_loss"):
        return "float"
    return "any"
