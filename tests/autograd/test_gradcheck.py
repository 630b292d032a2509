"""Float64 finite-difference checks of every registered primitive.

For each case (table in ``gradcheck_cases.py``) and each input x_i, with a
random output cotangent u and a random direction v (HIPS ``check_grads``):

    <grad_i, v>  ≈  (L(x_i + h v) - L(x_i - h v)) / 2h,   L = <u, f(x)>

where grad_i comes from ``backward(u)``.  The central difference has error
O(h²) + O(ε/h); with h = 1e-6 in float64 both are far below the tolerance.
"""

from __future__ import annotations

import importlib.util
import pkgutil
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import PRIMITIVES

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from gradcheck_cases import CASES, make_input


def _load_extra_case_files():
    """Import every ``gradcheck_cases_<topic>.py`` beside this file."""
    for path in sorted(HERE.glob("gradcheck_cases_*.py")):
        name = f"_gradcheck_cases_{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def _import_whole_package():
    """Import all of chainrule so that every primitive is registered."""
    for info in pkgutil.walk_packages(cr.__path__, "chainrule."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


_load_extra_case_files()
ALL = [c for cases in CASES.values() for c in cases]

H = 1e-6
RTOL = 1e-6
ATOL = 1e-8


def _loss(fn, xs, u):
    with cr.no_grad():
        out = fn(*[cr.tensor(x, dtype=np.float64) for x in xs])
    return float(np.sum(out.data * u))


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_finite_differences(case):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    xs = [make_input(spec, rng) for spec in case.args]
    tensors = [cr.tensor(x, requires_grad=True, dtype=np.float64) for x in xs]
    out = case.fn(*tensors)
    assert out.dtype == np.float64, f"{case.id}: float64 inputs gave {out.dtype}"
    u = rng.standard_normal(out.shape)
    out.backward(u)
    for i, (x, t) in enumerate(zip(xs, tensors)):
        assert t.grad is not None, f"{case.id}: input {i} got no gradient"
        assert t.grad.shape == x.shape and t.grad.dtype == np.float64
        v = rng.standard_normal(x.shape)
        analytic = float(np.sum(t.grad * v))
        shifted = [list(xs), list(xs)]
        shifted[0][i] = x + H * v
        shifted[1][i] = x - H * v
        numeric = (_loss(case.fn, shifted[0], u) - _loss(case.fn, shifted[1], u)) / (2 * H)
        assert abs(analytic - numeric) <= RTOL * abs(numeric) + ATOL, (
            f"{case.id}: input {i}: vjp gives {analytic!r}, "
            f"central difference {numeric!r}"
        )


def test_every_primitive_has_a_case():
    """A new primitive without a finite-difference case fails here."""
    _import_whole_package()
    missing = sorted(set(PRIMITIVES) - set(CASES))
    assert not missing, (
        f"primitives without a gradient check: {missing}. Add a case in "
        "tests/autograd/gradcheck_cases.py or a gradcheck_cases_<topic>.py beside it."
    )


def test_case_names_are_real():
    """Every case names a registered primitive or an ``F.`` composite (no typos)."""
    _import_whole_package()
    import chainrule.nn.functional as F

    for name in CASES:
        if name.startswith("F."):
            assert hasattr(F, name[2:]), f"no chainrule.nn.functional.{name[2:]}"
        else:
            assert name in PRIMITIVES, f"case for unknown primitive {name!r}"


def test_a_wrong_vjp_is_caught():
    """The checker itself: a primitive with a deliberately wrong vjp fails it."""

    def wrong_square(a):
        return a * a, lambda g, need: (g * a,)  # should be 2 g a

    bad = cr.autograd.primitive(wrong_square)
    try:
        with pytest.raises(AssertionError, match="central difference"):
            test_finite_differences(_case_of(bad))
    finally:
        del PRIMITIVES["wrong_square"]


def _case_of(fn):
    from gradcheck_cases import Case

    return Case("wrong_square", "wrong_square", fn, ((3,),))
