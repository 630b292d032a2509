"""Every primitive: its forward and its vector-Jacobian product, side by side.

Each function here takes the array namespace ``xp`` and its inputs and
returns ``(out, vjp)``; the ``@primitive`` decorator makes it an op on Tensors
(see ``engine.py``).  Forward and vjp are written once against ``xp``: NumPy
on the fast path, chainrule's differentiable ops (``GRAPH``) when a
``create_graph=True`` backward re-runs the forward on Tensors, which makes
every vjp differentiable again.  Fused ops whose fast vjp works in place
(``linear``, the softmax family, the losses) give, under ``GRAPH``, their
formula as composite ops and differentiate that (``GRAPH.vjp_of``).
Adding an op means adding one function here and one case to
``tests/autograd/test_gradcheck.py`` (a test fails for a primitive without one).
Composite ops (mse, prelu, nll...) are built from these and need no vjp.
"""

from __future__ import annotations

import builtins
import functools

from .._backend import xp
from ._gemm import matmul as _gemm
from ._namespace import GRAPH
from .engine import primitive

_raw_xp = xp  # the raw namespace, for constants computed inside GRAPH branches

# --------------------------------------------------------------------------
# fast reductions along short rows
#
# NumPy's float32 reductions along the last axis of an (N, C) array are slow
# when C is small (a row max costs more than the rest of a softmax).  The
# helpers below give the same values faster: the max of a transposed copy
# reduced down its columns, vectorised across rows, or for long rows the
# entries argmax picks; sums as products with a vector of ones, one BLAS
# call (BLAS accumulates as accurately as NumPy's pairwise sum here).
# BENCHMARKS.md has the measurements.


@functools.lru_cache(maxsize=64)
def _ones(n: int, dtype) -> xp.ndarray:
    """A read-only vector of n ones (cached: sums are products with it)."""
    v = xp.ones(n, dtype=dtype)
    v.flags.writeable = False
    return v


def _rows_last(z, axis) -> bool:
    """Whether ``axis`` is the last axis of a 2-D float array (the fast case)."""
    return z.ndim == 2 and axis in (1, -1) and z.dtype.kind == "f"


def _max_keep(z, axis):
    """``z.max(axis=axis, keepdims=True)``, faster for the rows of a matrix."""
    if not _rows_last(z, axis):
        return z.max(axis=axis, keepdims=True)
    n, c = z.shape
    if c <= 32:
        return z.T.copy().max(axis=0)[:, None]
    return z[xp.arange(n), z.argmax(axis=1)][:, None]


def _sum_keep(z, axis):
    """``z.sum(axis=axis, keepdims=True)``, faster for the rows of a matrix."""
    if not _rows_last(z, axis):
        return z.sum(axis=axis, keepdims=True)
    return (z @ _ones(z.shape[1], z.dtype))[:, None]


def _column_sums(g, out=None):
    """``g.sum(axis=0)`` of a 2-D float array (a bias gradient), into ``out`` if given."""
    if g.dtype.kind != "f":
        return xp.add.reduce(g, axis=0, out=out)
    return xp.matmul(_ones(g.shape[0], g.dtype), g, out=out)

# --------------------------------------------------------------------------
# arithmetic (broadcasting is undone by the engine)


@primitive
def add(xp, a, b):
    """a + b."""
    return a + b, lambda g, need: (g, g)


@primitive
def sub(xp, a, b):
    """a - b."""
    return a - b, lambda g, need: (g, -g if need[1] else None)


@primitive
def mul(xp, a, b):
    """a * b (elementwise)."""

    def vjp(g, need):
        return (g * b if need[0] else None, g * a if need[1] else None)

    return a * b, vjp


@primitive
def div(xp, a, b):
    """a / b (elementwise)."""
    out = a / b

    def vjp(g, need):
        ga = g / b if need[0] else None
        gb = -g * out / b if need[1] else None
        return ga, gb

    return out, vjp


@primitive
def neg(xp, a):
    """-a."""
    return -a, lambda g, need: (-g,)


@primitive
def pow(xp, a, b):
    """a ** b; ``b`` may be a tensor (gradient ``a**b * log a``, taken as 0 where a ≤ 0)."""
    out = a**b

    def vjp(g, need):
        ga = g * b * a ** (b - 1) if need[0] else None
        gb = None
        if need[1]:
            # astype: a Python-scalar base (2.0 ** x) must not make it float64
            log_a = xp.log(xp.where(a > 0, a, 1)).astype(out.dtype, copy=False)
            gb = g * out * log_a
        return ga, gb

    return out, vjp


@primitive
def matmul(xp, a, b):
    """a @ b with NumPy's rules: 1-D operands, batched (broadcast) stacks."""
    try:
        out = a @ b
    except ValueError:
        raise ValueError(
            f"matmul: shapes {xp.shape(a)} and {xp.shape(b)} do not match: expected "
            "a's last axis to equal b's second-to-last (or only) axis"
        ) from None

    def vjp(g, need):
        if a.ndim == 1 and b.ndim == 1:
            # inner product: the output is a scalar
            return (g * b if need[0] else None, g * a if need[1] else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, -1)
        ga = gb = None
        if need[0]:
            ga = g2 @ xp.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                ga = ga.reshape(-1, a.shape[0]).sum(0)
        if need[1]:
            if b2.ndim == 2 and g2.ndim > 2:
                # stack @ matrix: fold the batch into rows, one GEMM
                a_rows = xp.broadcast_to(a2, g2.shape[:-1] + a2.shape[-1:])
                gb = a_rows.reshape(-1, a2.shape[-1]).T @ g2.reshape(-1, g2.shape[-1])
            else:
                gb = xp.swapaxes(a2, -1, -2) @ g2
            if b.ndim == 1:
                gb = gb.reshape(-1, b.shape[0]).sum(0)
        return ga, gb

    return out, vjp


# --------------------------------------------------------------------------
# elementwise functions


@primitive
def exp(xp, a):
    """exp(a); the vjp reuses the output."""
    out = xp.exp(a)
    return out, lambda g, need: (g * out,)


@primitive
def log(xp, a):
    """Natural logarithm."""
    return xp.log(a), lambda g, need: (g / a,)


@primitive
def sqrt(xp, a):
    """Square root; the vjp reuses the output."""
    out = xp.sqrt(a)
    return out, lambda g, need: (g / (2 * out),)


@primitive
def abs(xp, a):
    """|a|; subgradient 0 at 0 (as PyTorch)."""
    return xp.abs(a), lambda g, need: (g * xp.sign(a),)


@primitive
def relu(xp, a):
    """max(0, a); gradient 0 at 0."""
    out = xp.maximum(a, 0)
    # g * (out > 0), faster with the mask as floats than as booleans
    return out, lambda g, need: (g * (out > 0).astype(g.dtype),)


@primitive
def leaky_relu(xp, a, negative_slope=0.01):
    """a if a > 0 else negative_slope * a (book: leaky ReLU, α = 0.01)."""
    pos = a > 0
    out = xp.where(pos, a, a * a.dtype.type(negative_slope))
    slope = a.dtype.type(negative_slope)
    return out, lambda g, need: (xp.where(pos, g, g * slope),)


def _exp_neg_abs(xp, a):
    """exp(-|a|), the stable half of sigmoid and softplus.

    Under GRAPH it is written exp(-s a) with the constant sign s = ±1 (+1 at
    0), so that its derivative at 0 follows the a ≥ 0 branch the callers pick
    there (|a|'s subgradient 0 at 0 would lose sigmoid's slope at 0).
    """
    if xp is GRAPH:
        return xp.exp(-(a * _raw_xp.where(a.data >= 0, 1.0, -1.0).astype(a.dtype)))
    return xp.exp(-xp.abs(a))


@primitive
def sigmoid(xp, a):
    """Logistic sigmoid 1/(1+exp(-a)), stable for large |a|."""
    e = _exp_neg_abs(xp, a)
    out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e))
    return out, lambda g, need: (g * out * (1 - out),)


@primitive
def tanh(xp, a):
    """Hyperbolic tangent; the vjp reuses the output."""
    out = xp.tanh(a)
    return out, lambda g, need: (g * (1 - out * out),)


@primitive
def softplus(xp, a):
    """ζ(a) = log(1 + exp(a)) = max(a, 0) + log1p(exp(-|a|)), stable."""
    out = xp.maximum(a, 0) + xp.log1p(_exp_neg_abs(xp, a))

    def vjp(g, need):
        e = _exp_neg_abs(xp, a)
        sig = xp.where(a >= 0, 1 / (1 + e), e / (1 + e))
        return (g * sig,)

    return out, vjp


# --------------------------------------------------------------------------
# reductions


def _expand(xp, g, shape, axis, keepdims):
    """Give a reduced gradient back the reduced axes so it broadcasts."""
    if keepdims:
        return g
    if axis is None:
        return xp.reshape(g, (1,) * len(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    axes = sorted(ax % len(shape) for ax in axes)
    for ax in axes:
        g = xp.expand_dims(g, ax)
    return g


@primitive
def sum(xp, a, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes when None)."""
    # array methods, not xp.sum: the same math, a third of the call cost
    out = a.sum(axis=axis, keepdims=keepdims)
    shape = a.shape

    def vjp(g, need):
        g = _expand(xp, xp.asarray(g), shape, axis, keepdims)
        return (xp.broadcast_to(g, shape),)

    return out, vjp


@primitive
def mean(xp, a, axis=None, keepdims=False):
    """Mean over ``axis`` (all axes when None)."""
    total = a.sum(axis=axis, keepdims=keepdims)
    shape = a.shape
    count = a.size // builtins.max(total.size, 1) if a.size else 1
    out = total / a.dtype.type(count) if a.size else xp.mean(a, axis=axis, keepdims=keepdims)

    def vjp(g, need):
        g = _expand(xp, xp.asarray(g), shape, axis, keepdims)
        return (xp.broadcast_to(g / a.dtype.type(count), shape),)

    return out, vjp


def _extreme(xp, a, out, axis, keepdims):
    """The vjp shared by max and min, given the forward's ``out``."""
    shape = a.shape

    def vjp(g, need):
        full = _expand(xp, xp.asarray(out), shape, axis, keepdims)
        mask = xp.equal(a, full)
        # ties share the gradient equally (as torch.amax / amin)
        count = mask.sum(axis=axis, keepdims=True)
        g = _expand(xp, xp.asarray(g), shape, axis, keepdims)
        return (mask * (g / count).astype(a.dtype),)

    return out, vjp


@primitive
def max(xp, a, axis=None, keepdims=False):
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return _extreme(xp, a, a.max(axis=axis, keepdims=keepdims), axis, keepdims)


@primitive
def min(xp, a, axis=None, keepdims=False):
    """Minimum over ``axis``; tied minima share the gradient equally."""
    return _extreme(xp, a, a.min(axis=axis, keepdims=keepdims), axis, keepdims)


# --------------------------------------------------------------------------
# shape and indexing


@primitive
def reshape(xp, a, shape=()):
    """The same elements in a new shape."""
    return xp.reshape(a, shape), lambda g, need: (xp.reshape(g, a.shape),)


@primitive
def transpose(xp, a, axes=None):
    """Permute axes (reverse them when ``axes`` is None)."""
    # the inverse permutation; negative axes are counted from the end first
    inv = None if axes is None else tuple(xp.argsort([ax % a.ndim for ax in axes]))
    return xp.transpose(a, axes), lambda g, need: (xp.transpose(g, inv),)


@primitive
def getitem(xp, a, index=None):
    """a[index]: basic slicing and integer/boolean array indexing.

    The vjp writes ``g`` into zeros at the same index.  Integer arrays may
    repeat an element (``a[[0, 0]]``), so they scatter with ``np.add.at``,
    which accumulates; slices, ints and masks cannot repeat, so a plain
    assignment does (and is much faster).
    """
    out = a[index]

    return out, lambda g, need: (_scatter(xp, g, a.shape, index),)


def _scatter(xp, g, shape, index):
    """Zeros of ``shape`` with ``g`` added at ``index``."""
    if xp is GRAPH:
        return scatter_add(g, shape=shape, index=index)
    ga = xp.zeros(shape, dtype=g.dtype)
    if _may_repeat(index):
        xp.add.at(ga, index, g)
    else:
        ga[index] = g
    return ga


@primitive
def scatter_add(xp, g, shape=(), index=None):
    """Zeros of ``shape`` with ``g`` added at ``index``: the vjp of ``a[index]``, whose vjp
    is ``a[index]`` again (so indexing is differentiable to any order)."""
    out = xp.scatter(g, shape, index) if xp is GRAPH else _scatter(xp, g, shape, index)
    return out, lambda h, need: (h[index],)


@primitive
def broadcast_to(xp, a, shape=()):
    """``a`` broadcast to ``shape``; the engine sums the gradient back down."""
    return xp.broadcast_to(a, shape), lambda g, need: (g,)


_BASIC = (int, xp.integer, slice, type(None), type(Ellipsis))


def _may_repeat(index) -> bool:
    """Whether an index may name an element twice: anything but ints, slices,
    None, ``...`` and boolean masks (i.e. integer arrays)."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, _BASIC):
            continue
        if isinstance(part, xp.ndarray) and part.dtype.kind == "b":
            continue
        return True
    return False


@primitive
def astype(xp, a, dtype=None):
    """The same values in another float ``dtype`` (required); the gradient is cast back."""
    if dtype is None:
        raise TypeError("astype needs a dtype, e.g. astype(x, dtype=np.float64)")
    return a.astype(dtype), lambda g, need: (g.astype(a.dtype),)


@primitive
def where(xp, cond, a, b):
    """Elementwise ``a`` where ``cond`` else ``b`` (cond is not differentiated)."""
    cond = xp.asarray(cond, dtype=bool)

    def vjp(g, need):
        ga = xp.where(cond, g, 0).astype(g.dtype) if need[1] else None
        gb = xp.where(cond, 0, g).astype(g.dtype) if need[2] else None
        return None, ga, gb

    return xp.where(cond, a, b), vjp


@primitive
def concatenate(xp, *arrays, axis=0):
    """Join tensors along an existing axis."""
    sizes = [xp.shape(x)[axis] for x in arrays]
    cuts = xp.cumsum(sizes)[:-1]

    def vjp(g, need):
        return tuple(xp.split(g, cuts, axis=axis))

    return xp.concatenate(arrays, axis=axis), vjp


@primitive
def stack(xp, *arrays, axis=0):
    """Join tensors along a new axis."""
    out = xp.stack(arrays, axis=axis)

    def vjp(g, need):
        n = len(arrays)
        return tuple(xp.take(g, i, axis=axis) for i in range(n))

    return out, vjp


# --------------------------------------------------------------------------
# fused ops for the hot path and for numerical stability


def _product(a, b):
    """``a @ b`` for ``a`` of any rank and a 2-D ``b``; small products on this
    thread (``_gemm.matmul``: BLAS's threads would only spin for them)."""
    if a.ndim == 2:
        return _gemm(a, b)
    if a.ndim == 1:
        return xp.matmul(a, b)
    return _gemm(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + (b.shape[1],))


@primitive
def linear(xp, x, weight, bias=None):
    """x @ weight + bias in one step; weight has shape (in, out).

    The backward skips the input gradient when the input needs none
    (e.g. the first layer), which saves one GEMM per step, and sums the
    bias gradient as one product with a vector of ones.  Products small
    enough that BLAS's threads would cost more than they save run on the
    calling thread, in blocks (``_gemm``); BLAS's thread count is never
    changed.
    """
    if xp is GRAPH:
        out = x @ weight if bias is None else x @ weight + bias
        return out, xp.vjp_of(out, (x, weight, bias))
    out = _product(x, weight)
    if bias is not None:
        out += bias

    def vjp(g, need):
        gx = _product(g, weight.T) if need[0] else None
        gw = gb = None
        if x.ndim == 2:
            x2, g2 = x, g
        else:
            x2, g2 = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
        if need[1]:
            gw = _gemm(x2.T, g2)
        if len(need) > 2 and need[2]:  # bias given (linear(x, w) has none)
            gb = _column_sums(g2)  # g summed over all but the last axis
        return gx, gw, gb

    return out, vjp


def _softmax(z, axis):
    e = xp.exp(z - _max_keep(z, axis))
    e /= _sum_keep(e, axis)
    return e


@primitive
def softmax(xp, z, axis=-1):
    """exp(z) / Σ exp(z), with the max subtracted first."""
    if xp is GRAPH:
        e = xp.exp(z - z.data.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        return out, xp.vjp_of(out, (z,))
    out = _softmax(z, axis)

    def vjp(g, need):
        gy = g * out
        return (gy - out * _sum_keep(gy, axis),)

    return out, vjp


@primitive
def log_softmax(xp, z, axis=-1):
    """z - logsumexp(z), computed in the log domain (book §6.2.2.3)."""
    if xp is GRAPH:
        shifted = z - z.data.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        return out, xp.vjp_of(out, (z,))
    shifted = z - _max_keep(z, axis)
    out = shifted - xp.log(_sum_keep(xp.exp(shifted), axis))

    def vjp(g, need):
        return (g - xp.exp(out) * _sum_keep(g, axis),)

    return out, vjp


@primitive
def logsumexp(xp, z, axis=-1, keepdims=False):
    """log Σ exp(z) = m + log Σ exp(z - m), m = max z."""
    if xp is GRAPH:
        m = z.data.max(axis=axis, keepdims=True)
        m = _raw_xp.where(_raw_xp.isfinite(m), m, 0)
        out = m + xp.log(xp.exp(z - m).sum(axis=axis, keepdims=True))
        if not keepdims:
            out = xp.squeeze(out, axis)
        return out, xp.vjp_of(out, (z,))
    m = _max_keep(z, axis)
    m = xp.where(xp.isfinite(m), m, 0)
    s = xp.exp(z - m)
    total = _sum_keep(s, axis)
    out_k = m + xp.log(total)
    out = out_k if keepdims else xp.squeeze(out_k, axis=axis)

    def vjp(g, need):
        gk = g if keepdims else xp.expand_dims(g, axis)
        return (gk * (s / total),)

    return out, vjp


@primitive
def softmax_cross_entropy(xp, logits, target=None, smoothing=0.0, reduction="mean"):
    """Fused softmax + negative log-likelihood on (N, C) logits, int targets.

    loss_i = -(1-ε) log p[i, y_i] - (ε/C) Σ_c log p[i, c]  (PyTorch's
    label smoothing).  The gradient is (softmax - q) with q the smoothed
    one-hot target: no Jacobian is ever formed.
    """
    n, c = logits.shape
    if xp is GRAPH:
        # the same losses as composite ops: -(1-ε) log p[i, y_i] - (ε/C) Σ_c log p[i, c]
        shifted = logits - logits.data.max(axis=1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        losses = -(1 - smoothing) * logp[_raw_xp.arange(n), target]
        if smoothing:
            losses = losses - (smoothing / c) * logp.sum(axis=1)
        if reduction == "mean":
            out = losses.sum() / builtins.max(n, 1)
        elif reduction == "sum":
            out = losses.sum()
        else:
            out = losses
        return out, xp.vjp_of(out, (logits, target))
    shifted = logits - _max_keep(logits, 1)
    e = xp.exp(shifted)
    total = _sum_keep(e, 1)
    log_total = xp.log(total)
    rows = xp.arange(n)
    eps = smoothing
    if eps:
        logp = shifted - log_total
        losses = -(1 - eps) * logp[rows, target] - (eps / c) * _sum_keep(logp, 1)[:, 0]
    else:
        # -log p[i, y_i] = log Σ_c exp(shifted) - shifted[i, y_i]: the same
        # numbers without forming all of log p
        losses = log_total[:, 0] - shifted[rows, target]
    if reduction == "mean":
        out = losses.sum() / n if n else xp.asarray(xp.nan, logits.dtype)  # = losses.mean()
    elif reduction == "sum":
        out = losses.sum()
    else:
        out = losses
    out = xp.asarray(out, dtype=logits.dtype)

    def vjp(g, need):
        grad = e / total  # softmax
        grad[rows, target] -= 1 - eps
        if eps:
            grad -= eps / c
        if reduction == "mean":
            grad *= g / builtins.max(n, 1)
        elif reduction == "sum":
            grad *= g
        else:
            grad *= g[:, None]
        return grad, None

    return out, vjp


@primitive
def bce_with_logits(xp, logits, target):
    """Elementwise -[t log σ(z) + (1-t) log(1-σ(z))] = max(z,0) - z t + log1p(e^-|z|)."""
    e = _exp_neg_abs(xp, logits)
    out = xp.maximum(logits, 0) - logits * target + xp.log1p(e)

    def vjp(g, need):
        gz = gt = None
        if need[0]:
            sig = xp.where(logits >= 0, 1 / (1 + e), e / (1 + e))
            gz = g * (sig - target)
        if need[1]:
            gt = -g * logits
        return gz, gt

    return out, vjp
