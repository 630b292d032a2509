"""Facts about arrays of any namespace that the engine asks on every op and backward.

Nothing here knows Tensors: ``engine.py`` hands over their data.
"""

from __future__ import annotations

import numpy as _np

from .._backend import _NAMESPACES, device_of, from_host, namespace_of, to_host
from .._backend import kernels as _kernels

_ndarray = _np.ndarray

#: namespace -> its kernels the engine uses on every backward (one lookup per call)
_ENGINE_KERNELS: dict = {}


def _engine_kernels(ns):
    """``(own_grad, column_sums)`` entries serving namespace ``ns``."""
    try:
        return _ENGINE_KERNELS[ns]
    except KeyError:
        pair = (_kernels.kernel("own_grad", ns), _kernels.kernel("column_sums", ns))
        _ENGINE_KERNELS[ns] = pair
        return pair


_own_grad_np = _kernels.registered("own_grad")["numpy"]


def _ns(a):
    """The namespace of array ``a`` (one dict lookup for a known type)."""
    try:
        return _NAMESPACES[type(a)]
    except KeyError:
        return namespace_of(a)


def _is_float(a) -> bool:
    """Whether array ``a`` has a real or complex floating dtype (any namespace)."""
    if type(a) is _ndarray:
        return a.dtype.kind in "fc"
    return _ns(a).isdtype(a.dtype, ("real floating", "complex floating"))


def _cotangent(v, like, ns):
    """A given gradient ``v`` (array, list, scalar) as an array of ``like``'s namespace."""
    if ns is _np:
        return _np.asarray(v)
    if isinstance(v, (_np.ndarray, _np.generic, list, tuple, int, float)):
        return from_host(_np.asarray(v), ns, device_of(like))
    if _ns(v) is not ns:
        return from_host(to_host(v), ns, device_of(like))
    return v


def _itemsize(a) -> int:
    """Bytes per element of array ``a`` (any namespace)."""
    if type(a) is _ndarray:
        return a.dtype.itemsize
    return _ns(a).finfo(a.dtype).bits // 8 if _is_float(a) else _ns(a).iinfo(a.dtype).bits // 8
