"""Dropout and Gaussian-noise layers (book §7.12, §7.5)."""

from __future__ import annotations

import numpy as np

from .. import random as _random
from .._backend import namespace_of
from ..autograd.engine import Tensor
from . import functional as F
from .module import Module


class Dropout(Module):
    """Drop each unit with probability ``p`` during training (book §7.12).

    Args:
        p: drop probability, in [0, 1).
        mode: ``"inverted"`` (default, as PyTorch/Keras): kept units are
            scaled by 1/(1-p) while training; identity at inference.
            ``"weight_scaling"`` (the book's rule): plain 0/1 masks while
            training; outputs multiplied by the keep probability 1-p at
            inference.  Both give the same expected activation.

    A new mask is drawn at every forward in training mode, from
    ``chainrule.random.generator()`` (the generator in scope, else the
    default one reset by ``cr.manual_seed``), on the device of the input
    (:func:`chainrule.random.rand`: the host generator's numbers for NumPy
    and generic namespaces, a device generator seeded from it on CuPy).
    """

    def __init__(self, p: float = 0.5, mode: str = "inverted"):
        super().__init__()
        F.dropout(Tensor(np.zeros(1, np.float32)), p, training=False, mode=mode)  # validate
        self.p = float(p)
        self.mode = mode

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.mode)

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode!r}"


class GaussianNoise(Module):
    """Add N(0, std²) noise in training mode; identity in eval (book §7.5).

    The noise is drawn on the input's device by :func:`chainrule.random.randn`.
    """

    def __init__(self, std: float):
        super().__init__()
        if std < 0:
            raise ValueError(f"Expected std >= 0. Received: std={std}")
        self.std = float(std)

    def forward(self, x):
        if not self.training or self.std == 0:
            return x
        data = x.data if isinstance(x, Tensor) else x
        noise = _random.randn(data.shape, like=data)  # drawn where x lives
        noise *= self.std
        if noise.dtype != data.dtype:
            noise = namespace_of(data).astype(noise, data.dtype)
        return x + noise

    def extra_repr(self):
        return f"std={self.std}"
