"""Property-based tests (hypothesis) for broadcasting and reductions.

The references are independent of the engine's ``unbroadcast``: a
broadcast input's gradient is computed by mapping every output position
back to the input element it copies (``np.broadcast_to`` of an index array)
and summing with ``np.bincount``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

SETTINGS = settings(max_examples=40, deadline=None)

two_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                               max_side=4)


def _copies_of(shape, out_shape, weights):
    """Σ of ``weights`` over the output positions that copy each input element."""
    size = int(np.prod(shape))
    owner = np.broadcast_to(np.arange(size).reshape(shape), out_shape)
    w = np.broadcast_to(weights, out_shape)
    return np.bincount(owner.ravel(), weights=w.ravel(), minlength=size).reshape(shape)


def _inputs(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


@SETTINGS
@given(two_shapes, st.integers(0, 2**32 - 1))
def test_grad_of_sum_of_broadcast_add_counts_copies(shapes, seed):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    a_np, b_np = _inputs((sa, sb), seed)
    a = cr.tensor(a_np, requires_grad=True)
    b = cr.tensor(b_np, requires_grad=True)
    (a + b).sum().backward()
    ones = np.ones(out_shape)
    for t, s in ((a, sa), (b, sb)):
        assert t.grad.shape == s
        assert t.grad.dtype == np.float32
        np.testing.assert_array_equal(t.grad, _copies_of(s, out_shape, ones))
        # each element is copied prod(out)/prod(in) times
        assert np.all(t.grad == np.prod(out_shape) / np.prod(s))


@SETTINGS
@given(two_shapes, st.integers(0, 2**32 - 1))
def test_broadcast_mul_vjp_sums_over_copies(shapes, seed):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    a_np, b_np, g = _inputs((sa, sb, out_shape), seed)
    a = cr.tensor(a_np, requires_grad=True)
    b = cr.tensor(b_np, requires_grad=True)
    out = a * b
    np.testing.assert_array_equal(out.data, a_np * b_np)
    out.backward(g)
    ref_a = _copies_of(sa, out_shape, g.astype(np.float64) * b_np)
    ref_b = _copies_of(sb, out_shape, g.astype(np.float64) * a_np)
    assert a.grad.shape == sa and b.grad.shape == sb
    np.testing.assert_allclose(a.grad, ref_a, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.grad, ref_b, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(two_shapes, st.integers(0, 2**32 - 1),
       st.sampled_from(["sub", "div", "where", "pow"]))
def test_gradient_shapes_come_back_for_every_binary_op(shapes, seed, name):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    a_np, b_np, g = _inputs((sa, sb, out_shape), seed)
    a = cr.tensor(np.abs(a_np) + 0.5, requires_grad=True)
    b = cr.tensor(np.abs(b_np) + 0.5, requires_grad=True)
    out = {
        "sub": lambda: a - b,
        "div": lambda: a / b,
        "where": lambda: cr.where(g > 0, a, b),
        "pow": lambda: a**b,
    }[name]()
    assert out.shape == out_shape
    out.backward(g)
    assert a.grad.shape == sa and b.grad.shape == sb
    assert np.all(np.isfinite(a.grad)) and np.all(np.isfinite(b.grad))


# --------------------------------------------------------------------------
# reductions


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        # mix negative and positive spellings of the same axes
        axis = tuple(ax - nd if draw(st.booleans()) else ax for ax in axes)
    return shape, axis, draw(st.booleans())


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[ax] for ax in axes]))


@SETTINGS
@given(shape_and_axis(), st.integers(0, 2**32 - 1))
def test_sum_and_mean_match_numpy_and_spread_the_gradient(sak, seed):
    shape, axis, keep = sak
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(shape).astype(np.float32)
    for name, count in (("sum", 1), ("mean", _count(shape, axis))):
        x = cr.tensor(x_np, requires_grad=True)
        out = getattr(x, name)(axis=axis, keepdims=keep)
        ref = getattr(np, name)(x_np, axis=axis, keepdims=keep)
        assert out.shape == np.shape(ref)
        np.testing.assert_allclose(out.data, ref, rtol=1e-5, atol=1e-6)
        g = rng.standard_normal(out.shape).astype(np.float32)
        out.backward(g)
        assert x.grad.shape == shape and x.grad.dtype == np.float32
        # each input element receives the cotangent of the output it went into
        if keep or axis is None:
            g_kept = g
        else:
            g_kept = np.expand_dims(g, tuple(ax % len(shape) for ax in np.atleast_1d(axis)))
        expected = np.broadcast_to(g_kept, shape) / count
        np.testing.assert_allclose(x.grad, expected, rtol=1e-6, atol=1e-7)


@SETTINGS
@given(shape_and_axis(), st.integers(0, 2**32 - 1), st.sampled_from(["max", "min"]))
def test_max_min_match_numpy_and_route_the_gradient(sak, seed, name):
    shape, axis, keep = sak
    rng = np.random.default_rng(seed)
    x_np = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32)
    x = cr.tensor(x_np, requires_grad=True)
    out = getattr(x, name)(axis=axis, keepdims=keep)
    ref = getattr(np, name)(x_np, axis=axis, keepdims=keep)
    assert out.shape == np.shape(ref)
    np.testing.assert_array_equal(out.data, ref)
    g = rng.uniform(0.5, 1.5, out.shape).astype(np.float32)
    out.backward(g)
    assert x.grad.shape == shape
    # distinct values: the gradient lands only on the extremes, and all of it
    hits = x_np == getattr(np, name)(x_np, axis=axis, keepdims=True)
    assert np.all((x.grad != 0) == hits)
    np.testing.assert_allclose(x.grad.sum(), g.sum(), rtol=1e-5)
    np.testing.assert_allclose(np.sort(x.grad[hits]), np.sort(g.ravel()), rtol=1e-6)


@SETTINGS
@given(shape_and_axis(), st.integers(0, 2**32 - 1))
def test_max_splits_the_gradient_among_ties(sak, seed):
    shape, axis, keep = sak
    rng = np.random.default_rng(seed)
    x_np = rng.integers(0, 3, shape).astype(np.float32)  # many ties
    x = cr.tensor(x_np, requires_grad=True)
    x.max(axis=axis, keepdims=keep).sum().backward()
    hits = x_np == np.max(x_np, axis=axis, keepdims=True)
    ties = hits.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(x.grad, hits / ties, rtol=1e-6)
    np.testing.assert_allclose(x.grad.sum(), np.size(np.max(x_np, axis=axis)), rtol=1e-6)
