"""The differentiable array namespace: array-API names acting on Tensors as recorded ops.

A primitive's forward and vjp are written once against a namespace ``xp``
(``engine.py``).  On the fast path ``xp`` is the raw array library; when a
``create_graph=True`` backward reaches the op, the engine runs the forward
again with ``xp = GRAPH`` and Tensor inputs, so ``xp.exp(a)``, ``a * b``,
``xp.where(mask, g, 0)`` ... are chainrule ops and the vjp it returns is
differentiable again.

The functions the primitives' vjps use are here; any other name of a
primitive (``xp.cos``, ``xp.expm1``...) is that primitive.  Masks and other
non-differentiable values (``xp.equal``, ``xp.sign``, ``xp.isfinite``) are
computed on the raw data and come back as plain arrays, constants of the graph.
The functions call the primitives through ``engine.PRIMITIVES`` (the modules
defining them import this one), and the namespace registers itself with the
engine on import.
"""

from __future__ import annotations

import itertools

from .._backend import device_of, namespace_of
from .._backend import xp as _raw
from .engine import PRIMITIVES, Tensor, grad, register_graph_namespace

__all__ = ["GRAPH", "GraphNamespace"]


def _data(a):
    return a.data if isinstance(a, Tensor) else a


def _axes(axis, ndim):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(ax % ndim for ax in axes)


def _raw_ns(*arrays):
    """The raw namespace of the first Tensor (or array) among ``arrays``."""
    for a in arrays:
        if isinstance(a, Tensor):
            return namespace_of(a.data)
    for a in arrays:
        if hasattr(a, "shape"):
            return namespace_of(a)
    return _raw


class GraphNamespace:
    """Array-API functions on Tensors, each made of chainrule primitives.

    It offers the standard names the primitives' generic forwards and vjps
    use (``sum``, ``max``, ``permute_dims``, ``matrix_transpose``, ``concat``,
    ``astype``, ``where``...).  Constants (masks, signs) are computed with
    the raw namespace of the data they come from, on its device.
    """

    differentiable = True
    ndarray = _raw.ndarray
    integer = _raw.integer
    inf = _raw.inf
    nan = _raw.nan
    bool = _raw.bool

    # --- constants: computed on the data, no gradient -----------------------
    @staticmethod
    def sign(a):
        d = _data(a)
        return _raw_ns(d).sign(d)

    @staticmethod
    def equal(a, b):
        da, db = _data(a), _data(b)
        return _raw_ns(da, db).equal(da, db)

    @staticmethod
    def isfinite(a):
        d = _data(a)
        return _raw_ns(d).isfinite(d)

    @staticmethod
    def zeros(shape, dtype=None):
        return Tensor._result(_raw.zeros(shape, dtype=dtype), None)

    @staticmethod
    def zeros_like(a):
        d = _data(a)
        return Tensor._result(_raw_ns(d).zeros_like(d), None)

    @staticmethod
    def ones(shape, dtype=None):
        return Tensor._result(_raw.ones(shape, dtype=dtype), None)

    @staticmethod
    def arange(*args, **kwargs):
        return _raw.arange(*args, **kwargs)

    @staticmethod
    def shape(a):
        return tuple(_data(a).shape)

    @staticmethod
    def asarray(a, dtype=None):
        if isinstance(a, Tensor):
            if dtype is None or a.dtype == dtype:
                return a
            if a.requires_grad:
                return PRIMITIVES["astype"](a, dtype=dtype)
            return Tensor._result(namespace_of(a.data).astype(a.data, dtype), None)
        if hasattr(a, "shape") and not isinstance(a, _raw.generic):
            ns = namespace_of(a)
            return Tensor._result(a if dtype is None else ns.astype(a, dtype), None)
        return Tensor._result(_raw.asarray(a, dtype=dtype), None)

    # --- differentiable functions ------------------------------------------
    def __getattr__(self, name):
        # every other primitive under its own (array-API) name: xp.cos, xp.expm1...
        try:
            return PRIMITIVES[name]
        except KeyError:
            raise AttributeError(
                f"the differentiable namespace has no function {name!r}"
            ) from None

    @staticmethod
    def astype(a, dtype, copy=True):
        if not isinstance(a, Tensor):
            return namespace_of(a).astype(a, dtype)
        if a.dtype == dtype:
            return a
        if not a.requires_grad:
            return Tensor._result(namespace_of(a.data).astype(a.data, dtype), None)
        return PRIMITIVES["astype"](a, dtype=dtype)

    @staticmethod
    def where(cond, a, b):
        c = _data(cond)
        ns = _raw_ns(a, b, c)
        if not hasattr(c, "shape") or namespace_of(c) is not ns:
            from .._backend import from_host, to_host

            like = a.data if isinstance(a, Tensor) else b.data
            c = from_host(to_host(c), ns, device_of(like))
        return PRIMITIVES["where"](ns.astype(c, ns.bool), a, b)

    @staticmethod
    def sum(a, axis=None, keepdims=False):
        if not isinstance(a, Tensor):
            return namespace_of(a).sum(a, axis=axis, keepdims=keepdims)
        return PRIMITIVES["sum"](a, axis=axis, keepdims=keepdims)

    @staticmethod
    def mean(a, axis=None, keepdims=False):
        return PRIMITIVES["mean"](a, axis=axis, keepdims=keepdims)

    @staticmethod
    def max(a, axis=None, keepdims=False):
        return PRIMITIVES["max"](a, axis=axis, keepdims=keepdims)

    @staticmethod
    def min(a, axis=None, keepdims=False):
        return PRIMITIVES["min"](a, axis=axis, keepdims=keepdims)

    @staticmethod
    def matmul(a, b):
        return PRIMITIVES["matmul"](a, b)

    @staticmethod
    def reshape(a, shape):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return PRIMITIVES["reshape"](a, shape=shape)

    @staticmethod
    def permute_dims(a, axes):
        return PRIMITIVES["transpose"](a, axes=tuple(int(i) for i in axes))

    @staticmethod
    def transpose(a, axes=None):
        axes = None if axes is None else tuple(int(i) for i in axes)
        return PRIMITIVES["transpose"](a, axes=axes)

    @staticmethod
    def matrix_transpose(a):
        perm = list(range(a.ndim))
        perm[-1], perm[-2] = perm[-2], perm[-1]
        return PRIMITIVES["transpose"](a, axes=tuple(perm))

    @staticmethod
    def swapaxes(a, i, j):
        perm = list(range(a.ndim))
        i, j = i % a.ndim, j % a.ndim
        perm[i], perm[j] = perm[j], perm[i]
        return PRIMITIVES["transpose"](a, axes=tuple(perm))

    @staticmethod
    def moveaxis(a, src, dst):
        perm = [i for i in range(a.ndim) if i != src % a.ndim]
        perm.insert(dst % a.ndim, src % a.ndim)
        return PRIMITIVES["transpose"](a, axes=tuple(perm))

    @staticmethod
    def expand_dims(a, axis=0):
        shape = list(a.shape)
        shape.insert(axis % (a.ndim + 1), 1)
        return PRIMITIVES["reshape"](a, shape=tuple(shape))

    @staticmethod
    def squeeze(a, axis):
        axes = _axes(axis, a.ndim)
        shape = tuple(n for i, n in enumerate(a.shape) if i not in axes)
        return PRIMITIVES["reshape"](a, shape=shape)

    @staticmethod
    def broadcast_to(a, shape):
        return PRIMITIVES["broadcast_to"](a, shape=tuple(shape))

    @staticmethod
    def concat(arrays, axis=0):
        return PRIMITIVES["concatenate"](*arrays, axis=axis)

    concatenate = concat

    @staticmethod
    def stack(arrays, axis=0):
        return PRIMITIVES["stack"](*arrays, axis=axis)

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
        return PRIMITIVES["scatter_add"](g, shape=tuple(shape), index=index)

    @staticmethod
    def vjp_of(out, args):
        """A vjp for ``out`` computed from ``args`` by composite ops: differentiate it.

        Fused primitives whose fast vjp uses in-place tricks return, under
        GRAPH, their formula written with ops plus this vjp.
        """
        def vjp(g, need):
            wanted = [a for a, n in zip(args, need) if n]
            grads = iter(grad(out, wanted, g, create_graph=True, allow_unused=True))
            result = []
            for a, n in zip(args, need):
                gx = next(grads) if n else None
                if n and gx is None:
                    ns = namespace_of(a.data)
                    gx = Tensor._result(ns.zeros_like(a.data), None)
                result.append(gx)
            return tuple(result)

        return vjp


#: The one instance the engine passes as ``xp`` when it records a backward pass.
GRAPH = GraphNamespace()
register_graph_namespace(GRAPH)
