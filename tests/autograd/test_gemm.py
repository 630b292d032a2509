"""Blocked products on the calling thread equal the plain product."""

import numpy as np
import pytest

from chainrule.autograd import _gemm


@pytest.mark.parametrize("m, k, n", [
    (8, 16, 32),        # one block
    (4096, 16, 16),     # blocks of rows
    (32, 6272, 145),    # a long inner axis: blocks of the sum
    (20, 20, 4000),     # blocks of columns
    (2000, 3, 2000),    # rows of 87: still blocks of rows
    (600, 600, 600),    # large: left to BLAS whole
])
@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_here_equals_the_product(m, k, n, transposed):
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    if transposed:  # the views backward passes in (x.T, weight.T)
        a = np.ascontiguousarray(a.T).T
        b = np.ascontiguousarray(b.T).T
    expected = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 * np.sqrt(k) * np.abs(expected).max()
    out = np.full((m, n), np.nan, np.float32)
    for got in (_gemm.matmul_here(a, b), _gemm.matmul_here(a, b, out=out),
                _gemm.matmul(a, b), _gemm.matmul(a, b, here=True)):
        assert got.shape == (m, n) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=tol)
    assert np.isfinite(out).all()
