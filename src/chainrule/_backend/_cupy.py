"""CuPy entries of the kernel table (imported only when a CuPy namespace asks).

Each entry registered here has a NumPy reference entry in ``kernels.py`` or
beside the op that uses it; the GPU check (``benchmarks/gpu_check.py``)
runs the conformance tests with CuPy to compare them.
"""

from __future__ import annotations

import math

from .kernels import FEW_CHANNELS, _may_repeat, offsets, register, window_slab


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
    st = xpad.strides
    spatial = st[1:-1]
    out_strides = tuple(s * t for s, t in zip(stride, spatial))
    kernel_strides = tuple(d * t for d, t in zip(dilation, spatial))
    if c > FEW_CHANNELS:
        src = as_strided(xpad, (n,) + tuple(out_size) + tuple(kernel) + (c,),
                         (st[0],) + out_strides + kernel_strides + (st[-1],))
        buf = cupy.empty((positions, width + extra), dtype=xpad.dtype)
        buf[:, :width] = src.reshape(positions, width)
        if ones:
            buf[:, -1] = 1
        return buf
    src = as_strided(xpad, tuple(kernel) + (c, n) + tuple(out_size),
                     kernel_strides + (st[-1], st[0]) + out_strides)
    buf = cupy.empty((width + extra, positions), dtype=xpad.dtype)
    buf[:width] = src.reshape(width, positions)
    if ones:
        buf[-1] = 1
    return buf.T


@register("col2im", "cupy")
def _col2im_cupy(xp, slabs, padded_shape, out_size, kernel, stride, dilation, out=None):
    """Sum per-offset slabs (K, N, *out, C) into a padded (N, *S, C) array: one strided
    add per kernel offset, never a loop over positions."""
    cupy = _cp()
    if out is None:
        out = cupy.zeros(padded_shape, dtype=slabs.dtype)
    else:
        out.fill(0)
    for k, o in enumerate(offsets(kernel)):
        out[window_slab(o, out_size, stride, dilation)] += slabs[k]
    return out
