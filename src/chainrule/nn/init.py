"""Weight initialisation (book §8.4), all drawing from ``chainrule.random.generator()``.

That is the generator in scope (``chainrule.random.use_generator``), else the
default one reset by ``cr.manual_seed``.  The numbers are always drawn on the
host and then written into the tensor where it lives (its namespace and
device), so a model gets the same initial weights on every backend.

Fan-in and fan-out: a 2-D weight of a Linear layer has shape (in, out), so
fan_in = shape[0], fan_out = shape[1].  A convolution kernel has PyTorch's
layout (out_channels, in_channels, *kernel), so fan_in = in · prod(kernel)
and fan_out = out · prod(kernel).
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from .._backend import device_of, from_host, namespace_of
from ..autograd.engine import Tensor

__all__ = [
    "compute_fans",
    "constant_",
    "glorot_normal_",
    "glorot_uniform_",
    "he_normal_",
    "he_uniform_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def compute_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape (see the module doc)."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"fan-in/fan-out need a weight with ≥ 2 dims. Received shape {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    """Write host ``values`` into ``t.data`` in place, wherever it lives."""
    data = t.data
    data[...] = from_host(values, namespace_of(data), device_of(data), data.dtype)
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(t, _random.generator().uniform(a, b, size=t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std²)."""
    return _fill(t, _random.generator().normal(mean, std, size=t.shape))


def glorot_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Normalised initialisation W ~ U(-√(6/(m+n)), √(6/(m+n))) (book eq. 8.23)."""
    fan_in, fan_out = compute_fans(t.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def glorot_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """W ~ N(0, 2/(m+n)): the same variance as :func:`glorot_uniform_`."""
    fan_in, fan_out = compute_fans(t.shape)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _fan(t, mode):
    fan_in, fan_out = compute_fans(t.shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Expected mode 'fan_in' or 'fan_out'. Received: {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def he_uniform_(t: Tensor, mode: str = "fan_in") -> Tensor:
    """He init for ReLU nets: W ~ U(-√(6/fan_in), √(6/fan_in)) (variance 2/fan_in)."""
    bound = math.sqrt(6.0 / _fan(t, mode))
    return uniform_(t, -bound, bound)


def he_normal_(t: Tensor, mode: str = "fan_in") -> Tensor:
    """He init for ReLU nets: W ~ N(0, 2/fan_in)."""
    return normal_(t, 0.0, math.sqrt(2.0 / _fan(t, mode)))


def zeros_(t: Tensor) -> Tensor:
    """Fill with 0 (biases; never all weights, book §8.4)."""
    t.data[...] = 0
    return t


def constant_(t: Tensor, value: float) -> Tensor:
    """Fill with ``value`` (e.g. 0.1 for ReLU biases, book §6.3.1)."""
    t.data[...] = value
    return t


xavier_uniform_ = glorot_uniform_
xavier_normal_ = glorot_normal_
kaiming_uniform_ = he_uniform_
kaiming_normal_ = he_normal_
