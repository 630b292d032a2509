"""Kernel entries: the NumPy entry and the standard-only generic entry agree (issue 12).

Random inputs, repeated indices included (``scatter_add`` must accumulate
them, as ``np.add.at`` does).  The generic entries run on NumPy itself and
on array_api_strict (both devices), torch CPU tensors too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule._backend import kernels

sys.path.insert(0, str(Path(__file__).parents[1]))
from _namespaces import make_namespace

rng = np.random.default_rng(12)
GENERIC = ("numpy", "strict", "strict-device1", "torch")


def _entries(name):
    table = kernels.registered(name)
    return table["numpy"], table["generic"]


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _generic(name, ns, *args, **kw):
    """Run kernel ``name``'s generic entry on namespace ``ns`` (host arrays moved there)."""
    moved = [ns.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    return _entries(name)[1](ns.xp, *moved, **kw)


INDICES = {
    "repeats": (np.array([0, 2, 2, 1, 0, 2]),),
    "pairs-with-repeats": (np.array([0, 1, 1, 2]), np.array([3, 0, 0, 3])),
    "repeats-then-slice": (np.array([2, 2, 0]), slice(None)),
    "slice-then-repeats": (slice(1, None), np.array([3, 3, 1])),
    "negative": (np.array([-1, 0, -1]),),
    "slices": (slice(None, None, 2), slice(1, 3)),
    "ellipsis-newaxis": (Ellipsis, None, 2),
    "int": (1,),
}


@pytest.mark.parametrize("name", GENERIC)
@pytest.mark.parametrize("key", list(INDICES))
def test_gather_and_scatter_add_generic_equal_numpy(key, name):
    ns = make_namespace(name)
    index = INDICES[key]
    index = index[0] if len(index) == 1 else index
    a = rng.standard_normal((3, 4))
    gather_np, _ = _entries("gather")
    want = gather_np(np, a, index)
    got = _generic("gather", ns, a, index=index)
    assert ns.owns(got)
    _close(ns.to_numpy(got), want)
    g = rng.standard_normal(want.shape)
    scatter_np, _ = _entries("scatter_add")
    want_s = scatter_np(np, g, (3, 4), index)
    # the reference: np.add.at, which accumulates repeats
    ref = np.zeros((3, 4))
    np.add.at(ref, index, g)
    _close(want_s, ref)
    got_s = _generic("scatter_add", ns, g, (3, 4), index)
    assert ns.owns(got_s)
    _close(ns.to_numpy(got_s), ref)


@pytest.mark.parametrize("name", GENERIC)
def test_scatter_add_of_a_mask_and_of_many_repeats(name):
    ns = make_namespace(name)
    mask = rng.random((5, 6)) < 0.4
    g = rng.standard_normal(int(mask.sum()))
    ref = np.zeros((5, 6))
    ref[mask] = g
    _close(ns.to_numpy(_generic("scatter_add", ns, g, (5, 6), mask)), ref)
    # 200 picks of 7 rows: every row named many times
    idx = rng.integers(0, 7, 200)
    g2 = rng.standard_normal((200, 3))
    ref2 = np.zeros((7, 3))
    np.add.at(ref2, idx, g2)
    _close(ns.to_numpy(_generic("scatter_add", ns, g2, (7, 3), idx)), ref2)
    _close(_entries("scatter_add")[0](np, g2, (7, 3), idx), ref2)


@pytest.mark.parametrize("name", GENERIC)
def test_segment_sum_accumulates_repeats(name):
    ns = make_namespace(name)
    pos = np.array([4, 0, 4, 4, 1])
    vals = rng.standard_normal((5, 2, 3))
    ref = np.zeros((6, 2, 3))
    np.add.at(ref, pos, vals)
    got = kernels.segment_sum(ns.xp, ns.asarray(vals), ns.asarray(pos), 6)
    _close(ns.to_numpy(got), ref)


@pytest.mark.parametrize("name", GENERIC)
@pytest.mark.parametrize("shape", [(200, 10), (5, 100), (3, 4, 5)])
def test_row_and_column_reductions(shape, name):
    ns = make_namespace(name)
    z = rng.standard_normal(shape)
    axis = -1
    for kname in ("max_keep", "sum_keep"):
        want = _entries(kname)[0](np, z, axis)
        _close(ns.to_numpy(_generic(kname, ns, z, axis)), want)
    want = _entries("column_sums")[0](np, z) if len(shape) == 2 else None
    if want is not None:
        _close(ns.to_numpy(_generic("column_sums", ns, z)), want)


@pytest.mark.parametrize("name", GENERIC)
def test_own_grad_copies(name):
    ns = make_namespace(name)
    g = ns.asarray(rng.standard_normal(4))
    got = _entries("own_grad")[1](ns.xp, g, set())
    assert got is not g
    _close(ns.to_numpy(got), ns.to_numpy(g))
    view = np.broadcast_to(np.ones(3), (2, 3))
    mine = _entries("own_grad")[0](np, view, set())
    assert mine.flags.writeable and mine.flags.owndata


CONV = [  # (N, *S, C), kernel, stride, dilation
    ((2, 6, 5, 3), (3, 2), (1, 1), (1, 1)),  # few channels: the column layout
    ((2, 7, 6, 6), (2, 3), (2, 1), (1, 2)),  # many channels: the row layout
    ((3, 11, 5), (3,), (2,), (2,)),
]


def _out(shape, kernel, stride, dilation):
    return tuple((p - d * (k - 1) - 1) // s + 1
                 for p, k, s, d in zip(shape[1:-1], kernel, stride, dilation))


@pytest.mark.parametrize("name", GENERIC)
@pytest.mark.parametrize("ones", [False, True])
@pytest.mark.parametrize("spec", CONV, ids=[str(c[0]) for c in CONV])
def test_im2col_and_col2im_generic_equal_numpy(spec, ones, name):
    ns = make_namespace(name)
    shape, kernel, stride, dilation = spec
    xpad = rng.standard_normal(shape)
    out = _out(shape, kernel, stride, dilation)
    want = _entries("im2col")[0](np, xpad, out, kernel, stride, dilation, ones=ones)
    got = _generic("im2col", ns, xpad, out, kernel, stride, dilation, ones=ones)
    assert ns.owns(got)
    _close(ns.to_numpy(got), want)
    k = int(np.prod(kernel))
    slabs = rng.standard_normal((k, shape[0]) + out + (shape[-1],))
    want = _entries("col2im")[0](np, slabs, shape, out, kernel, stride, dilation)
    got = _generic("col2im", ns, slabs, shape, out, kernel, stride, dilation)
    _close(ns.to_numpy(got), want)
    # col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>
    cols = _entries("im2col")[0](np, xpad, out, kernel, stride, dilation)
    c = slabs.reshape(k, -1, shape[-1])  # (K, N·P, C) -> the (N·P, K·C) layout
    c_mat = np.moveaxis(c, 0, 1).reshape(cols.shape)
    assert np.isclose(np.sum(cols * c_mat), np.sum(xpad * want))
