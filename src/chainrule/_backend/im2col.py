"""im2col / col2im: the windows of convolution and pooling, as kernel entries.

``im2col`` gathers, for every output position, the input window it sees
(a strided view on NumPy and CuPy, standard slicing elsewhere); ``col2im``
adds per-offset slabs back into a padded input (the vjp).  The NumPy entry
serves CuPy too (``_cupy.py`` registers it), since both take the same
strided adds.
"""

from __future__ import annotations

from ._registry import register


def _device(a):
    from . import device_of

    return device_of(a)

def _region(start, size, step):
    return slice(start, start + step * (size - 1) + 1, step)


def window_slab(offset, out, stride, dilation):
    """Index into a padded (N, *S, C) array of the inputs seen at kernel ``offset``."""
    return (slice(None),) + tuple(
        _region(o * d, n, s) for o, n, s, d in zip(offset, out, stride, dilation)
    ) + (Ellipsis,)


def offsets(kernel):
    """Every kernel offset (i, j, ...) in row-major order."""
    import itertools

    return list(itertools.product(*(range(k) for k in kernel)))


#: Inputs with at most this many channels use the "columns" im2col layout.
FEW_CHANNELS = 4


def window_views(xpad, out_size, kernel, stride, dilation):
    """``(shape, strides)`` of the two strided views of im2col's windows over a padded
    channels-last array (strides in bytes, as ``as_strided`` takes them): by rows,
    ``(N, *out, *kernel, C)``, and by columns, ``(*kernel, C, N, *out)``."""
    n, c = xpad.shape[0], xpad.shape[-1]
    st = xpad.strides
    spatial = st[1:-1]
    out_strides = tuple(s * t for s, t in zip(stride, spatial))
    kernel_strides = tuple(d * t for d, t in zip(dilation, spatial))
    rows = ((n, *out_size, *kernel, c), (st[0], *out_strides, *kernel_strides, st[-1]))
    columns = ((*kernel, c, n, *out_size), (*kernel_strides, st[-1], st[0], *out_strides))
    return rows, columns


@register("im2col", "numpy")
def _im2col_numpy(xp, xpad, out_size, kernel, stride, dilation, ones=False, take=None):
    """The im2col matrix A (N·P, k·C [+1]) of a padded channels-last input.

    Row p holds the window of output position p, column k·C + c its
    channel c at kernel offset k.  With ``ones`` a last column of ones is
    appended (the bias rides in the GEMM).  Many channels: A row by row,
    one strided copy; few channels: column by column, A is then a
    transposed (Fortran-ordered) view.  ``take(shape, dtype)`` gives the
    buffer (a workspace), fresh arrays when None.
    """
    import math

    as_strided = xp.lib.stride_tricks.as_strided
    if take is None:
        def take(shape, dtype):
            return xp.empty(shape, dtype=dtype)
    n, c = xpad.shape[0], xpad.shape[-1]
    positions = n * math.prod(out_size)
    width = math.prod(kernel) * c
    extra = 1 if ones else 0
    rows, columns = window_views(xpad, out_size, kernel, stride, dilation)
    if c > FEW_CHANNELS:
        src = as_strided(xpad, *rows, writeable=False)
        buf = take((positions, width + extra), xpad.dtype)
        item = buf.itemsize
        row = buf.strides[0]
        dst_strides = tuple(row * math.prod(out_size[i + 1:]) for i in range(-1, len(out_size)))
        dst_strides += tuple(c * item * math.prod(kernel[i + 1:]) for i in range(len(kernel)))
        dst_strides += (item,)
        dst = as_strided(buf, src.shape, dst_strides)
        xp.copyto(dst, src)
        if ones:
            buf[:, -1] = 1
        return buf
    src = as_strided(xpad, *columns, writeable=False)
    buf = take((width + extra, positions), xpad.dtype)
    xp.copyto(buf[:width].reshape(src.shape), src)
    if ones:
        buf[-1] = 1
    return buf.T


@register("im2col", "generic")
def _im2col_generic(xp, xpad, out_size, kernel, stride, dilation, ones=False, take=None):
    """Standard-only im2col: the window slabs stacked, (N·P, k·C [+1])."""
    import math

    n, c = xpad.shape[0], xpad.shape[-1]
    slabs = [xpad[window_slab(o, out_size, stride, dilation)] for o in offsets(kernel)]
    cols = xp.stack(slabs, axis=-2)  # (N, *out, K, C)
    cols = xp.reshape(cols, (n * math.prod(out_size), len(slabs) * c))
    if ones:
        cols = xp.concat([cols, xp.ones((cols.shape[0], 1), dtype=cols.dtype,
                                        device=_device(cols))], axis=1)
    return cols


@register("col2im", "numpy")
def _col2im_numpy(xp, slabs, padded_shape, out_size, kernel, stride, dilation, out=None):
    """Sum per-offset slabs (K, N, *out, C) into a padded (N, *S, C) array (``out`` if given)."""
    if out is None:
        out = xp.zeros(padded_shape, dtype=slabs.dtype)
    else:
        out.fill(0)
    for slab, o in zip(slabs, offsets(kernel)):
        out[window_slab(o, out_size, stride, dilation)] += slab
    return out


@register("col2im", "generic")
def _col2im_generic(xp, slabs, padded_shape, out_size, kernel, stride, dilation, out=None):
    out = xp.zeros(padded_shape, dtype=slabs.dtype, device=_device(slabs))
    for k, o in enumerate(offsets(kernel)):
        idx = window_slab(o, out_size, stride, dilation)
        out[idx] = out[idx] + slabs[k, ...]
    return out
