"""CuPy entries of the kernel table (imported only when a CuPy namespace asks).

Each entry registered here has a NumPy reference entry in ``kernels.py`` or
beside the op that uses it; the GPU check (``benchmarks/gpu_check.py``)
runs the conformance tests with CuPy to compare them.

Elementwise formulas (optimiser updates, ...) are not here: each is
written once and made a CuPy kernel by ``fused.py`` (``_fused_cupy.py``).

Random numbers: one ``cupy.random.Generator`` per chainrule host generator
and GPU, seeded with 64 bits drawn from that host generator the first time
that GPU needs random numbers (see :mod:`chainrule.random`).
"""

from __future__ import annotations

import math
from collections import OrderedDict

from ._indexing import _may_repeat
from ._registry import register
from .im2col import FEW_CHANNELS, _col2im_numpy, window_views


def _cp():
    import cupy

    return cupy


def _plain(index):
    """``index`` with array-API-compat wrappers unwrapped and host arrays moved to the GPU."""
    import numpy

    cupy = _cp()

    def move(part):
        if isinstance(part, (numpy.ndarray, list)):
            return cupy.asarray(part)
        return part

    if isinstance(index, tuple):
        return tuple(move(p) for p in index)
    return move(index)


@register("gather", "cupy")
def _gather_cupy(xp, a, index):
    """``a[index]`` with NumPy's indexing rules (CuPy implements them all)."""
    return a[_plain(index)]


@register("scatter_add", "cupy")
def _scatter_add_cupy(xp, g, shape, index, dtype=None):
    """Zeros with ``g`` added at ``index``; repeats accumulate (``cupyx.scatter_add``)."""
    import cupyx

    cupy = _cp()
    index = _plain(index)
    out = cupy.zeros(shape, dtype=g.dtype if dtype is None else dtype)
    if _may_repeat(index):
        cupyx.scatter_add(out, index, g)
    else:
        out[index] = g
    return out


@register("column_sums", "cupy")
def _column_sums_cupy(xp, g):
    return g.sum(axis=0)


@register("own_grad", "cupy")
def _own_grad_cupy(xp, g, handed_out):
    """``g``, or a copy when it is a view or already some leaf's grad."""
    if id(g) in handed_out or not g.flags.owndata:
        g = g.copy()
    return g


@register("im2col", "cupy")
def _im2col_cupy(xp, xpad, out_size, kernel, stride, dilation, ones=False, take=None):
    """The im2col matrix (N·P, k·C [+1]) of a padded channels-last CuPy array.

    The windows are a strided view (``cupy.lib.stride_tricks.as_strided``,
    no copy) copied once into a C-ordered matrix, as in the NumPy entry.
    With few channels the copy runs column by column and the result is a
    transposed view, as there.
    """
    cupy = _cp()
    as_strided = cupy.lib.stride_tricks.as_strided
    xpad = cupy.ascontiguousarray(xpad)
    n, c = xpad.shape[0], xpad.shape[-1]
    positions = n * math.prod(out_size)
    width = math.prod(kernel) * c
    extra = 1 if ones else 0
    rows, columns = window_views(xpad, out_size, kernel, stride, dilation)
    if c > FEW_CHANNELS:
        src = as_strided(xpad, *rows)
        buf = cupy.empty((positions, width + extra), dtype=xpad.dtype)
        buf[:, :width] = src.reshape(positions, width)
        if ones:
            buf[:, -1] = 1
        return buf
    src = as_strided(xpad, *columns)
    buf = cupy.empty((width + extra, positions), dtype=xpad.dtype)
    buf[:width] = src.reshape(width, positions)
    if ones:
        buf[-1] = 1
    return buf.T


# col2im: the NumPy entry's strided adds (one per kernel offset) are CuPy's as well
register("col2im", "cupy")(_col2im_numpy)


# --- random numbers ---------------------------------------------------------
#: id(host generator) -> (host generator, {GPU id: cupy.random.Generator}), the
#: most recently used few (NumPy generators take no weak references)
_DEVICE_GENERATORS: OrderedDict = OrderedDict()
_KEEP = 8


def device_generator(host, device=None):
    """The ``cupy.random.Generator`` tied to host generator ``host`` on ``device``.

    Made the first time, seeded with 64 bits drawn from ``host``, so that
    ``cr.manual_seed(s)`` fixes the GPU's masks too.
    """
    cupy = _cp()
    device = cupy.cuda.Device() if device is None else device
    key = getattr(device, "id", device)
    entry = _DEVICE_GENERATORS.get(id(host))
    if entry is None or entry[0] is not host:
        entry = _DEVICE_GENERATORS[id(host)] = (host, {})
        while len(_DEVICE_GENERATORS) > _KEEP:
            _DEVICE_GENERATORS.popitem(last=False)
    else:
        _DEVICE_GENERATORS.move_to_end(id(host))
    per_host = entry[1]
    gen = per_host.get(key)
    if gen is None:
        seed = int(host.integers(0, 2**63))
        with cupy.cuda.Device(key):
            gen = per_host[key] = cupy.random.default_rng(seed)
    return gen


@register("random_uniform", "cupy")
def _uniform(xp, host, shape, dtype, device):
    cupy = _cp()
    gen = device_generator(host, device)
    with cupy.cuda.Device(getattr(device, "id", device) if device is not None else None):
        return gen.random(shape, dtype=cupy.float32 if dtype is None else dtype)


@register("random_normal", "cupy")
def _normal(xp, host, shape, dtype, device):
    cupy = _cp()
    gen = device_generator(host, device)
    with cupy.cuda.Device(getattr(device, "id", device) if device is not None else None):
        return gen.standard_normal(shape, dtype=cupy.float32 if dtype is None else dtype)
