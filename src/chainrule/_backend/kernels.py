"""The per-backend kernel table: what the array API standard cannot say.

A *kernel* is a named operation with one entry per backend:

- ``"numpy"``: the reference entry, free to use NumPy's extras (``out=``,
  ``np.add.at``, stride tricks) for speed;
- ``"cupy"``: the CuPy entry (``ElementwiseKernel``s, ``cupyx.scatter_add``),
  registered lazily from ``_cupy.py`` the first time a CuPy namespace asks;
- ``"generic"``: the standard-only entry that serves every other library
  (array_api_strict, torch through array-api-compat), and NumPy/CuPy too
  when they have no entry of their own.

Elementwise formulas (optimiser updates, fused activations) are not kept
here: each is written once for one element and compiled, fused or run as
plain array operations by :mod:`chainrule._backend.fused`.

Every entry takes the namespace first: ``kernel("scatter_add", xp)(xp, ...)``.
Lookups are cached per (name, namespace), so a hot path pays one dict lookup.
"""

from __future__ import annotations

from . import backend_name
from ._indexing import _int_array, _is_bool, _may_repeat
from ._registry import _CACHE, _TABLE, register, registered
from .im2col import window_views  # noqa: F401  (importing it registers im2col/col2im)

__all__ = ["kernel", "register", "registered"]

_cupy_loaded = False


def _load_cupy():
    global _cupy_loaded
    if not _cupy_loaded:
        _cupy_loaded = True
        from . import _cupy  # noqa: F401  (registers the CuPy entries)


def kernel(name: str, xp):
    """The entry of kernel ``name`` that serves namespace ``xp``."""
    key = (name, id(xp))
    try:
        return _CACHE[key]
    except KeyError:
        pass
    backend = backend_name(xp)
    if backend == "cupy":
        _load_cupy()
    entries = _TABLE.get(name)
    if not entries:
        raise KeyError(f"no kernel named {name!r}")
    fn = entries.get(backend) or entries.get("generic")
    if fn is None:
        raise NotImplementedError(
            f"kernel {name!r} has no entry for the {backend} backend and no generic entry"
        )
    _CACHE[key] = fn
    return fn


# --------------------------------------------------------------------------
# helpers shared by the entries below


def _move_index(xp, index, device):
    """``index`` with its host (NumPy) array parts moved to namespace ``xp``."""
    import numpy

    from . import from_host

    def move(part):
        if isinstance(part, (numpy.ndarray, list)):
            return from_host(part, xp, device)
        return part

    if isinstance(index, tuple):
        return tuple(move(p) for p in index)
    return move(index)


def _device(a):
    from . import device_of

    return device_of(a)


def _expand_ellipsis(index, ndim):
    """``index`` as a tuple of ints, slices, None and arrays, with ``...`` expanded."""
    parts = index if isinstance(index, tuple) else (index,)
    used = sum(1 for p in parts if p is not None and p is not Ellipsis
               and not (_int_array(p) and _is_bool(p)))
    used += sum(p.ndim for p in parts if _int_array(p) and _is_bool(p))
    out = []
    seen = False
    for p in parts:
        if p is Ellipsis and not seen:
            out.extend([slice(None)] * (ndim - used))
            seen = True
        else:
            out.append(p)
    if not seen:
        out.extend([slice(None)] * (ndim - used))
    return tuple(out)


def _complete(index):
    """A basic index with a trailing ``...`` (the standard wants every axis named)."""
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) == 1 and _int_array(parts[0]) and _is_bool(parts[0]):
        return index  # a mask stands alone
    if any(p is Ellipsis for p in parts):
        return parts
    return (*parts, Ellipsis)


def _advanced_plan(xp, shape, index):
    """How the generic entries do NumPy's integer-array indexing with standard functions.

    Returns ``(basic, lo, hi, idx)`` or None when ``index`` has no integer
    arrays: ``basic`` is ``index`` with the array parts made full slices (a
    standard basic index), axes ``lo:hi`` of ``a[basic]`` are the indexed
    ones, ``idx`` the flat (broadcast, non-negative) positions in them.
    """
    parts = _expand_ellipsis(index, len(shape))
    arrays = [i for i, p in enumerate(parts) if _int_array(p) and not _is_bool(p)]
    if not arrays:
        return None
    if any(p is None or isinstance(p, int) or (_int_array(p) and _is_bool(p))
           for p in parts):
        raise NotImplementedError(
            "indexing with integer arrays on a non-NumPy namespace supports only "
            "integer arrays and slices in the index (no ints, None or masks beside them)"
        )
    lo, hi = arrays[0], arrays[-1] + 1
    if arrays != list(range(lo, hi)):
        raise NotImplementedError(
            "indexing with integer arrays on a non-NumPy namespace needs the arrays on "
            "adjacent axes"
        )
    basic = tuple(slice(None) if i in arrays else p for i, p in enumerate(parts))
    # shape of a[basic]: slices only, so each axis keeps its place
    sub = []
    for n, p in zip(shape, parts):
        sub.append(n if not isinstance(p, slice) else len(range(*p.indices(n))))
    idx = xp.broadcast_arrays(*[parts[i] for i in arrays])
    flat = None
    for k, i in enumerate(arrays):
        pos = xp.astype(idx[k], xp.int64)
        pos = xp.where(pos < 0, pos + sub[i], pos)
        flat = pos if flat is None else flat * sub[i] + pos
    return basic, lo, hi, tuple(sub), flat


# --------------------------------------------------------------------------
# gather: a[index] with NumPy's indexing rules


@register("gather", "numpy")
def _gather_numpy(xp, a, index):
    return a[index]


@register("gather", "generic")
def _gather_generic(xp, a, index):
    """``a[index]``: basic indexing and one boolean mask as the library does them;
    integer arrays (on adjacent axes, beside slices) through ``xp.take``."""
    index = _move_index(xp, index, _device(a))
    plan = _advanced_plan(xp, a.shape, index)
    if plan is None:
        return a[_complete(index)]
    basic, lo, hi, sub, flat = plan
    b = a[basic]
    pre, post = sub[:lo], sub[hi:]
    b = xp.reshape(b, pre + (-1,) + post) if b.ndim else b
    out = xp.take(b, xp.reshape(flat, (-1,)), axis=lo)
    return xp.reshape(out, pre + tuple(flat.shape) + post)


# --------------------------------------------------------------------------
# scatter_add: zeros of ``shape`` with ``g`` added at ``index``, repeats accumulating


@register("scatter_add", "numpy")
def _scatter_add_numpy(xp, g, shape, index, dtype=None):
    """``np.add.at`` where an integer array may name an element twice, else a plain store."""
    out = xp.zeros(shape, dtype=g.dtype if dtype is None else dtype)
    if _may_repeat(index):
        xp.add.at(out, index, g)
    else:
        out[index] = g
    return out


def segment_sum(xp, values, positions, size):
    """Rows of ``values`` (L, ...) summed into ``size`` rows by ``positions`` (L,) ints.

    Standard-only, repeats accumulate (``np.add.at`` semantics): a one-hot
    (size, L) matrix times ``values``, one product.
    """
    rest = values.shape[1:]
    v2 = xp.reshape(values, (values.shape[0], -1))
    rows = xp.arange(size, dtype=positions.dtype, device=_device(values))
    onehot = xp.astype(xp.equal(xp.reshape(rows, (-1, 1)), xp.reshape(positions, (1, -1))),
                       values.dtype)
    return xp.reshape(xp.matmul(onehot, v2), (size,) + tuple(rest))


@register("scatter_add", "generic")
def _scatter_add_generic(xp, g, shape, index, dtype=None):
    """Standard-only scatter-add: a store for basic indices, a cumulative-sum gather for a
    boolean mask, and :func:`segment_sum` (repeats accumulate) for integer arrays."""
    dtype = g.dtype if dtype is None else dtype
    dev = _device(g)
    index = _move_index(xp, index, dev)
    shape = tuple(shape)
    out = xp.zeros(shape, dtype=dtype, device=dev)
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) == 1 and _int_array(parts[0]) and _is_bool(parts[0]):
        mask = parts[0]
        # entry k of g goes to the k-th True of the mask (row-major)
        m = xp.reshape(mask, (-1,))
        pos = xp.cumulative_sum(xp.astype(m, xp.int64)) - 1
        pos = xp.where(m, pos, 0)
        rest = shape[mask.ndim:]
        gflat = xp.reshape(g, (-1,) + rest)
        if gflat.shape[0] == 0:
            return out
        picked = xp.take(gflat, pos, axis=0)
        keep = xp.reshape(m, (-1,) + (1,) * len(rest))
        vals = xp.where(keep, picked, xp.zeros_like(picked))
        return xp.reshape(vals, shape)
    plan = _advanced_plan(xp, shape, index)
    if plan is None:
        index = _complete(index)
        if any(p is None for p in index):
            # None (a new axis) is not allowed when storing: drop it, and g's 1-axes with it
            index = tuple(p for p in index if p is not None)
            g = xp.reshape(g, tuple(out[index].shape))
        out[index] = g
        return out
    basic, lo, hi, sub, flat = plan
    pre, post = sub[:lo], sub[hi:]
    size = 1
    for n in sub[lo:hi]:
        size *= n
    # g: pre + flat.shape + post -> (L, pre..., post...) rows to sum by position
    g2 = xp.reshape(g, pre + (-1,) + post)
    g2 = xp.moveaxis(g2, lo, 0)
    summed = segment_sum(xp, g2, xp.reshape(flat, (-1,)), size)  # (size, pre, post)
    summed = xp.moveaxis(summed, 0, lo)
    out[basic] = xp.reshape(summed, sub)
    return out


# --------------------------------------------------------------------------
# column sums and rows reductions (the bias gradient, softmax's row max and sums)


@register("column_sums", "numpy")
def _column_sums_numpy(xp, g):
    """``g.sum(axis=0)`` of a 2-D array; float32 as one product with ones (BLAS)."""
    if g.dtype.kind != "f":
        return xp.add.reduce(g, axis=0)
    return xp.matmul(_ones(g.shape[0], g.dtype), g)


@register("column_sums", "generic")
def _column_sums_generic(xp, g):
    return xp.sum(g, axis=0)


_ONES: dict = {}


def _ones(n, dtype):
    """A cached read-only NumPy vector of ``n`` ones."""
    key = (n, dtype)
    v = _ONES.get(key)
    if v is None:
        import numpy

        v = numpy.ones(n, dtype=dtype)
        v.flags.writeable = False
        if len(_ONES) > 64:
            _ONES.clear()
        _ONES[key] = v
    return v


def _rows_last(z, axis) -> bool:
    return z.ndim == 2 and axis in (1, -1) and z.dtype.kind == "f"


@register("max_keep", "numpy")
def _max_keep_numpy(xp, z, axis):
    """``z.max(axis, keepdims=True)``; for the rows of a float matrix a column max of
    the transposed copy (short rows) or the argmax entries (long rows): faster."""
    if not _rows_last(z, axis):
        return z.max(axis=axis, keepdims=True)
    n, c = z.shape
    if c <= 32:
        return z.T.copy().max(axis=0)[:, None]
    return z[xp.arange(n), z.argmax(axis=1)][:, None]


@register("max_keep", "generic")
def _max_keep_generic(xp, z, axis):
    return xp.max(z, axis=axis, keepdims=True)


@register("sum_keep", "numpy")
def _sum_keep_numpy(xp, z, axis):
    """``z.sum(axis, keepdims=True)``; rows of a float matrix as one product with ones."""
    if not _rows_last(z, axis):
        return z.sum(axis=axis, keepdims=True)
    return (z @ _ones(z.shape[1], z.dtype))[:, None]


@register("sum_keep", "generic")
def _sum_keep_generic(xp, z, axis):
    return xp.sum(z, axis=axis, keepdims=True)


# --------------------------------------------------------------------------
# a leaf's gradient: its own writable array


@register("own_grad", "numpy")
def _own_grad_numpy(xp, g, handed_out):
    """``g``, or a copy when it is a view, read-only, or already some leaf's grad."""
    flags = getattr(g, "flags", None)
    if flags is None or id(g) in handed_out or not (flags.owndata and flags.writeable):
        g = xp.array(g)
    return g


@register("own_grad", "generic")
def _own_grad_generic(xp, g, handed_out):
    """Always a copy: views cannot be told apart in the standard."""
    return xp.asarray(g, copy=True)
