"""Layer normalisation: each example normalised over its own features."""

from __future__ import annotations

import numpy as np

from . import functional as F
from .module import Module, float_input
from .parameter import Parameter


class LayerNorm(Module):
    """y = (x - μ) / √(σ² + ε) · γ + β, μ and σ² over the trailing ``normalized_shape`` axes.

    Unlike batch normalisation (book §8.7.1) the statistics are those of
    each example alone, so training and evaluation compute the same thing
    and there are no running statistics.  γ starts at ones, β at zeros
    (PyTorch's ``weight`` and ``bias``).

    Args:
        normalized_shape: the trailing shape to normalise over (int or tuple).
        eps: ε added to the variance.
        elementwise_affine: learn γ and β.
        bias: learn β (when ``elementwise_affine``).

    Shape:
        input (*, *normalized_shape) -> the same shape.
    """

    _torch_layout = ("weight",)  # γ of a 2-D normalized_shape: cr.interop copies it as is

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=np.float32):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(n) for n in shape)
        if not self.normalized_shape or min(self.normalized_shape) <= 0:
            raise ValueError(
                "LayerNorm: expected a non-empty normalized_shape of positive sizes. "
                f"Received: {normalized_shape!r}"
            )
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight: Parameter | None = None
        self.bias: Parameter | None = None
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype), dtype=dtype)
            self.bias = (Parameter(np.zeros(self.normalized_shape, dtype=dtype), dtype=dtype)
                         if bias else None)

    def forward(self, x):
        x = float_input(x, np.float32 if self.weight is None else self.weight.dtype)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
