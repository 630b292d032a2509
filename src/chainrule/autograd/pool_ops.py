"""Pooling primitives (book §9.3): the max or the mean of each window.

Both work for any number of spatial dimensions on channels-first input
(N, C, *S), stored channels-last inside like ``conv_ops``.  A window
reduction is a running ``maximum`` (or sum) over the ``prod(kernel)``
strided slabs of the padded input, one per kernel offset; the backward
passes loop over the same offsets, never over positions or images.  Max
pooling cuts large batches into parts done at once, like ``conv_ops``.
"""

from __future__ import annotations

import math

from .._backend import device_of, from_host, xp
from .._backend import kernels as _kernels
from .._threads import run_parallel
from ._workspace import Lease, workspace
from .conv_ops import (
    _channels_first,
    _channels_last,
    _crop,
    _first_axes,
    _last_axes,
    _offsets,
    _out_size,
    _pad_last,
    _pad_scratch,
    _padded_size,
    _slab,
    batch_parts,
    crop_generic,
    graph_windows,
    pad_generic,
)
from .engine import primitive


def _disjoint(kernel, stride, dilation):
    """Whether every input is read by at most one (window, offset)."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


@primitive
def max_pool_nd(ns, x, kernel_size=(1,), stride=(1,), padding=((0, 0),), dilation=(1,)):
    """Max over each window of (N, C, *S); padding counts as -inf.

    The gradient goes to the maximum of each window; among tied maxima to
    the first in row-major window order (as PyTorch's argmax does).  A
    window holding a NaN has a NaN max; its gradient goes to the window's
    last element (PyTorch sends it to the NaN).
    Forward: a running ``maximum`` over the prod(k) strided slabs, one per
    kernel offset.  Backward: one pass per offset, routing the gradient to
    the slab entries equal to the max and not yet claimed.  Large batches
    are cut into parts done at once (``conv_ops.batch_parts``).
    Under the differentiable namespace ``ns`` it is the max of the stacked
    window slabs, as ops (for ``create_graph``).
    """
    kernel = tuple(kernel_size)
    if getattr(ns, "differentiable", False):
        slabs = graph_windows(ns, x, kernel, stride, padding, dilation, fill=-xp.inf)
        out = ns.stack(slabs, axis=0).max(axis=0)
        return out, ns.vjp_of(out, (x,))
    # standard names only (array_api_strict, torch, CuPy); NumPy's variant below
    xt = ns.permute_dims(x, _last_axes(x.ndim))
    spatial = tuple(xt.shape[1:-1])
    padded = _padded_size(spatial, padding)
    out_size = _out_size(padded, kernel, stride, dilation)
    xpad = pad_generic(ns, xt, padding, -math.inf)
    slabs = [xpad[_slab(o, out_size, stride, dilation)] for o in _offsets(kernel)]
    best = slabs[0]
    for slab in slabs[1:]:
        best = ns.maximum(best, slab)

    def vjp(g, need):
        gt = ns.permute_dims(g, _last_axes(g.ndim))
        free = ns.ones(best.shape, dtype=ns.bool, device=device_of(best))
        parts = []
        for k, slab in enumerate(slabs):
            if k < len(slabs) - 1:
                hit = ns.logical_and(slab == best, free)
                free = ns.logical_and(free, ns.logical_not(hit))
            else:
                hit = free  # the max is at none of the earlier offsets (or a NaN window)
            parts.append(gt * ns.astype(hit, gt.dtype))
        shape = (x.shape[0],) + padded + (x.shape[1],)
        dpad = _kernels.kernel("col2im", ns)(ns, ns.stack(parts, axis=0), shape, out_size,
                                             kernel, stride, dilation)
        return (ns.permute_dims(crop_generic(dpad, spatial, padding), _first_axes(x.ndim)),)

    return ns.permute_dims(best, _first_axes(best.ndim)), vjp


@max_pool_nd.variant("numpy")
def _max_pool_nd_numpy(ns, x, kernel_size=(1,), stride=(1,), padding=((0, 0),),
                       dilation=(1,)):
    """NumPy's max pooling: running maxima into one array, batch parts on threads."""
    kernel = tuple(kernel_size)
    n = x.shape[0]
    xt = _channels_last(x)
    padded = _padded_size(xt.shape[1:-1], padding)
    out_size = _out_size(padded, kernel, stride, dilation)
    slabs = [_slab(o, out_size, stride, dilation) for o in _offsets(kernel)]
    out = xp.empty((n,) + out_size + xt.shape[-1:], dtype=x.dtype)
    parts = batch_parts(n, x.size + out.size)

    def forward(part):
        xpad, scratch = _pad_scratch(xt[part], padding, -xp.inf)
        best = out[part]
        if len(slabs) == 1:
            xp.copyto(best, xpad[slabs[0]])
        else:
            xp.maximum(xpad[slabs[0]], xpad[slabs[1]], out=best)
        for slab in slabs[2:]:
            xp.maximum(best, xpad[slab], out=best)
        return xpad, scratch

    xpads, scratches = zip(*run_parallel(forward, parts))
    # the vjp reads the padded copies; they go back when it is freed
    lease = Lease(workspace, [b for b in scratches if b is not None])
    disjoint = _disjoint(kernel, stride, dilation)
    # windows side by side, covering every input once: each is written once
    tiled = disjoint and all(
        s == d * (k - 1) + 1 and o * s == p
        for k, s, d, o, p in zip(kernel, stride, dilation, out_size, padded)
    )

    def vjp(g, need, lease=lease):
        gt = _channels_last(g)
        shape = (n,) + padded + xt.shape[-1:]
        dpad = xp.empty(shape, dtype=g.dtype) if tiled else xp.zeros(shape, dtype=g.dtype)

        def backward(i):
            # one transposing copy if g came channels-first (e.g. from Flatten)
            gpart, gcopy = _pad_scratch(gt[parts[i]], (), 0)
            best = out[parts[i]]
            xpad, dest = xpads[i], dpad[parts[i]]
            # scratch masks, given back below
            free_buf = free = workspace.take(best.shape, bool)  # max not yet routed
            hit_buf = hit = workspace.take(best.shape, bool)
            last = len(slabs) - 1
            for k, slab in enumerate(slabs):
                if k == 0:
                    xp.equal(xpad[slab], best, out=hit)
                    xp.logical_not(hit, out=free)
                elif k < last:
                    xp.equal(xpad[slab], best, out=hit)
                    hit &= free
                    free ^= hit
                else:
                    # the max is at none of the earlier offsets, so it is here
                    # (a NaN window also ends here: its gradient goes last)
                    hit = free
                if disjoint:
                    xp.multiply(gpart, hit, out=dest[slab])
                else:
                    dest[slab] += gpart * hit
            for buf in (free_buf, hit_buf, gcopy):
                workspace.give(buf)

        run_parallel(backward, range(len(parts)))
        return (_channels_first(_crop(dpad, xt.shape, padding)),)

    return _channels_first(out), vjp


@primitive
def avg_pool_nd(ns, x, kernel_size=(1,), stride=(1,), padding=((0, 0),),
                count_include_pad=True):
    """Mean over each window of (N, C, *S); padding counts as zeros.

    With ``count_include_pad`` the divisor is always prod(kernel) (PyTorch's
    default); without it, only the unpadded elements of a window count.
    Under the differentiable namespace ``ns``: the sum of the window slabs
    over the same count, as ops (for ``create_graph``).
    """
    kernel = tuple(kernel_size)
    d = len(kernel)
    ones = (1,) * d
    if getattr(ns, "differentiable", False):
        slabs = graph_windows(ns, x, kernel, stride, padding, ones)
        total = slabs[0]
        for slab in slabs[1:]:
            total = total + slab
        if count_include_pad or not any(lo or hi for lo, hi in padding):
            out = total / float(math.prod(kernel))
        else:
            # a host constant: the engine moves it to x's library and dtype
            mask = _pad_last(xp.ones((1,) + tuple(x.shape[2:]) + (1,)), padding, 0)
            out_size = _out_size(mask.shape[1:-1], kernel, stride, ones)
            count = sum(mask[_slab(o, out_size, stride, ones)] for o in _offsets(kernel))
            out = total / _channels_first(count)
        return out, ns.vjp_of(out, (x,))
    # standard names only (array_api_strict, torch, CuPy); NumPy's variant below
    xt = ns.permute_dims(x, _last_axes(x.ndim))
    spatial = tuple(xt.shape[1:-1])
    padded = _padded_size(spatial, padding)
    out_size = _out_size(padded, kernel, stride, ones)
    xpad = pad_generic(ns, xt, padding, 0.0)
    slabs = [xpad[_slab(o, out_size, stride, ones)] for o in _offsets(kernel)]
    total = slabs[0]
    for slab in slabs[1:]:
        total = total + slab
    if count_include_pad or not any(lo or hi for lo, hi in padding):
        count = float(math.prod(kernel))
    else:
        # elements of each window that are real input: a padded mask of ones, on the host
        mask = _pad_last(xp.ones((1,) + spatial + (1,)), padding, 0)
        host = sum(mask[_slab(o, out_size, stride, ones)] for o in _offsets(kernel))
        count = from_host(host, ns, device_of(x), x.dtype)
    out = total / count

    def vjp(g, need):
        share = ns.permute_dims(g, _last_axes(g.ndim)) / count
        parts = ns.stack([share] * len(slabs), axis=0)
        shape = (x.shape[0],) + padded + (x.shape[1],)
        dpad = _kernels.kernel("col2im", ns)(ns, parts, shape, out_size, kernel, stride, ones)
        return (ns.permute_dims(crop_generic(dpad, spatial, padding), _first_axes(x.ndim)),)

    return ns.permute_dims(out, _first_axes(out.ndim)), vjp


@avg_pool_nd.variant("numpy")
def _avg_pool_nd_numpy(ns, x, kernel_size=(1,), stride=(1,), padding=((0, 0),),
                       count_include_pad=True):
    """NumPy's average pooling: in-place sums of the window slabs."""
    kernel = tuple(kernel_size)
    ones = (1,) * len(kernel)
    xt = _channels_last(x)
    xpad = _pad_last(xt, padding, 0)
    out_size = _out_size(xpad.shape[1:-1], kernel, stride, ones)
    slabs = [_slab(o, out_size, stride, ones) for o in _offsets(kernel)]
    total = xp.array(xpad[slabs[0]])
    for slab in slabs[1:]:
        total += xpad[slab]
    padded = any(lo or hi for lo, hi in padding)
    if count_include_pad or not padded:
        count = xp.asarray(math.prod(kernel), dtype=x.dtype)
    else:
        # elements of each window that are real input: sum a padded mask of ones
        mask = _pad_last(xp.ones((1,) + xt.shape[1:-1] + (1,), dtype=x.dtype), padding, 0)
        count = sum(mask[slab] for slab in slabs)
    out = total / count
    disjoint = _disjoint(kernel, stride, ones)

    def vjp(g, need):
        share = xp.ascontiguousarray(_channels_last(g)) / count
        dpad = xp.zeros(xpad.shape, dtype=g.dtype)
        for slab in slabs:
            if disjoint:
                dpad[slab] = share
            else:
                dpad[slab] += share
        return (_channels_first(_crop(dpad, xt.shape, padding)),)

    return _channels_first(out.astype(x.dtype, copy=False)), vjp
