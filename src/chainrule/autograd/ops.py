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
import itertools
import math

from .._backend import activation_kernels as _act
from .._backend import device_of, dtype_in, from_host, namespace_of
from .._backend.kernels import (
    _max_keep_numpy as _max_keep_np,
)
from .._backend.kernels import (
    _ones,
    kernel,
)
from .._backend.kernels import (
    _scatter_add_numpy as _scatter_add_np,
)
from .._backend.kernels import (
    _sum_keep_numpy as _sum_keep_np,
)
from ._gemm import matmul as _gemm
from ._namespace import GRAPH
from .engine import PRIMITIVES, primitive

# --------------------------------------------------------------------------
# NumPy fast paths
#
# NumPy's float32 reductions along the last axis of an (N, C) array are slow
# when C is small (a row max costs more than the rest of a softmax).  The
# "numpy" kernel entries ``max_keep``/``sum_keep``/``column_sums``
# (``_backend/kernels.py``) give the same values faster; the NumPy variants
# of the primitives below (``@op.variant("numpy")``) use them, in-place
# updates and blocked BLAS products (``_gemm``).  Every primitive's main
# forward uses standard array-API names only: it serves array_api_strict,
# torch, CuPy, and the differentiable namespace GRAPH.  BENCHMARKS.md has
# the measurements.


def _column_sums(g, out=None):
    """``g.sum(axis=0)`` of a 2-D NumPy array (a bias gradient), into ``out`` if given."""
    import numpy

    if g.dtype.kind != "f":
        return numpy.add.reduce(g, axis=0, out=out)
    return numpy.matmul(_ones(g.shape[0], g.dtype), g, out=out)


def _host_const(xp, value, like):
    """A host constant (NumPy array, list) as an array of ``like``'s namespace and device."""
    if value is None or xp is GRAPH:
        return value
    if namespace_of(value) is xp and not isinstance(value, (list, tuple)):
        return value
    return from_host(value, xp, device_of(like))


def _data_ns(t):
    """The raw namespace of a Tensor's data (inside GRAPH branches)."""
    return namespace_of(t.data)

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
            if isinstance(a, (int, float)):  # a Python-scalar base (2.0 ** x)
                log_a = math.log(a) if a > 0 else 0.0
            else:
                log_a = xp.astype(xp.log(xp.where(a > 0, a, 1.0)), out.dtype)
            gb = g * out * log_a
        return ga, gb

    return out, vjp


@primitive
def matmul(xp, a, b):
    """a @ b with NumPy's rules: 1-D operands, batched (broadcast) stacks."""
    try:
        out = a @ b
    except (ValueError, RuntimeError):
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not match: expected "
            "a's last axis to equal b's second-to-last (or only) axis"
        ) from None

    def vjp(g, need):
        if a.ndim == 1 and b.ndim == 1:
            # inner product: the output is a scalar
            return (g * b if need[0] else None, g * a if need[1] else None)
        a2 = xp.expand_dims(a, axis=0) if a.ndim == 1 else a
        b2 = xp.expand_dims(b, axis=-1) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, axis=-2)
        if b.ndim == 1:
            g2 = xp.expand_dims(g2, axis=-1)
        ga = gb = None
        if need[0]:
            ga = g2 @ xp.matrix_transpose(b2)
            if a.ndim == 1:
                ga = xp.sum(xp.reshape(ga, (-1, a.shape[0])), axis=0)
        if need[1]:
            if b2.ndim == 2 and g2.ndim > 2:
                # stack @ matrix: fold the batch into rows, one GEMM
                a_rows = xp.broadcast_to(a2, tuple(g2.shape[:-1]) + tuple(a2.shape[-1:]))
                gb = (xp.matrix_transpose(xp.reshape(a_rows, (-1, a2.shape[-1])))
                      @ xp.reshape(g2, (-1, g2.shape[-1])))
            else:
                gb = xp.matrix_transpose(a2) @ g2
            if b.ndim == 1:
                gb = xp.sum(xp.reshape(gb, (-1, b.shape[0])), axis=0)
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
    out = xp.maximum(a, 0.0)
    # g * (out > 0), faster with the mask as floats than as booleans
    return out, lambda g, need: (g * xp.astype(out > 0, g.dtype),)


@relu.variant("numpy")
def _relu_numpy(xp, a):
    return _activation_numpy(xp, "relu", a)


def _activation_numpy(xp, name, a):
    """``name``'s kernels (``_backend/activation_kernels.py``): one pass each way."""
    if a.dtype.kind != "f":  # integers: the standard-only forward
        return PRIMITIVES[name].__wrapped__(xp, a)
    out = _act.forward(name, a)
    return out, lambda g, need: (_act.backward(name, out, g),)


@primitive
def leaky_relu(xp, a, negative_slope=0.01):
    """a if a > 0 else negative_slope * a (book: leaky ReLU, α = 0.01)."""
    pos = a > 0
    slope = float(negative_slope)
    out = xp.where(pos, a, a * slope)
    return out, lambda g, need: (xp.where(pos, g, g * slope),)


def _exp_neg_abs(xp, a):
    """exp(-|a|), the stable half of sigmoid and softplus.

    Under GRAPH it is written exp(-s a) with the constant sign s = ±1 (+1 at
    0), so that its derivative at 0 follows the a ≥ 0 branch the callers pick
    there (|a|'s subgradient 0 at 0 would lose sigmoid's slope at 0).
    """
    if xp is GRAPH:
        ns = _data_ns(a)
        sign = ns.astype(a.data >= 0, a.data.dtype) * 2.0 - 1.0
        return xp.exp(-(a * sign))
    return xp.exp(-xp.abs(a))


@primitive
def sigmoid(xp, a):
    """Logistic sigmoid 1/(1+exp(-a)), stable for large |a|."""
    e = _exp_neg_abs(xp, a)
    out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e))
    return out, lambda g, need: (g * out * (1 - out),)


@sigmoid.variant("numpy")
def _sigmoid_numpy(xp, a):
    return _activation_numpy(xp, "sigmoid", a)


@primitive
def tanh(xp, a):
    """Hyperbolic tangent; the vjp reuses the output."""
    out = xp.tanh(a)
    return out, lambda g, need: (g * (1 - out * out),)


@tanh.variant("numpy")
def _tanh_numpy(xp, a):
    return _activation_numpy(xp, "tanh", a)


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


def _axis_arg(axis):
    return tuple(axis) if isinstance(axis, list) else axis


@primitive
def sum(xp, a, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes when None)."""
    axis = _axis_arg(axis)
    out = xp.sum(a, axis=axis, keepdims=keepdims)
    shape = tuple(a.shape)

    def vjp(g, need):
        g = _expand(xp, g, shape, axis, keepdims)
        return (xp.broadcast_to(g, shape),)

    return out, vjp


@sum.variant("numpy")
def _sum_numpy(xp, a, axis=None, keepdims=False):
    # array methods, not xp.sum: the same math, a third of the call cost
    out = a.sum(axis=axis, keepdims=keepdims)
    shape = a.shape

    def vjp(g, need):
        g = _expand(xp, xp.asarray(g), shape, axis, keepdims)
        return (xp.broadcast_to(g, shape),)

    return out, vjp


def _count(shape, axis):
    """How many elements a reduction over ``axis`` sums into each result."""
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[ax] for ax in axes)


@primitive
def mean(xp, a, axis=None, keepdims=False):
    """Mean over ``axis`` (all axes when None)."""
    axis = _axis_arg(axis)
    shape = tuple(a.shape)
    count = _count(shape, axis)
    if count == 0:
        out = xp.mean(a, axis=axis, keepdims=keepdims)
        count = 1
    else:
        out = xp.sum(a, axis=axis, keepdims=keepdims) / float(count)

    def vjp(g, need):
        g = _expand(xp, g, shape, axis, keepdims)
        return (xp.broadcast_to(g / float(count), shape),)

    return out, vjp


@mean.variant("numpy")
def _mean_numpy(xp, a, axis=None, keepdims=False):
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
    shape = tuple(a.shape)

    def vjp(g, need):
        full = _expand(xp, out, shape, axis, keepdims)
        mask = xp.astype(xp.equal(a, full), a.dtype)
        # ties share the gradient equally (as torch.amax / amin)
        count = xp.sum(mask, axis=axis, keepdims=True)
        g = _expand(xp, g, shape, axis, keepdims)
        return ((g / count) * mask,)

    return out, vjp


@primitive
def max(xp, a, axis=None, keepdims=False):
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    axis = _axis_arg(axis)
    return _extreme(xp, a, xp.max(a, axis=axis, keepdims=keepdims), axis, keepdims)


@primitive
def min(xp, a, axis=None, keepdims=False):
    """Minimum over ``axis``; tied minima share the gradient equally."""
    axis = _axis_arg(axis)
    return _extreme(xp, a, xp.min(a, axis=axis, keepdims=keepdims), axis, keepdims)


# --------------------------------------------------------------------------
# shape and indexing


@primitive
def reshape(xp, a, shape=()):
    """The same elements in a new shape."""
    return xp.reshape(a, shape), lambda g, need: (xp.reshape(g, a.shape),)


@primitive
def transpose(xp, a, axes=None):
    """Permute axes (reverse them when ``axes`` is None)."""
    n = a.ndim
    perm = tuple(range(n))[::-1] if axes is None else tuple(int(ax) % n for ax in axes)
    # the inverse permutation
    inv = tuple(sorted(range(n), key=perm.__getitem__))
    return xp.permute_dims(a, perm), lambda g, need: (xp.permute_dims(g, inv),)


@primitive
def getitem(xp, a, index=None):
    """a[index]: basic slicing and integer/boolean array indexing.

    The vjp writes ``g`` into zeros at the same index.  Integer arrays may
    repeat an element (``a[[0, 0]]``), so they scatter with the
    ``scatter_add`` kernel, which accumulates (``np.add.at`` on NumPy);
    slices, ints and masks cannot repeat, so a plain store does.  Index
    arrays given as NumPy arrays are moved to the data's library; on
    libraries other than NumPy integer arrays must sit on adjacent axes,
    beside slices only (``kernels.gather``).
    """
    shape = tuple(a.shape)
    if xp is GRAPH:
        return a[index], lambda g, need: (scatter_add(g, shape=shape, index=index),)
    out = kernel("gather", xp)(xp, a, index)
    return out, lambda g, need: (_scatter(xp, g, shape, index),)


@getitem.variant("numpy")
def _getitem_numpy(xp, a, index=None):
    shape = a.shape
    return a[index], lambda g, need: (_scatter_add_np(xp, g, shape, index),)


def _scatter(xp, g, shape, index):
    """Zeros of ``shape`` with ``g`` added at ``index``."""
    if xp is GRAPH:
        return scatter_add(g, shape=shape, index=index)
    return kernel("scatter_add", xp)(xp, g, shape, index)


@primitive
def scatter_add(xp, g, shape=(), index=None):
    """Zeros of ``shape`` with ``g`` added at ``index``: the vjp of ``a[index]``, whose vjp
    is ``a[index]`` again (so indexing is differentiable to any order)."""
    if xp is GRAPH:
        return xp.scatter(g, shape, index), lambda h, need: (h[index],)
    out = kernel("scatter_add", xp)(xp, g, tuple(shape), index)
    return out, lambda h, need: (kernel("gather", xp)(xp, h, index),)


@primitive
def broadcast_to(xp, a, shape=()):
    """``a`` broadcast to ``shape``; the engine sums the gradient back down."""
    return xp.broadcast_to(a, shape), lambda g, need: (g,)


@primitive
def astype(xp, a, dtype=None):
    """The same values in another float ``dtype`` (required); the gradient is cast back."""
    if dtype is None:
        raise TypeError("astype needs a dtype, e.g. astype(x, dtype=np.float64)")
    dtype = dtype_in(_data_ns(a) if xp is GRAPH else xp, dtype)
    src = a.dtype
    return xp.astype(a, dtype), lambda g, need: (xp.astype(g, src),)


@primitive
def where(xp, cond, a, b):
    """Elementwise ``a`` where ``cond`` else ``b`` (cond is not differentiated)."""
    if xp is not GRAPH:
        cond = xp.asarray(cond, dtype=xp.bool)

    def vjp(g, need):
        ga = xp.where(cond, g, 0.0) if need[1] else None
        gb = xp.where(cond, 0.0, g) if need[2] else None
        return None, ga, gb

    return xp.where(cond, a, b), vjp


@primitive
def concatenate(xp, *arrays, axis=0):
    """Join tensors along an existing axis."""
    ax = axis % arrays[0].ndim
    bounds = [0]
    for x in arrays:
        bounds.append(bounds[-1] + x.shape[ax])
    lead = (slice(None),) * ax

    def vjp(g, need):
        return tuple(g[lead + (slice(lo, hi), ...)] for lo, hi in itertools.pairwise(bounds))

    return xp.concat(arrays, axis=ax), vjp


@primitive
def stack(xp, *arrays, axis=0):
    """Join tensors along a new axis."""
    out = xp.stack(arrays, axis=axis)
    lead = (slice(None),) * (axis % out.ndim)

    def vjp(g, need):
        n = len(arrays)
        return tuple(g[lead + (i, ...)] for i in range(n))

    return out, vjp


# --------------------------------------------------------------------------
# fused ops for the hot path and for numerical stability


def _product(a, b):
    """``a @ b`` for a NumPy ``a`` of any rank and a 2-D ``b``; small products on this
    thread (``_gemm.matmul``: BLAS's threads would only spin for them)."""
    if a.ndim == 2:
        return _gemm(a, b)
    if a.ndim == 1:
        return a @ b
    return _gemm(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + (b.shape[1],))


#: The activations ``linear`` can apply in the same op (``activation=``).
LINEAR_ACTIVATIONS = tuple(_act.ACTIVATIONS)


def _check_activation(activation):
    if activation is not None and activation not in _act.ACTIVATIONS:
        raise ValueError(
            f"linear: expected activation None or one of {LINEAR_ACTIVATIONS}. "
            f"Received: {activation!r}"
        )


@primitive
def linear(xp, x, weight, bias=None, activation=None):
    """y = g(x @ weight + bias) in one step; weight has shape (in, out).

    ``activation`` is None (y = x @ weight + bias) or "relu", "tanh",
    "sigmoid": the hidden unit g applied in the same op, its backward
    g'·(incoming gradient) computed from y (``_backend/activation_kernels``).
    The backward skips the input gradient when the input needs none
    (e.g. the first layer), which saves one GEMM per step, and sums the
    bias gradient over all but the last axis.  On NumPy (its variant below)
    bias and activation run the activation kernels on the product (in place
    where compiled); products
    small enough that BLAS's threads would cost more than they save run on
    the calling thread, in blocks (``_gemm``), and the bias gradient is one
    product with a vector of ones; BLAS's thread count is never changed.
    """
    _check_activation(activation)
    if xp is GRAPH:
        out = x @ weight if bias is None else x @ weight + bias
        if activation is not None:
            out = PRIMITIVES[activation](out)
        return out, xp.vjp_of(out, (x, weight, bias))
    out = x @ weight
    if activation is not None:
        out = _act.forward(activation, out, bias)
    elif bias is not None:
        out = out + bias

    def vjp(g, need):
        if activation is not None:
            g = _act.backward(activation, out, g)
        gx = g @ xp.matrix_transpose(weight) if need[0] else None
        gw = gb = None
        if x.ndim == 2:
            x2, g2 = x, g
        else:
            x2 = xp.reshape(x, (-1, x.shape[-1]))
            g2 = xp.reshape(g, (-1, g.shape[-1]))
        if need[1]:
            gw = xp.matrix_transpose(x2) @ g2
        if len(need) > 2 and need[2]:  # bias given (linear(x, w) has none)
            gb = xp.sum(g2, axis=0)
        return gx, gw, gb

    return out, vjp


@linear.variant("numpy")
def _linear_numpy(xp, x, weight, bias=None, activation=None):
    out = _product(x, weight)
    if activation is not None:
        _check_activation(activation)
        out = _act.forward(activation, out, bias, inplace=True)
    elif bias is not None:
        out += bias

    def vjp(g, need):
        if activation is not None:
            g = _act.backward(activation, out, g)
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


def _data_max(z, axis):
    """The max of a Tensor's data, kept dims (a constant shift in GRAPH branches)."""
    ns = _data_ns(z)
    return ns.max(z.data, axis=axis, keepdims=True)


@primitive
def softmax(xp, z, axis=-1):
    """exp(z) / Σ exp(z), with the max subtracted first."""
    if xp is GRAPH:
        e = xp.exp(z - _data_max(z, axis))
        out = e / e.sum(axis=axis, keepdims=True)
        return out, xp.vjp_of(out, (z,))
    e = xp.exp(z - xp.max(z, axis=axis, keepdims=True))
    out = e / xp.sum(e, axis=axis, keepdims=True)

    def vjp(g, need):
        gy = g * out
        return (gy - out * xp.sum(gy, axis=axis, keepdims=True),)

    return out, vjp


@softmax.variant("numpy")
def _softmax_numpy(xp, z, axis=-1):
    out = xp.exp(z - _max_keep_np(xp, z, axis))
    out /= _sum_keep_np(xp, out, axis)

    def vjp(g, need):
        gy = g * out
        return (gy - out * _sum_keep_np(xp, gy, axis),)

    return out, vjp


@primitive
def log_softmax(xp, z, axis=-1):
    """z - logsumexp(z), computed in the log domain (book §6.2.2.3)."""
    if xp is GRAPH:
        shifted = z - _data_max(z, axis)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        return out, xp.vjp_of(out, (z,))
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def vjp(g, need):
        return (g - xp.exp(out) * xp.sum(g, axis=axis, keepdims=True),)

    return out, vjp


@log_softmax.variant("numpy")
def _log_softmax_numpy(xp, z, axis=-1):
    shifted = z - _max_keep_np(xp, z, axis)
    out = shifted - xp.log(_sum_keep_np(xp, xp.exp(shifted), axis))

    def vjp(g, need):
        return (g - xp.exp(out) * _sum_keep_np(xp, g, axis),)

    return out, vjp


@primitive
def logsumexp(xp, z, axis=-1, keepdims=False):
    """log Σ exp(z) = m + log Σ exp(z - m), m = max z."""
    axis = _axis_arg(axis)
    if xp is GRAPH:
        ns = _data_ns(z)
        m = _data_max(z, axis)
        m = ns.where(ns.isfinite(m), m, 0.0)
        out = xp.log(xp.exp(z - m).sum(axis=axis, keepdims=True)) + m
        if not keepdims:
            out = xp.squeeze(out, axis)
        return out, xp.vjp_of(out, (z,))
    m = xp.max(z, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    s = xp.exp(z - m)
    total = xp.sum(s, axis=axis, keepdims=True)
    out_k = m + xp.log(total)
    out = out_k if keepdims else xp.squeeze(out_k, axis=axis)

    def vjp(g, need):
        gk = g if keepdims else _expand(xp, g, tuple(z.shape), axis, False)
        return (gk * (s / total),)

    return out, vjp


@logsumexp.variant("numpy")
def _logsumexp_numpy(xp, z, axis=-1, keepdims=False):
    m = _max_keep_np(xp, z, axis)
    m = xp.where(xp.isfinite(m), m, 0)
    s = xp.exp(z - m)
    total = _sum_keep_np(xp, s, axis)
    out_k = m + xp.log(total)
    out = out_k if keepdims else xp.squeeze(out_k, axis=axis)

    def vjp(g, need):
        gk = g if keepdims else xp.expand_dims(g, axis)
        return (gk * (s / total),)

    return out, vjp


def _reduce_losses(xp, losses, n, reduction, dtype):
    if reduction == "mean":
        if n:
            return xp.sum(losses) / float(n)
        return xp.asarray(float("nan"), dtype=dtype, device=device_of(losses))
    if reduction == "sum":
        return xp.sum(losses)
    return losses


@primitive
def softmax_cross_entropy(xp, logits, target=None, smoothing=0.0, reduction="mean"):
    """Fused softmax + negative log-likelihood on (N, C) logits, int targets.

    loss_i = -(1-ε) log p[i, y_i] - (ε/C) Σ_c log p[i, c]  (PyTorch's
    label smoothing).  The gradient is (softmax - q) with q the smoothed
    one-hot target: no Jacobian is ever formed.  ``target`` may be a NumPy
    array or an integer array of the logits' library (moved there if needed).
    """
    n, c = logits.shape
    if xp is GRAPH:
        # the same losses as composite ops: -(1-ε) log p[i, y_i] - (ε/C) Σ_c log p[i, c]
        ns = _data_ns(logits)
        dev = device_of(logits.data)
        tgt = _host_const(ns, target, logits.data)
        shifted = logits - _data_max(logits, 1)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        losses = -(1 - smoothing) * logp[ns.arange(n, dtype=tgt.dtype, device=dev), tgt]
        if smoothing:
            losses = losses - (smoothing / c) * logp.sum(axis=1)
        if reduction == "mean":
            out = losses.sum() / builtins.max(n, 1)
        elif reduction == "sum":
            out = losses.sum()
        else:
            out = losses
        return out, xp.vjp_of(out, (logits, target))
    target = _host_const(xp, target, logits)
    dev = device_of(logits)
    classes = xp.arange(c, dtype=target.dtype, device=dev)
    onehot = xp.astype(xp.reshape(target, (-1, 1)) == xp.reshape(classes, (1, -1)),
                       logits.dtype)
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    e = xp.exp(shifted)
    total = xp.sum(e, axis=1, keepdims=True)
    log_total = xp.log(total)
    eps = smoothing
    picked = xp.sum(shifted * onehot, axis=1)  # shifted[i, y_i]
    losses = log_total[:, 0] - picked  # -log p[i, y_i]
    if eps:
        logp_sum = xp.sum(shifted, axis=1) - c * log_total[:, 0]
        losses = (1 - eps) * losses - (eps / c) * logp_sum
    out = _reduce_losses(xp, losses, n, reduction, logits.dtype)

    def vjp(g, need):
        grad = e / total - (1 - eps) * onehot
        if eps:
            grad = grad - eps / c
        if reduction == "mean":
            grad = grad * (g / float(builtins.max(n, 1)))
        elif reduction == "sum":
            grad = grad * g
        else:
            grad = grad * xp.reshape(g, (-1, 1))
        return grad, None

    return out, vjp


@softmax_cross_entropy.variant("numpy")
def _softmax_cross_entropy_numpy(xp, logits, target=None, smoothing=0.0, reduction="mean"):
    n, c = logits.shape
    target = xp.asarray(target)
    shifted = logits - _max_keep_np(xp, logits, 1)
    e = xp.exp(shifted)
    total = _sum_keep_np(xp, e, 1)
    log_total = xp.log(total)
    rows = xp.arange(n)
    eps = smoothing
    if eps:
        logp = shifted - log_total
        losses = -(1 - eps) * logp[rows, target] - (eps / c) * _sum_keep_np(xp, logp, 1)[:, 0]
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
