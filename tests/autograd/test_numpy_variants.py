"""NumPy variants of the primitives (``op.variant("numpy")``) equal their standard-only
forwards, run on NumPy too: forward values and gradients, every case of the table."""

from __future__ import annotations

import sys
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule._backend import kernels
from chainrule.autograd import PRIMITIVES

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import test_gradcheck
from gradcheck_cases import make_input

test_gradcheck._import_whole_package()
VARIANTS = sorted(name for name in PRIMITIVES if "numpy" in kernels.registered("op:" + name))
CASES = [c for c in test_gradcheck.ALL if c.name in VARIANTS]


def test_the_fast_ops_have_numpy_variants():
    for name in ("linear", "softmax_cross_entropy", "conv_nd", "max_pool_nd", "sum", "relu",
                 "batch_norm_train"):
        assert name in VARIANTS


@contextmanager
def _generic_on_numpy(name):
    """Serve NumPy with the op's standard-only forward for a while."""
    op = PRIMITIVES[name]
    fast = kernels.registered("op:" + name)["numpy"]
    op.variant("numpy")(op.__wrapped__)
    try:
        yield
    finally:
        op.variant("numpy")(fast)


def _run(case, xs, u):
    ts = [cr.tensor(x, requires_grad=True, dtype=np.float64) for x in xs]
    out = case.fn(*ts)
    out.backward(u)
    return out.data, [t.grad for t in ts]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_numpy_variant_equals_the_generic_forward(case):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    xs = [make_input(spec, rng) for spec in case.args]
    with cr.no_grad():
        shape = case.fn(*[cr.tensor(x, dtype=np.float64) for x in xs]).shape
    u = rng.standard_normal(shape)
    fast_out, fast_grads = _run(case, xs, u)
    with _generic_on_numpy(case.name):
        slow_out, slow_grads = _run(case, xs, u)
    assert type(slow_out) is np.ndarray
    np.testing.assert_allclose(slow_out, fast_out, rtol=1e-10, atol=1e-12)
    for g_fast, g_slow in zip(fast_grads, slow_grads):
        np.testing.assert_allclose(g_slow, g_fast, rtol=1e-10, atol=1e-12)
    # and the fast entry is back
    assert kernels.registered("op:" + case.name)["numpy"] is not PRIMITIVES[case.name].__wrapped__
