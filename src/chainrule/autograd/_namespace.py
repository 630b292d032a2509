"""The differentiable array namespace: NumPy's names acting on Tensors as recorded ops.

A primitive's forward and vjp are written once against a namespace ``xp``
(``engine.py``).  On the fast path ``xp`` is the raw array library; when a
``create_graph=True`` backward reaches the op, the engine runs the forward
again with ``xp = GRAPH`` and Tensor inputs, so ``xp.exp(a)``, ``a * b``,
``xp.where(mask, g, 0)`` ... are chainrule ops and the vjp it returns is
differentiable again.

Only the functions the primitives use are here.  Masks and other
non-differentiable values (``xp.equal``, ``xp.sign``, ``xp.isfinite``) are
computed on the raw data and come back as plain arrays, constants of the graph.
"""

from __future__ import annotations

import itertools

from .._backend import xp as _raw
from .engine import Tensor

__all__ = ["GRAPH", "GraphNamespace"]


def _data(a):
    return a.data if isinstance(a, Tensor) else a


def _forward(name: str):
    """``name`` of chainrule's ops as a namespace function (ops import this module)."""

    def call(a):
        from . import ops

        return getattr(ops, name)(a)

    call.__name__ = name
    return call


def _axes(axis, ndim):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(ax % ndim for ax in axes)


class GraphNamespace:
    """NumPy-like functions on Tensors, each made of chainrule primitives."""

    differentiable = True
    ndarray = _raw.ndarray
    integer = _raw.integer
    inf = _raw.inf
    nan = _raw.nan

    # --- constants: computed on the data, no gradient -----------------------
    @staticmethod
    def sign(a):
        return _raw.sign(_data(a))

    @staticmethod
    def equal(a, b):
        return _raw.equal(_data(a), _data(b))

    @staticmethod
    def isfinite(a):
        return _raw.isfinite(_data(a))

    @staticmethod
    def argsort(a):
        return _raw.argsort(_data(a))

    @staticmethod
    def zeros(shape, dtype=None):
        return Tensor._result(_raw.zeros(shape, dtype=dtype), None)

    @staticmethod
    def ones(shape, dtype=None):
        return Tensor._result(_raw.ones(shape, dtype=dtype), None)

    @staticmethod
    def arange(*args, **kwargs):
        return _raw.arange(*args, **kwargs)

    @staticmethod
    def cumsum(a):
        return _raw.cumsum(_data(a))

    @staticmethod
    def shape(a):
        return _raw.shape(_data(a))

    @staticmethod
    def asarray(a, dtype=None):
        if isinstance(a, Tensor):
            return a if dtype is None or a.dtype == dtype else a.astype(dtype)
        return Tensor._result(_raw.asarray(a, dtype=dtype), None)

    # --- differentiable functions ------------------------------------------
    exp = staticmethod(_forward("exp"))
    log = staticmethod(_forward("log"))

    @staticmethod
    def log1p(a):
        from . import ops

        return ops.log(1 + a)

    sqrt = staticmethod(_forward("sqrt"))
    abs = staticmethod(_forward("abs"))
    tanh = staticmethod(_forward("tanh"))

    @staticmethod
    def where(cond, a, b):
        from . import ops

        return ops.where(_raw.asarray(_data(cond), dtype=bool), a, b)

    @staticmethod
    def maximum(a, b):
        from . import ops

        return ops.where(_raw.greater_equal(_data(a), _data(b)), a, b)

    @staticmethod
    def reshape(a, shape):
        from . import ops

        return ops.reshape(a, shape=tuple(shape) if not isinstance(shape, int) else (shape,))

    @staticmethod
    def transpose(a, axes=None):
        from . import ops

        return ops.transpose(a, axes=None if axes is None else tuple(int(i) for i in axes))

    @staticmethod
    def swapaxes(a, i, j):
        from . import ops

        perm = list(range(a.ndim))
        i, j = i % a.ndim, j % a.ndim
        perm[i], perm[j] = perm[j], perm[i]
        return ops.transpose(a, axes=tuple(perm))

    @staticmethod
    def moveaxis(a, src, dst):
        from . import ops

        perm = [i for i in range(a.ndim) if i != src % a.ndim]
        perm.insert(dst % a.ndim, src % a.ndim)
        return ops.transpose(a, axes=tuple(perm))

    @staticmethod
    def expand_dims(a, axis):
        from . import ops

        shape = list(a.shape)
        shape.insert(axis % (a.ndim + 1), 1)
        return ops.reshape(a, shape=tuple(shape))

    @staticmethod
    def squeeze(a, axis):
        from . import ops

        axes = _axes(axis, a.ndim)
        return ops.reshape(a, shape=tuple(n for i, n in enumerate(a.shape) if i not in axes))

    @staticmethod
    def broadcast_to(a, shape):
        from . import ops

        return ops.broadcast_to(a, shape=tuple(shape))

    @staticmethod
    def concatenate(arrays, axis=0):
        from . import ops

        return ops.concatenate(*arrays, axis=axis)

    @staticmethod
    def stack(arrays, axis=0):
        from . import ops

        return ops.stack(*arrays, axis=axis)

    @staticmethod
    def split(a, cuts, axis=0):
        bounds = [0, *(int(c) for c in cuts), a.shape[axis]]
        lead = (slice(None),) * (axis % a.ndim)
        return [a[lead + (slice(lo, hi),)] for lo, hi in itertools.pairwise(bounds)]

    @staticmethod
    def take(a, i, axis=0):
        return a[(slice(None),) * (axis % a.ndim) + (i,)]

    @staticmethod
    def scatter(g, shape, index):
        """Zeros of ``shape`` with ``g`` added at ``index`` (the vjp of ``a[index]``)."""
        from . import ops

        return ops.scatter_add(g, shape=tuple(shape), index=index)

    @staticmethod
    def vjp_of(out, args):
        """A vjp for ``out`` computed from ``args`` by composite ops: differentiate it.

        Fused primitives whose fast vjp uses in-place tricks return, under
        GRAPH, their formula written with ops plus this vjp.
        """
        from .engine import grad

        def vjp(g, need):
            wanted = [a for a, n in zip(args, need) if n]
            grads = iter(grad(out, wanted, g, create_graph=True, allow_unused=True))
            result = []
            for a, n in zip(args, need):
                gx = next(grads) if n else None
                if n and gx is None:
                    gx = Tensor._result(_raw.zeros(a.shape, dtype=a.dtype), None)
                result.append(gx)
            return tuple(result)

        return vjp


#: The one instance the engine passes as ``xp`` when it records a backward pass.
GRAPH = GraphNamespace()
