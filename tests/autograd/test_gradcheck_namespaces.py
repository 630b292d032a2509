"""Every primitive's forward and gradient on every namespace equal NumPy's (issue 12).

For each case of the finite-difference table (``gradcheck_cases*.py``, which
``test_gradcheck.py`` checks against central differences on NumPy) and each
namespace of the ``namespace`` fixture (array_api_strict on both its devices,
torch CPU tensors through array-api-compat): the same float64 inputs give the
same output and the same gradients from ``backward(u)`` as on NumPy, and the
output and gradients stay in that namespace and on that device.  Second order
(``grad(create_graph=True)`` differentiated again) is compared the same way on
array_api_strict's default device.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import test_gradcheck
from _namespaces import NAMESPACES, make_namespace
from gradcheck_cases import make_input

#: gaussian_nll_loss checks its variances with NumPy calls: the losses are
#: converted (and tested on every namespace) with the training code of issue 12
LATER = {"F.gaussian_nll_loss"}
ALL = [c for c in test_gradcheck.ALL if c.name not in LATER]
OTHERS = tuple(n for n in NAMESPACES if n != "numpy")
RTOL = 1e-9
ATOL = 1e-12


def _inputs(case, salt=""):
    rng = np.random.default_rng(zlib.crc32((salt + case.id).encode()))
    xs = [make_input(spec, rng) for spec in case.args]
    return rng, xs


def _run(case, xs, u, ns):
    ts = [cr.tensor(ns.asarray(x), requires_grad=True, dtype=np.float64) for x in xs]
    out = case.fn(*ts)
    out.backward(ns.asarray(u) if u is not None else None)
    return out, ts


def _close(got, want, what):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("name", OTHERS)
@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_forward_and_gradient_equal_numpy(case, name):
    ns = make_namespace(name)
    rng, xs = _inputs(case)
    with cr.no_grad():
        ref = case.fn(*[cr.tensor(x, dtype=np.float64) for x in xs])
    u = rng.standard_normal(ref.shape)
    want, want_ts = _run(case, xs, u, make_namespace("numpy"))
    got, ts = _run(case, xs, u, ns)
    assert ns.owns(got), f"{case.id}: output left {name}: {type(got.data)}"
    _close(ns.to_numpy(got), want.data, f"{case.id}: forward on {name}")
    for i, (t, w) in enumerate(zip(ts, want_ts)):
        assert t.grad is not None, f"{case.id}: input {i} got no gradient on {name}"
        assert ns.owns(t.grad), f"{case.id}: gradient {i} left {name}"
        assert tuple(t.grad.shape) == w.grad.shape
        _close(ns.to_numpy(t.grad), w.grad, f"{case.id}: gradient {i} on {name}")


def _second(case, xs, u, ws, ns):
    ts = [cr.tensor(ns.asarray(x), requires_grad=True, dtype=np.float64) for x in xs]
    out = case.fn(*ts)
    firsts = cr.autograd.grad(out, ts, ns.asarray(u), create_graph=True, allow_unused=True)
    s = None
    for g, w in zip(firsts, ws):
        if g is not None:
            term = (g * ns.asarray(w)).sum()
            s = term if s is None else s + term
    if s is None or not s.requires_grad:
        return None
    return cr.autograd.grad(s, ts, allow_unused=True)


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_second_order_equal_numpy_on_strict(case):
    ns = make_namespace("strict")
    rng, xs = _inputs(case, "second")
    with cr.no_grad():
        ref = case.fn(*[cr.tensor(x, dtype=np.float64) for x in xs])
    u = rng.standard_normal(ref.shape)
    ws = [rng.standard_normal(x.shape) for x in xs]
    want = _second(case, xs, u, ws, make_namespace("numpy"))
    got = _second(case, xs, u, ws, ns)
    assert (want is None) == (got is None)
    if want is None:
        return
    for j, (g, w) in enumerate(zip(got, want)):
        assert (g is None) == (w is None), f"{case.id}: second derivative {j} missing"
        if g is not None:
            assert ns.owns(g)
            _close(ns.to_numpy(g), w.data, f"{case.id}: second derivative {j} on strict")
