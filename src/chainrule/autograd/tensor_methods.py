"""Operators and methods of Tensor, each a thin call to a primitive in ops.py."""

from __future__ import annotations

import numpy as np

from .._backend import namespace_of
from . import ops
from .engine import Tensor, _constant


def _reshape(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return ops.reshape(self, shape=shape)


def _transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return ops.transpose(self, axes=axes or None)


def _index(part):
    return part.data if isinstance(part, Tensor) else part


def _getitem(self, index):
    # Tensors used as indices (alone or inside a tuple) are plain constants
    if isinstance(index, tuple):
        index = tuple(_index(part) for part in index)
    else:
        index = _index(index)
    return ops.getitem(self, index=index)


def _rpow(self, other):
    return ops.pow(other, self)


def _cmp(name):
    """A comparison in the data's own namespace; host constants move there first."""

    def method(self, other):
        other = other.data if isinstance(other, Tensor) else other
        ns = namespace_of(self.data)
        if ns is not np and not isinstance(other, (int, float, bool)):
            other = _constant(other, (self,), ns)
        return Tensor._result(getattr(ns, name)(self.data, other), None)

    return method


# Operators in the natural order are the primitives themselves (``a + b``
# calls ``ops.add(a, b)`` with no extra Python frame: the tape's overhead
# matters for small networks); reflected ones swap the operands.
_METHODS = {
    "__add__": ops.add,
    "__radd__": lambda s, o: ops.add(o, s),
    "__sub__": ops.sub,
    "__rsub__": lambda s, o: ops.sub(o, s),
    "__mul__": ops.mul,
    "__rmul__": lambda s, o: ops.mul(o, s),
    "__truediv__": ops.div,
    "__rtruediv__": lambda s, o: ops.div(o, s),
    "__matmul__": ops.matmul,
    "__rmatmul__": lambda s, o: ops.matmul(o, s),
    "__pow__": ops.pow,
    "__rpow__": _rpow,
    "__neg__": ops.neg,
    "__getitem__": _getitem,
    "__lt__": _cmp("less"),
    "__le__": _cmp("less_equal"),
    "__gt__": _cmp("greater"),
    "__ge__": _cmp("greater_equal"),
    "sum": lambda s, axis=None, keepdims=False: ops.sum(s, axis=axis, keepdims=keepdims),
    "mean": lambda s, axis=None, keepdims=False: ops.mean(s, axis=axis, keepdims=keepdims),
    "max": lambda s, axis=None, keepdims=False: ops.max(s, axis=axis, keepdims=keepdims),
    "min": lambda s, axis=None, keepdims=False: ops.min(s, axis=axis, keepdims=keepdims),
    "reshape": _reshape,
    "transpose": _transpose,
    "T": property(lambda s: ops.transpose(s)),
    "exp": ops.exp,
    "log": ops.log,
    "sqrt": ops.sqrt,
    "abs": ops.abs,
    "relu": ops.relu,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "astype": lambda s, dtype, copy=True: ops.astype(s, dtype=dtype),
    "flatten": lambda s, start_dim=0: _reshape(s, s.shape[:start_dim] + (-1,)),
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
