"""Fully connected layer a = h W + b (book §6.1)."""

from __future__ import annotations

import numpy as np

from ..autograd import ops
from ..autograd.engine import Tensor
from . import init
from .module import Module, float_input
from .parameter import Parameter


class Linear(Module):
    """Affine layer: y = x W + b.

    ``weight`` has shape (in_features, out_features), as in the book, Keras
    and Flax (PyTorch stores the transpose).  Default init is the book's
    normalised (Glorot) uniform for W and zeros for b; call
    ``nn.init.he_uniform_(layer.weight)`` for ReLU networks if you prefer.

    Args:
        in_features: size of each input row.
        out_features: size of each output row.
        bias: whether to learn b.

    Shape:
        input (*, in_features) -> output (*, out_features).

    Example:
        >>> layer = nn.Linear(784, 10)
        >>> layer(cr.tensor(np.zeros((32, 784)))).shape
        (32, 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype=np.float32):
        super().__init__()
        for name, size in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
                raise TypeError(f"Expected {name} to be an int. Received: {size!r}")
        if in_features <= 0 or out_features <= 0:
            raise ValueError(
                "Linear needs positive sizes. Received: "
                f"in_features={in_features}, out_features={out_features}"
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((in_features, out_features), dtype=dtype), dtype=dtype)
        self.bias: Parameter | None
        if bias:
            self.bias = Parameter(np.zeros(out_features, dtype=dtype), dtype=dtype)
        else:
            self.bias = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.glorot_uniform_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor, activation: str | None = None) -> Tensor:
        """x W + b, or g(x W + b) in one op for ``activation`` "relu", "tanh" or
        "sigmoid" (what a Sequential of Linear and that activation runs)."""
        x = float_input(x, self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self!r}: expected input (*, {self.in_features}); "
                f"received shape {x.shape} (weight shape {self.weight.shape})"
            )
        return ops.linear(x, self.weight, self.bias, activation=activation)  # checked above: skip F.linear's check

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
