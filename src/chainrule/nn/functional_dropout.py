"""Dropout as a function (book §7.12), shared by ``nn.functional`` and the attention layers."""

from __future__ import annotations

import numpy as np

from .. import random as _random
from .._backend import namespace_of
from ..autograd.engine import Tensor

__all__ = ["dropout"]


def dropout(x: Tensor, p: float = 0.5, training: bool = True,
            mode: str = "inverted") -> Tensor:
    """Multiply by a fresh Bernoulli(1-p) mask (book §7.12).

    ``mode="inverted"`` scales kept units by 1/(1-p) while training and is
    the identity at inference (PyTorch, Keras).  ``mode="weight_scaling"``
    uses a plain 0/1 mask while training and multiplies by the keep
    probability 1-p at inference (the book's weight scaling rule).  Both
    give the same expected activation.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"Expected dropout p in [0, 1). Received: p={p}")
    if mode not in ("inverted", "weight_scaling"):
        raise ValueError(
            f"Expected mode 'inverted' or 'weight_scaling'. Received: mode={mode!r}"
        )
    keep = 1.0 - p
    if not training:
        return x if mode == "inverted" or p == 0 else x * np.float32(keep)
    if p == 0:
        return x
    # the mask is drawn where x lives (chainrule.random.rand: NumPy's numbers on
    # the host and generic namespaces, a seeded device generator on CuPy)
    data = x.data if isinstance(x, Tensor) else x
    xp = namespace_of(data)
    mask = xp.astype(_random.rand(data.shape, like=data) < keep, data.dtype)
    if mode == "inverted":
        mask *= 1.0 / keep
    return x * mask
