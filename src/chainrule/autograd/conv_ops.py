"""Convolution primitive and the helpers it shares with pooling: forward and vjp side by side.

Parameter sharing (book §7.9): one small kernel is applied at every
position of the input.  ``conv_nd`` works for any number ``d`` of spatial
dimensions (1 for sequences, 2 for images):

1. move channels last, ``(N, C, *S) -> (N, *S, C)``, and pad;
2. take a strided *view* of every window, shape ``(N, *out, *kernel, C)``,
   with ``numpy.lib.stride_tricks.as_strided`` (no data is copied), and
   copy it once into the im2col matrix;
3. one GEMM with the kernel (and the bias as a column of ones).

Backward: weight and bias gradients are one GEMM against the same matrix;
the stride-1 input gradient is itself a convolution (one im2col, one GEMM);
otherwise col2im loops over the ``prod(kernel)`` kernel offsets (9 for a
3×3 kernel), never over positions or images, adding one strided slab of
gradient per offset.  Pooling (``pool_ops.py``) uses the same slabs.

Layout: inputs and outputs are channels-first as in PyTorch, but results
are channels-last arrays *viewed* as channels-first (a transposed view).
Elementwise ops keep that memory order, so a following conv or pool gets
its channels-last input for free, without a copy.  Large batches are cut
along the batch axis into one part per thread (:func:`batch_parts`), run
at once by ``chainrule._threads.run_parallel``; BLAS keeps whatever thread
count the process has (chainrule never changes it here).
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as _np  # the NumPy variants' stride tricks

from .._backend import device_of, xp
from .._backend import im2col as _windows
from .._backend import kernels as _kernels
from .._backend.im2col import _col2im_numpy, _im2col_numpy
from .._threads import get_num_threads, run_parallel
from ._gemm import matmul
from ._workspace import Lease, workspace
from .engine import primitive

_as_strided = _np.lib.stride_tricks.as_strided  # the NumPy variants only

#: Steps touching fewer array elements than this are not cut into parts
#: (a hand-off to a helper thread costs more than it saves).
SPLIT_MIN = 1 << 19


def batch_parts(n: int, work: int) -> list:
    """Slices of the batch axis to process at once: one per thread, or all of it.

    Args:
        n: batch size.
        work: array elements the step touches (its inputs and outputs).

    The parts depend only on the sizes and :func:`~chainrule.get_num_threads`,
    never on timing, so results are the same from run to run.
    """
    k = min(get_num_threads(), n) if work >= SPLIT_MIN else 1
    if k <= 1:
        return [slice(0, n)]
    cuts = [n * i // k for i in range(k + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(cuts)]


_region = _windows._region  # the slice of a padded axis touched by a kernel offset


def _pad_last(xt, padding, value, take=None):
    """Pad the spatial axes of a channels-last array (N, *S, C).

    The interior is copied once and only the borders are filled.  With
    ``take`` (``Workspace.take``) a padded copy is written into a buffer it
    returns; use :func:`_pad_scratch` to know whether the result is one.
    """
    if not any(lo or hi for lo, hi in padding):
        if take is None or xt.flags.c_contiguous:
            return xp.ascontiguousarray(xt)
        out = take(xt.shape, xt.dtype)
        xp.copyto(out, xt)
        return out
    spatial = xt.shape[1:-1]
    shape = (xt.shape[0],)
    shape += tuple(s + lo + hi for s, (lo, hi) in zip(spatial, padding))
    shape += (xt.shape[-1],)
    out = xp.empty(shape, dtype=xt.dtype) if take is None else take(shape, xt.dtype)
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(spatial, padding))
    out[(slice(None),) + inner] = xt
    for axis, (lo, hi) in enumerate(padding, start=1):
        before = [slice(None)] * out.ndim
        after = [slice(None)] * out.ndim
        before[axis] = slice(0, lo)
        after[axis] = slice(out.shape[axis] - hi, None)
        out[tuple(before)] = value
        out[tuple(after)] = value
    return out


def _pad_scratch(xt, padding, value):
    """:func:`_pad_last` into a workspace buffer: (padded, buffer to give back or None).

    The buffer is None when ``xt`` itself (already contiguous, no padding)
    is returned: it is not the op's to give away.
    """
    xpad = _pad_last(xt, padding, value, take=workspace.take)
    owned = xpad is not xt and xpad.base is None  # a buffer from take, not xt or a view
    return xpad, (xpad if owned else None)


def _crop(xpad, shape, padding):
    """Undo :func:`_pad_last` on a gradient: keep the unpadded interior."""
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(shape[1:-1], padding))
    return xpad[(slice(None),) + inner]


def _out_size(padded, kernel, stride, dilation):
    return tuple(
        (p - d * (k - 1) - 1) // s + 1
        for p, k, s, d in zip(padded, kernel, stride, dilation)
    )


#: Every kernel offset (i, j, ...) in row-major order.
_offsets = _windows.offsets
#: Index into a padded (N, *S, C) array of the inputs seen at an offset.
_slab = _windows.window_slab


@functools.cache
def _last_axes(ndim):
    return (0,) + tuple(range(2, ndim)) + (1,)


@functools.cache
def _first_axes(ndim):
    return (0, ndim - 1) + tuple(range(1, ndim - 1))


def _channels_last(a):
    """(N, C, *S) -> (N, *S, C), a view."""
    return a.transpose(_last_axes(a.ndim))


def _channels_first(a):
    """(N, *S, C) -> (N, C, *S), a view."""
    return a.transpose(_first_axes(a.ndim))


# --------------------------------------------------------------------------
# convolution

#: Inputs with at most this many channels use the "columns" im2col layout.
FEW_CHANNELS = _windows.FEW_CHANNELS


def _im2col(xpad, out_size, kernel, stride, dilation, ones=False, take=None):
    """The im2col matrix of a padded channels-last NumPy input (``kernels`` "im2col" entry)."""
    return _im2col_numpy(xp, xpad, out_size, kernel, stride, dilation, ones=ones, take=take)


def _buffer_of(cols):
    """The buffer :func:`_im2col` wrote ``cols`` into."""
    return cols if cols.base is None else cols.base


def _weight_matrix(weight, bias):
    """The kernel as (C_out, k·C), matching A's columns; the bias as one more column."""
    c_out = weight.shape[0]
    # (C_out, C, *k) -> (C_out, *k, C) -> (C_out, k·C)
    wmat = _channels_last(weight).reshape(c_out, -1)
    if bias is not None:
        wmat = xp.concatenate([wmat, bias.reshape(c_out, 1).astype(wmat.dtype)], axis=1)
    return wmat


def _conv_gemm(xpad, wmat, kernel, with_bias, out_size, stride, dilation, out, here,
               take=None):
    """Convolve a padded channels-last input into ``out`` (N·P, C_out); return A.

    ``here``: compute the product on the calling thread (see ``_gemm``).
    ``take``: where A's buffer comes from (see :func:`_im2col`).
    """
    cols = _im2col(xpad, out_size, kernel, stride, dilation, ones=with_bias, take=take)
    matmul(cols, wmat.T, out=out, here=here)
    return cols


def _transposed_pads(kernel, padding, dilation):
    """Padding that turns the stride-1 input gradient into a convolution, or None."""
    pads = tuple(
        (d * (k - 1) - lo, d * (k - 1) - hi)
        for k, (lo, hi), d in zip(kernel, padding, dilation)
    )
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        return None
    return pads


def _input_grad(gt, weight, out, padding, out_size, stride, dilation, here):
    """Write the gradient of the channels-last input into ``out`` (N, *S, C).

    Stride 1: the input gradient is itself a convolution, of the output
    gradient ``gt`` padded by d·(k-1) - pad with the kernel flipped and its
    channel axes swapped; one im2col and one GEMM.

    Otherwise, col2im: one GEMM per kernel offset gives the gradient
    reaching the inputs seen at that offset, (N, *out, C), which is added
    into the strided slab of those inputs; a loop over the prod(k) offsets,
    never over positions.
    """
    kernel = weight.shape[2:]
    d = len(kernel)
    c = weight.shape[1]
    pads = _transposed_pads(kernel, padding, dilation)
    if pads is not None and all(s == 1 for s in stride):
        flipped = weight[(slice(None), slice(None)) + (slice(None, None, -1),) * d]
        flipped = xp.swapaxes(flipped, 0, 1)  # (C, C_out, *k)
        gpad, scratch = _pad_scratch(gt, pads, 0)
        cols = _conv_gemm(gpad, _weight_matrix(flipped, None), kernel, False,
                          out.shape[1:-1], stride, dilation, out=out.reshape(-1, c),
                          here=here, take=workspace.take)
        # neither copy is seen outside this call
        workspace.give(_buffer_of(cols))
        workspace.give(scratch)
        return
    gmat = gt.reshape(-1, gt.shape[-1])
    # (C_out, C, *k) -> (*k, C_out, C): one (C_out, C) matrix per offset
    per_offset = xp.moveaxis(weight.reshape(weight.shape[0], c, -1), 2, 0)
    dtype = xp.result_type(gmat, per_offset)
    # scratch of this call only, given back below
    slab_buf = workspace.take((len(per_offset),) + gmat.shape[:1] + (c,), dtype)
    xp.matmul(gmat, per_offset, out=slab_buf)  # (k, N·P, C)
    slabs = slab_buf.reshape((len(slab_buf), gt.shape[0]) + tuple(out_size) + (c,))
    shape = out.shape[:1]
    shape += tuple(s + lo + hi for s, (lo, hi) in zip(out.shape[1:-1], padding))
    dpad = workspace.take(shape + (c,), dtype)
    _col2im_numpy(xp, slabs, shape + (c,), out_size, kernel, stride, dilation, out=dpad)
    out[...] = _crop(dpad, out.shape, padding)
    workspace.give(slab_buf)
    workspace.give(dpad)


def _padded_size(spatial, padding):
    return tuple(s + lo + hi for s, (lo, hi) in zip(spatial, padding))


def graph_windows(ns, x, kernel, stride, padding, dilation, fill=0.0):
    """The windows of a channels-first Tensor as composite ops (for ``create_graph``).

    Returns one (N, C, *out) Tensor per kernel offset (row-major), the
    inputs each output position sees there; padding holds ``fill``.  Built
    from ``scatter_add`` and ``getitem``, so differentiable to any order.
    """
    spatial = x.shape[2:]
    padded = _padded_size(spatial, padding)
    if any(lo or hi for lo, hi in padding):
        inner = (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(spatial, padding))
        xpad = ns.scatter(x, x.shape[:2] + padded, inner)
        if fill:
            # a host constant: the engine moves it to x's library and dtype
            border = xp.full(tuple(x.shape[:2]) + padded, fill)
            border[inner] = 0
            xpad = xpad + border
    else:
        xpad = x
    out_size = _out_size(padded, kernel, stride, dilation)
    return [xpad[(slice(None),) + _slab(o, out_size, stride, dilation)]
            for o in _offsets(kernel)]


@primitive
def conv_nd(ns, x, weight, bias=None, stride=(1,), padding=((0, 0),), dilation=(1,)):
    """Cross-correlation of (N, C, *S) with a (C_out, C, *k) kernel, plus bias.

    out[n, o, p] = b[o] + Σ_{c, q} w[o, c, q] · x_pad[n, c, s·p + d·q]
    (what deep-learning libraries call convolution, book §9.1).  ``padding``
    holds one (before, after) pair per spatial axis.

    Forward: im2col (one copy of the windows into a matrix A), one GEMM.
    Backward: weight and bias gradients one GEMM against A; input gradient
    a convolution of the output gradient (stride 1) or col2im.  Large
    batches are cut into parts done at once (:func:`batch_parts`).
    ``ns`` is the array namespace (``engine.py``); under the differentiable
    one the same sum is written with ops (one product per kernel offset).
    """
    if getattr(ns, "differentiable", False):
        slabs = graph_windows(ns, x, weight.shape[2:], stride, padding, dilation)
        last = (0,) + tuple(range(2, x.ndim)) + (1,)  # channels last, for the products
        out = None
        for o, slab in zip(_offsets(weight.shape[2:]), slabs):
            w_o = weight[(slice(None), slice(None)) + tuple(o)]  # (C_out, C)
            term = ns.transpose(slab, last) @ w_o.T
            out = term if out is None else out + term
        if bias is not None:
            out = out + bias
        out = ns.transpose(out, _first_axes(out.ndim))
        return out, ns.vjp_of(out, (x, weight, bias))
    return _conv_generic(ns, x, weight, bias, stride, padding, dilation)


def pad_generic(ns, xt, padding, value):
    """Pad the spatial axes of a channels-last array (N, *S, C), standard names only."""
    if not any(lo or hi for lo, hi in padding):
        return xt
    spatial = tuple(xt.shape[1:-1])
    shape = (xt.shape[0],) + _padded_size(spatial, padding) + (xt.shape[-1],)
    out = ns.full(shape, value, dtype=xt.dtype, device=device_of(xt))
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, padding))
    out[(slice(None),) + inner + (slice(None),)] = xt
    return out


def crop_generic(xpad, spatial, padding):
    """Undo :func:`pad_generic` on a gradient (N, *S_pad, C) -> (N, *S, C)."""
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, padding))
    return xpad[(slice(None),) + inner + (slice(None),)]


def _conv_generic(ns, x, weight, bias, stride, padding, dilation):
    """The convolution in standard names: im2col/col2im kernels and matrix products."""
    n = x.shape[0]
    c = x.shape[1]
    c_out = weight.shape[0]
    kernel = tuple(weight.shape[2:])
    xt = ns.permute_dims(x, _last_axes(x.ndim))
    spatial = tuple(xt.shape[1:-1])
    padded = _padded_size(spatial, padding)
    out_size = _out_size(padded, kernel, stride, dilation)
    xpad = pad_generic(ns, xt, padding, 0.0)
    cols = _kernels.kernel("im2col", ns)(ns, xpad, out_size, kernel, stride, dilation)
    wmat = ns.reshape(ns.permute_dims(weight, _last_axes(weight.ndim)), (c_out, -1))
    out = cols @ ns.matrix_transpose(wmat)
    if bias is not None:
        out = out + bias
    out = ns.reshape(out, (n,) + out_size + (c_out,))

    def vjp(g, need):
        gmat = ns.reshape(ns.permute_dims(g, _last_axes(g.ndim)), (-1, c_out))
        gx = gw = gb = None
        if need[1]:
            gw = ns.reshape(ns.matrix_transpose(gmat) @ cols, (c_out,) + kernel + (c,))
            gw = ns.permute_dims(gw, _first_axes(gw.ndim))
        if len(need) > 2 and need[2]:
            gb = ns.sum(gmat, axis=0)
        if need[0]:
            k = len(_offsets(kernel))
            gcols = ns.reshape(gmat @ wmat, (n,) + out_size + (k, c))
            slabs = ns.moveaxis(gcols, -2, 0)  # (K, N, *out, C)
            shape = (n,) + padded + (c,)
            dpad = _kernels.kernel("col2im", ns)(ns, slabs, shape, out_size, kernel, stride,
                                                 dilation)
            gx = ns.permute_dims(crop_generic(dpad, spatial, padding), _first_axes(x.ndim))
        return gx, gw, gb

    return ns.permute_dims(out, _first_axes(out.ndim)), vjp


@conv_nd.variant("numpy")
def _conv_nd_numpy(ns, x, weight, bias=None, stride=(1,), padding=((0, 0),), dilation=(1,)):
    """NumPy's convolution: strided im2col into workspace buffers, blocked GEMMs,
    batch parts on several threads (module doc)."""
    n = x.shape[0]
    c_out = weight.shape[0]
    kernel = weight.shape[2:]
    with_bias = bias is not None
    xt = _channels_last(x)
    out_size = _out_size(_padded_size(xt.shape[1:-1], padding), kernel, stride, dilation)
    wmat = _weight_matrix(weight, bias)
    dtype = xp.result_type(x, wmat)
    out = xp.empty((n,) + out_size + (c_out,), dtype=dtype)
    # work: elements of the im2col matrix and of the output
    parts = batch_parts(n, n * math.prod(out_size) * (wmat.shape[1] + c_out))
    here = len(parts) > 1  # parts run at once: each product on its own thread

    def forward(part):
        xpad, scratch = _pad_scratch(xt[part], padding, 0)
        rows = out[part].reshape(-1, c_out)
        cols = _conv_gemm(xpad, wmat, kernel, with_bias, out_size, stride, dilation, rows,
                          here, take=workspace.take)
        workspace.give(scratch)  # read by im2col only
        return cols

    cols = run_parallel(forward, parts)
    # the vjp reads the im2col matrices; they go back when it is freed
    lease = Lease(workspace, [_buffer_of(c) for c in cols])
    result = _channels_first(out)

    def vjp(g, need, lease=lease):
        gt = _channels_last(g)
        gx = xp.empty(xt.shape, dtype=g.dtype) if need[0] else None

        def backward(i):
            gpart, gcopy = _pad_scratch(gt[parts[i]], (), 0)
            gfull = None
            if need[1] or need[2]:
                # (C_out, k·C [+1])
                gfull = matmul(gpart.reshape(-1, c_out).T, cols[i], here=here)
            if need[0]:
                _input_grad(gpart, weight, gx[parts[i]], padding, out_size, stride, dilation,
                            here)
            workspace.give(gcopy)  # read by the products above only
            return gfull

        partial = run_parallel(backward, range(len(parts)))
        gw = gb = None
        if need[1] or need[2]:
            gfull = partial[0]
            for more in partial[1:]:
                gfull = gfull + more
            if need[1]:
                gw = gfull[:, : gfull.shape[1] - with_bias]
                gw = gw.reshape((c_out,) + tuple(kernel) + (x.shape[1],))
                gw = xp.ascontiguousarray(_channels_first(gw))
            if need[2]:
                gb = gfull[:, -1].copy()
        return (None if gx is None else _channels_first(gx)), gw, gb

    return result, vjp
