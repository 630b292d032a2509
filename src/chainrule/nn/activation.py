"""Hidden-unit activations as modules (book §6.3)."""

from __future__ import annotations

import numpy as np

from . import functional as F
from .module import Module, float_input
from .parameter import Parameter


class ReLU(Module):
    """Rectified linear unit g(z) = max(0, z)."""

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """g(z) = max(0, z) + α min(0, z), α = ``negative_slope`` (default 0.01)."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """Parametric ReLU with a learned slope α (one, or one per channel on axis 1)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        # the count is the weight's length: ``num_parameters()`` is Module's method
        self.weight = Parameter(np.full(num_parameters, init, dtype=np.float32))

    def forward(self, x):
        return F.prelu(float_input(x, self.weight.dtype), self.weight)

    def extra_repr(self):
        return f"num_parameters={self.weight.shape[0]}"


class Abs(Module):
    """Absolute-value rectification g(z) = |z|."""

    def forward(self, x):
        return F.abs_rectification(x)


class Sigmoid(Module):
    """Logistic sigmoid σ(z) = 1 / (1 + e^{-z})."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x):
        return F.tanh(x)


class Softplus(Module):
    """ζ(z) = log(1 + e^z), computed stably."""

    def forward(self, x):
        return F.softplus(x)


class Softmax(Module):
    """softmax along ``axis`` (an output unit; losses take logits instead)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, self.axis)


class LogSoftmax(Module):
    """log softmax along ``axis``."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.log_softmax(x, self.axis)


class Identity(Module):
    """Returns its input."""

    def forward(self, x):
        return x


class GELU(Module):
    """Gaussian error linear unit g(z) = z Φ(z) (``approximate="tanh"``: PyTorch's tanh form)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"Expected approximate 'none' or 'tanh'. Received: {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Sigmoid linear unit (swish) g(z) = z σ(z).

    ``inplace`` is accepted for PyTorch compatibility; the result is always a new tensor.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.silu(x)
