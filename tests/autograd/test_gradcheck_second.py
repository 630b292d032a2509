"""Second-order checks of every primitive: the vjp differentiated again (issue 14).

For each case of the finite-difference table (``gradcheck_cases*.py``), in
float64, with a random output cotangent u and random weights w_i, let

    S(x) = Σ_i <w_i, ∂<u, f(x)>/∂x_i>

(the first derivative, contracted).  ``grad(..., create_graph=True)``
records the first derivative; differentiating S again must match the
central difference of S along a random direction v, S computed by the plain
(raw, first-order) backward:

    <∇_j S, v>  ≈  (S(x_j + h v) - S(x_j - h v)) / 2h.

Every primitive has a case (``test_gradcheck.py`` checks it) and every
primitive must be written against a namespace (``test_every_primitive_is_namespaced``),
so a primitive without a second-order path fails here.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import PRIMITIVES

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import test_gradcheck
from gradcheck_cases import make_input

ALL = test_gradcheck.ALL
H = 1e-6
RTOL = 1e-6
ATOL = 1e-8


def _first_contracted(fn, xs, u, ws):
    """S(x) = Σ_i <w_i, ∂<u, f>/∂x_i> by the plain first-order backward."""
    ts = [cr.tensor(x, requires_grad=True, dtype=np.float64) for x in xs]
    fn(*ts).backward(u)
    return float(sum(np.sum(t.grad * w) for t, w in zip(ts, ws) if t.grad is not None))


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_second_order_finite_differences(case):
    rng = np.random.default_rng(zlib.crc32(("second" + case.id).encode()))
    xs = [make_input(spec, rng) for spec in case.args]
    ts = [cr.tensor(x, requires_grad=True, dtype=np.float64) for x in xs]
    out = case.fn(*ts)
    u = rng.standard_normal(out.shape)
    ws = [rng.standard_normal(x.shape) for x in xs]
    firsts = cr.autograd.grad(out, ts, u, create_graph=True, allow_unused=True)
    s = None
    for g, w in zip(firsts, ws):
        if g is not None:
            term = (g * w).sum()
            s = term if s is None else s + term
    assert s is not None, f"{case.id}: no first derivative at all"
    assert abs(float(s.data) - _first_contracted(case.fn, xs, u, ws)) <= 1e-10 * (
        1 + abs(float(s.data))), f"{case.id}: create_graph changed the first derivative"
    seconds = (cr.autograd.grad(s, ts, allow_unused=True) if s.requires_grad
               else (None,) * len(ts))
    for j, (x, sec) in enumerate(zip(xs, seconds)):
        v = rng.standard_normal(x.shape)
        analytic = 0.0 if sec is None else float(np.sum(sec.data * v))
        if sec is not None:
            assert sec.shape == x.shape and sec.dtype == np.float64
        plus, minus = list(xs), list(xs)
        plus[j] = x + H * v
        minus[j] = x - H * v
        numeric = (_first_contracted(case.fn, plus, u, ws)
                   - _first_contracted(case.fn, minus, u, ws)) / (2 * H)
        assert abs(analytic - numeric) <= RTOL * abs(numeric) + ATOL, (
            f"{case.id}: input {j}: second order gives {analytic!r}, "
            f"central difference of the first derivative {numeric!r}"
        )


def test_every_primitive_is_namespaced():
    """A primitive whose forward does not take ``xp`` has no second-order path: fail."""
    test_gradcheck._import_whole_package()
    raw_only = sorted(name for name, op in PRIMITIVES.items()
                      if not getattr(op.__wrapped__, "_namespaced", False))
    assert not raw_only, (
        f"primitives with a raw-only vjp (no create_graph): {raw_only}. Write the "
        "forward as fwd(xp, *arrays) against the namespace it receives (engine.py)."
    )


def test_a_wrong_second_derivative_is_caught():
    """The checker itself: a vjp right at first order but wrong under GRAPH fails it."""

    def cube(xp, a):
        # the vjp 3 g a² as written; under GRAPH it drops a factor: its
        # derivative would be 3 g a instead of 6 g a
        if getattr(xp, "differentiable", False):
            return a * a * a, lambda g, need: (g * 3 * (a * a).detach() + 0 * a,)
        return a * a * a, lambda g, need: (g * 3 * a * a,)

    bad = cr.autograd.primitive(cube)
    try:
        from gradcheck_cases import Case

        with pytest.raises(AssertionError, match="central difference"):
            test_second_order_finite_differences(Case("cube", "cube", bad, ((3,),)))
    finally:
        del PRIMITIVES["cube"]
