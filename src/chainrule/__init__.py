"""chainrule: deep feedforward networks by back-propagation, NumPy only.

The system of *Deep Learning* (Goodfellow, Bengio, Courville), chapters 5-8:
tensors with reverse-mode autodiff (``chainrule.autograd``), layers and losses
(``chainrule.nn``), optimisers (``chainrule.optim``), a training loop
(``chainrule.training``), data loading (``chainrule.data``) and scikit-learn
estimators (``chainrule.sklearn``).

Importing chainrule or training with it changes nothing outside chainrule:
the allocator and BLAS's thread count stay as the process set them.  Thread
use is explicit: ``cr.set_num_threads(n)`` sets chainrule's own worker count
and BLAS's (through threadpoolctl), like ``torch.set_num_threads``.
``cr.set_kernels("numpy")`` (or ``CHAINRULE_KERNELS=numpy``) runs the
elementwise kernels as plain NumPy operations instead of compiled loops.
"""

from typing import Any

from ._backend.fused import get_kernels, set_kernels
from ._threads import get_num_threads, set_num_threads
from .autograd import (  # the array API's elementwise functions too (autograd/elementwise.py)
    Tensor,
    abs,
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    ceil,
    clip,
    concatenate,
    copysign,
    cos,
    cosh,
    enable_grad,
    exp,
    expm1,
    floor,
    floor_divide,
    hypot,
    is_grad_enabled,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    maximum,
    minimum,
    negative,
    no_grad,
    positive,
    reciprocal,
    remainder,
    round,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    stack,
    tan,
    tanh,
    tensor,
    trunc,
    where,
)
from .random import get_rng_state, manual_seed, set_rng_state

__version__ = "0.1.0"


_SUBMODULES = (
    "nn", "optim", "data", "training", "sklearn", "autograd", "random",
    "interop", "onnx", "serialization", "diagnostics",
)


def __getattr__(name: str) -> Any:
    # subpackages load on first use, so `import chainrule` stays light
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"chainrule.{name}")
    if name in ("save", "load"):
        return getattr(importlib.import_module("chainrule.serialization"), name)
    if name == "summary":
        return importlib.import_module("chainrule.nn.summary").summary
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


__all__ = [
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
    "get_kernels",
    "get_num_threads",
    "get_rng_state",
    "hypot",
    "is_grad_enabled",
    "load",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "manual_seed",
    "maximum",
    "minimum",
    "negative",
    "no_grad",
    "positive",
    "reciprocal",
    "remainder",
    "round",
    "save",
    "set_kernels",
    "set_num_threads",
    "set_rng_state",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "stack",
    "summary",
    "tan",
    "tanh",
    "tensor",
    "trunc",
    "where",
]
