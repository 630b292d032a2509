"""Hidden-unit activations and their backward, each written once as a per-element formula.

The formulas (book §6.3) are :mod:`~chainrule._backend.fused` kernels:

* forward, bias included: y = g(z + b) with g one of ReLU max(0, z),
  tanh, the logistic sigmoid σ(z) (computed from e = exp(-|z|), stable
  for large |z|), b an optional row vector (a layer's bias);
* backward, the incoming gradient times g'(z) written through the output:
  ReLU g·[y > 0] (0 at the kink, as PyTorch), tanh g·(1 - y²),
  sigmoid g·y(1 - y).

:func:`forward` and :func:`backward` run them.  On NumPy, large arrays go
through the compiled kernel (one pass, split over chainrule's threads)
where that measured faster (:data:`COMPILED`); elsewhere, and below
:data:`COMPILED_MIN` elements, where a compiled call costs more than it
saves, the same formula runs as whole-array operations.  Other namespaces
take the kernel (CuPy: one fused kernel; others: the formula).  Arrays laid out in another axis order (a convolution's
channels-first view of a channels-last buffer) run in their memory order.
The compiled forward may write into ``z`` itself (``inplace=True``) when no
one else reads it, e.g. a fresh matrix product.
"""

from __future__ import annotations

import numpy as np

from .fused import elementwise, exp, maximum, minimum, tanh, where

__all__ = ["ACTIVATIONS", "COMPILED_MIN", "backward", "forward"]

#: Arrays smaller than this run the formula as whole-array operations.
COMPILED_MIN = 1 << 16
#: The (activation, direction) pairs whose compiled kernel beats NumPy's whole-array
#: formula (measured, float32, 2 cores: ReLU backward 1.5-3x, sigmoid forward 1.4-2x
#: from 131072 elements); the others run NumPy's vectorised ufuncs (numba's scalar
#: tanh and the compiled ReLU forward measured slower).
COMPILED = {("relu", "backward"): COMPILED_MIN, ("sigmoid", "forward"): 2 * COMPILED_MIN}


@elementwise(outputs="y", scalars="zero", rows="b")
def bias_relu(z, b, zero):
    if b is not None:
        z = z + b
    return maximum(z, zero)


@elementwise(outputs="y", rows="b")
def bias_tanh(z, b):
    if b is not None:
        z = z + b
    return tanh(z)


@elementwise(outputs="y", scalars="zero one", rows="b")
def bias_sigmoid(z, b, zero, one):
    if b is not None:
        z = z + b
    e = exp(minimum(z, -z))  # exp(-|z|) never overflows
    return where(z >= zero, one / (one + e), e / (one + e))


@elementwise(outputs="gz", scalars="zero")
def relu_backward(y, g, zero):
    return where(y > zero, g, zero)


@elementwise(outputs="gz", scalars="one")
def tanh_backward(y, g, one):
    return g * (one - y * y)


@elementwise(outputs="gz", scalars="one")
def sigmoid_backward(y, g, one):
    return g * (y * (one - y))


#: name -> (forward kernel, its scalars, backward kernel, its scalars)
ACTIVATIONS = {
    "relu": (bias_relu, (0.0,), relu_backward, (0.0,)),
    "tanh": (bias_tanh, (), tanh_backward, (1.0,)),
    "sigmoid": (bias_sigmoid, (0.0, 1.0), sigmoid_backward, (1.0,)),
}


def _memory_order(a):
    """The axes of ``a`` sorted by decreasing stride, or None when already C-ordered."""
    if a.flags.c_contiguous or a.ndim < 2:
        return None
    order = sorted(range(a.ndim), key=lambda k: -a.strides[k])
    return tuple(order)


def _inverse(order):
    inv = [0] * len(order)
    for k, ax in enumerate(order):
        inv[ax] = k
    return tuple(inv)


def _small(a, name: str, direction: str) -> bool:
    """Whether a NumPy array runs the whole-array formula (:data:`COMPILED`)."""
    return a.size < COMPILED.get((name, direction), a.size + 1)


def forward(name: str, z, b=None, inplace: bool = False):
    """g(z + b) for activation ``name`` ("relu", "tanh", "sigmoid").

    Args:
        z: pre-activations (..., C).
        b: optional bias (C,), added first.
        inplace: the result may be written into ``z`` (its caller owns it).

    Returns the activations, shaped like ``z``.
    """
    kern, scalars, _, _ = ACTIVATIONS[name]
    if type(z) is not np.ndarray:
        return kern(z, b, *scalars)[0]
    if _small(z, name, "forward"):
        return kern.bound(np)(z, b, *scalars)
    order = _memory_order(z)
    if order is not None and b is None:
        zt = z.transpose(order)
        if zt.flags.c_contiguous:
            (y,) = kern(zt, None, *scalars, out={"y": zt} if inplace else None)
            return y.transpose(_inverse(order))
    (y,) = kern(z, b, *scalars, out={"y": z} if inplace and z.flags.c_contiguous else None)
    return y


def backward(name: str, y, g):
    """The incoming gradient ``g`` times g'(z), from the activation's output ``y``."""
    _, _, kern, scalars = ACTIVATIONS[name]
    if type(y) is not np.ndarray:
        return kern(y, g, *scalars)[0]
    if _small(y, name, "backward"):
        return kern.bound(np)(y, g, *scalars)
    order = _memory_order(y)
    if order is not None and type(g) is np.ndarray:
        yt, gt = y.transpose(order), g.transpose(order)
        if yt.flags.c_contiguous and gt.flags.c_contiguous:
            (gz,) = kern(yt, gt, *scalars)
            return gz.transpose(_inverse(order))
    (gz,) = kern(y, g, *scalars)
    return gz
