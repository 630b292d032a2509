"""The short-row reductions (NumPy kernel entries) give NumPy's values (they only run faster)."""

import numpy as np
import pytest

from chainrule._backend.kernels import kernel
from chainrule.autograd.ops import _column_sums


def _max_keep(z, axis):
    return kernel("max_keep", np)(np, z, axis)


def _sum_keep(z, axis):
    return kernel("sum_keep", np)(np, z, axis)


@pytest.mark.parametrize("shape", [(200, 10), (32, 33), (5, 100), (1, 1), (0, 7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_max_and_sum_match_numpy(shape, dtype):
    z = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    for axis in (1, -1):
        np.testing.assert_array_equal(_max_keep(z, axis), z.max(axis=axis, keepdims=True))
        got = _sum_keep(z, axis)
        assert got.shape == (shape[0], 1) and got.dtype == dtype
        np.testing.assert_allclose(got, z.sum(axis=axis, keepdims=True),
                                   rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("cols", [10, 40])
def test_row_max_propagates_nan_and_infinities(cols):
    z = np.zeros((4, cols), np.float32)
    z[0, 3] = np.nan
    z[1, :] = -np.inf
    z[2, 5] = np.inf
    got = _max_keep(z, 1)[:, 0]
    assert np.isnan(got[0]) and got[1] == -np.inf and got[2] == np.inf and got[3] == 0


def test_other_axes_and_ranks_fall_back_to_numpy():
    z = np.random.default_rng(1).standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(_max_keep(z, 1), z.max(axis=1, keepdims=True))
    np.testing.assert_array_equal(_sum_keep(z, -1), z.sum(axis=-1, keepdims=True))


def test_column_sums_write_into_out():
    g = np.random.default_rng(2).standard_normal((200, 100)).astype(np.float32)
    out = np.empty(100, np.float32)
    got = _column_sums(g, out=out)
    assert got is out
    np.testing.assert_allclose(out, g.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)
