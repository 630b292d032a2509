"""Reverse-mode automatic differentiation over NumPy arrays."""

from . import functional
from . import tensor_methods as _tensor_methods  # noqa: F401  (attaches operators)
from .engine import (
    PRIMITIVES,
    Tensor,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    primitive,
    tensor,
    unbroadcast,
)
from .ops import abs, exp, log, sqrt, where
from .ops import concatenate as _concatenate
from .ops import stack as _stack


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join a sequence of tensors along an existing axis."""
    return _concatenate(*tensors, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join a sequence of tensors along a new axis."""
    return _stack(*tensors, axis=axis)


__all__ = [
    "PRIMITIVES",
    "Tensor",
    "abs",
    "concatenate",
    "enable_grad",
    "exp",
    "functional",
    "grad",
    "is_grad_enabled",
    "log",
    "no_grad",
    "primitive",
    "sqrt",
    "stack",
    "tensor",
    "unbroadcast",
    "where",
]
