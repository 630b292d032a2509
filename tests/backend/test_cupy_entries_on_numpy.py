"""The CuPy entries of the kernel table, run on NumPy arrays through a stand-in ``cupy``.

CuPy is not installed in CI and no GPU is there, yet the CuPy entries'
logic (index unwrapping, repeated indices through ``cupyx.scatter_add``, the
strided im2col windows of both layouts, col2im's strided adds, the copy
rules of ``own_grad``) is plain array code: CuPy copies NumPy's API for all
of it.  Here ``cupy`` and ``cupyx`` are replaced in ``sys.modules`` by
stand-ins whose functions are NumPy's (``cupyx.scatter_add`` is
``np.add.at``, its documented equivalent), and every entry must give its
NumPy reference entry's result.  The elementwise kernels' generated CuPy
sources are checked in ``tests/backend/test_fused.py``; on a GPU,
``benchmarks/gpu_check.py`` runs all of them on CuPy itself.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from chainrule._backend import kernels

rng = np.random.default_rng(5)


@pytest.fixture
def cupy_entries(monkeypatch):
    cupy = types.ModuleType("cupy")
    for name in ("asarray", "zeros", "empty", "ascontiguousarray"):
        setattr(cupy, name, getattr(np, name))
    cupy.lib = np.lib
    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = np.add.at
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    from chainrule._backend import _cupy  # noqa: F401  (registers the entries)

    return lambda name: kernels.registered(name)["cupy"]


def _numpy_entry(name):
    return kernels.registered(name)["numpy"]


INDICES = [
    (np.array([0, 2, 2, 1, 0, 2]),),
    (np.array([0, 1, 1, 2]), np.array([3, 0, 0, 3])),
    (np.array([2, 2, 0]), slice(None)),
    (slice(1, None), np.array([3, 3, 1])),
    (slice(None, None, 2), slice(1, 3)),
    ([1, 1, 0],),
]


@pytest.mark.parametrize("index", INDICES, ids=range(len(INDICES)))
def test_gather_and_scatter_add(cupy_entries, index):
    index = index[0] if len(index) == 1 else index
    a = rng.standard_normal((3, 4))
    want = _numpy_entry("gather")(np, a, index)
    got = cupy_entries("gather")(np, a, index)
    np.testing.assert_array_equal(got, want)
    g = rng.standard_normal(np.shape(want))
    want = _numpy_entry("scatter_add")(np, g, a.shape, index)
    got = cupy_entries("scatter_add")(np, g, a.shape, index)
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_column_sums_and_own_grad(cupy_entries):
    g = rng.standard_normal((7, 3))
    np.testing.assert_allclose(cupy_entries("column_sums")(np, g), g.sum(axis=0), rtol=1e-14)
    own = cupy_entries("own_grad")
    assert own(np, g, set()) is g  # an array that owns its data is taken as it is
    assert own(np, g, {id(g)}) is not g  # already some leaf's grad: copied
    view = g[1:]
    got = own(np, view, set())
    assert got is not view and got.flags.owndata
    np.testing.assert_array_equal(got, view)


CONV = [
    ((2, 6, 6, 3), (3, 3), (1, 1), (1, 1)),      # few channels: the transposed layout
    ((2, 7, 5, 9), (2, 3), (2, 1), (1, 2)),      # many channels: row-major windows
    ((1, 9, 8), (3,), (2,), (2,)),               # 1-D
]


def _out(shape, kernel, stride, dilation):
    return tuple((n - d * (k - 1) - 1) // s + 1
                 for n, k, s, d in zip(shape[1:-1], kernel, stride, dilation))


@pytest.mark.parametrize("ones", [False, True])
@pytest.mark.parametrize("spec", CONV, ids=[str(c[0]) for c in CONV])
def test_im2col_and_col2im(cupy_entries, spec, ones):
    shape, kernel, stride, dilation = spec
    xpad = rng.standard_normal(shape)
    out = _out(shape, kernel, stride, dilation)
    want = _numpy_entry("im2col")(np, xpad, out, kernel, stride, dilation, ones=ones)
    got = cupy_entries("im2col")(np, xpad, out, kernel, stride, dilation, ones=ones)
    np.testing.assert_array_equal(got, want)
    slabs = rng.standard_normal((int(np.prod(kernel)), shape[0]) + out + (shape[-1],))
    want = _numpy_entry("col2im")(np, slabs, shape, out, kernel, stride, dilation)
    got = cupy_entries("col2im")(np, slabs, shape, out, kernel, stride, dilation)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    buf = np.full(shape, 7.0)  # a given output buffer is cleared first
    got = cupy_entries("col2im")(np, slabs, shape, out, kernel, stride, dilation, out=buf)
    np.testing.assert_allclose(got, want, rtol=1e-13)
