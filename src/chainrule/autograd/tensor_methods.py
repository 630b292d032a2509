"""Operators and methods of Tensor, each a thin call to a primitive in ops.py."""

from __future__ import annotations

from .._backend import xp
from . import ops
from .engine import Tensor


def _reshape(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return ops.reshape(self, shape=shape)


def _transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return ops.transpose(self, axes=axes or None)


def _pow(self, other):
    return ops.pow(self, other)


def _rpow(self, other):
    return ops.pow(other, self)


def _cmp(fn):
    def method(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._result(fn(self.data, other), None)

    return method


_METHODS = {
    "__add__": lambda s, o: ops.add(s, o),
    "__radd__": lambda s, o: ops.add(o, s),
    "__sub__": lambda s, o: ops.sub(s, o),
    "__rsub__": lambda s, o: ops.sub(o, s),
    "__mul__": lambda s, o: ops.mul(s, o),
    "__rmul__": lambda s, o: ops.mul(o, s),
    "__truediv__": lambda s, o: ops.div(s, o),
    "__rtruediv__": lambda s, o: ops.div(o, s),
    "__matmul__": lambda s, o: ops.matmul(s, o),
    "__rmatmul__": lambda s, o: ops.matmul(o, s),
    "__pow__": _pow,
    "__rpow__": _rpow,
    "__neg__": lambda s: ops.neg(s),
    "__getitem__": lambda s, idx: ops.getitem(
        s, index=idx.data if isinstance(idx, Tensor) else idx
    ),
    "__lt__": _cmp(xp.less),
    "__le__": _cmp(xp.less_equal),
    "__gt__": _cmp(xp.greater),
    "__ge__": _cmp(xp.greater_equal),
    "sum": lambda s, axis=None, keepdims=False: ops.sum(s, axis=axis, keepdims=keepdims),
    "mean": lambda s, axis=None, keepdims=False: ops.mean(s, axis=axis, keepdims=keepdims),
    "max": lambda s, axis=None, keepdims=False: ops.max(s, axis=axis, keepdims=keepdims),
    "min": lambda s, axis=None, keepdims=False: ops.min(s, axis=axis, keepdims=keepdims),
    "reshape": _reshape,
    "transpose": _transpose,
    "T": property(lambda s: ops.transpose(s)),
    "exp": lambda s: ops.exp(s),
    "log": lambda s: ops.log(s),
    "sqrt": lambda s: ops.sqrt(s),
    "abs": lambda s: ops.abs(s),
    "relu": lambda s: ops.relu(s),
    "sigmoid": lambda s: ops.sigmoid(s),
    "tanh": lambda s: ops.tanh(s),
    "flatten": lambda s, start_dim=0: _reshape(s, s.shape[:start_dim] + (-1,)),
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
