"""Reverse-mode automatic differentiation on the arrays of any array-API library.

``engine`` (Tensor, the tape, backward, ``grad``), the primitives (``ops``,
``elementwise``: the array API's elementwise functions, ``conv_ops``,
``pool_ops``), the differentiable namespace of recorded backward passes
(``_namespace``) and ``functional`` (vjp, jvp, hvp).
"""

from . import (
    _namespace,  # noqa: F401  (registers the differentiable namespace)
    functional,
)
from .elementwise import (
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    ceil,
    copysign,
    cos,
    cosh,
    expm1,
    floor,
    floor_divide,
    hypot,
    log1p,
    log2,
    log10,
    logaddexp,
    maximum,
    minimum,
    positive,
    reciprocal,
    remainder,
    round,
    sign,
    sin,
    sinh,
    square,
    tan,
    trunc,
)
from .elementwise import clip as _clip
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
from .ops import abs, exp, log, sqrt, tanh, where
from .ops import concatenate as _concatenate
from .ops import neg as negative
from .ops import stack as _stack


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join a sequence of tensors along an existing axis."""
    return _concatenate(*tensors, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join a sequence of tensors along a new axis."""
    return _stack(*tensors, axis=axis)


def clip(x, min=None, max=None) -> Tensor:
    """``x`` limited to ``[min, max]``; bounds may be None, scalars, arrays or Tensors.

    The array API's ``clip`` (``torch.clamp``); the gradient reaches the
    bounds where they cut (``elementwise.clip``).
    """
    return _clip(x, min, max)


__all__ = [
    "PRIMITIVES",
    "Tensor",
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "ceil",
    "clip",
    "concatenate",
    "copysign",
    "cos",
    "cosh",
    "enable_grad",
    "exp",
    "expm1",
    "floor",
    "floor_divide",
    "functional",
    "grad",
    "hypot",
    "is_grad_enabled",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "maximum",
    "minimum",
    "negative",
    "no_grad",
    "positive",
    "primitive",
    "reciprocal",
    "remainder",
    "round",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "stack",
    "tan",
    "tanh",
    "tensor",
    "trunc",
    "unbroadcast",
    "where",
]
