"""The closure optimisers never write NaN/inf into parameters, and three formulas no other test pins.

- A closure whose loss (or gradient) is NaN or infinite, from the first call
  or after two finite ones, makes ``step`` raise :class:`NonFiniteStepError`
  (a FloatingPointError naming the optimiser, the step and the value) with the
  parameters and the optimiser's state exactly as before the step.
- BFGS rescales its first inverse Hessian to (yᵀs / yᵀy) I before the first
  update (Nocedal & Wright eq. 6.20): the matrix after one step is compared
  with that closed form.
- Newton's damping: one step on a quadratic is θ - (A + λI)⁻¹ g.
- Polak–Ribière's β is clipped at zero ("PR+") where it would be negative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim import BFGS, LBFGS, ConjugateGradient, Newton
from chainrule.optim._errors import NonFiniteStepError

CASES = [
    (LBFGS, {}),
    (LBFGS, {"line_search_fn": "strong_wolfe"}),
    (Newton, {}),
    (Newton, {"line_search_fn": "strong_wolfe"}),
    (BFGS, {}),
    (BFGS, {"line_search_fn": None}),
    (ConjugateGradient, {}),
]
IDS = ["lbfgs", "lbfgs-wolfe", "newton", "newton-wolfe", "bfgs", "bfgs-fixed", "cg"]
TARGET = np.array([1.0, -2.0, 0.5])


def _quartic(x, target):
    """Σ (x - c)⁴ + (x - c)²: a few iterations from 0, never done in two calls."""
    r = x - target
    return (r ** 4).sum() + (r ** 2).sum()


def _problem(opt_cls, kw, bad_from: int, bad=math.nan, where="loss"):
    """A quadratic whose closure turns ``bad`` from call number ``bad_from`` on."""
    x = cr.tensor(np.zeros(3), requires_grad=True, dtype=np.float64)
    opt = opt_cls([x], **kw)
    target = cr.tensor(TARGET, dtype=np.float64)
    calls = [0]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = _quartic(x, target)
        if calls[0] >= bad_from:
            if where == "loss":
                loss = loss * cr.tensor(bad, dtype=np.float64)
            else:  # a finite loss with a non-finite gradient: √|x| at 0
                loss = loss + ((x - x.detach()).abs() + 0.0).sqrt().sum()
        loss.backward()
        return loss

    return x, opt, closure, calls


def _snapshot(opt):
    state = opt.state_dict()["state"]
    return {i: {k: (np.array(v) if hasattr(v, "shape") else
                    [np.array(a) for a in v] if isinstance(v, list) else v)
                for k, v in st.items()} for i, st in state.items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for i in a:
        assert a[i].keys() == b[i].keys()
        for k in a[i]:
            if isinstance(a[i][k], list):
                assert len(a[i][k]) == len(b[i][k])
                for u, v in zip(a[i][k], b[i][k]):
                    np.testing.assert_array_equal(u, v)
            else:
                np.testing.assert_array_equal(a[i][k], b[i][k])


@pytest.mark.parametrize("opt_cls, kw", CASES, ids=IDS)
@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
def test_a_non_finite_loss_from_the_start_writes_nothing(opt_cls, kw, bad):
    x, opt, closure, _ = _problem(opt_cls, kw, bad_from=1, bad=bad)
    before = _snapshot(opt)
    with pytest.raises(NonFiniteStepError) as info:
        opt.step(closure)
    assert isinstance(info.value, FloatingPointError)
    msg = str(info.value)
    assert opt_cls.__name__ in msg and "step 1" in msg and str(bad) in msg, msg
    assert info.value.optimizer == opt_cls.__name__ and info.value.step == 1
    np.testing.assert_array_equal(x.data, np.zeros(3))
    _assert_same_state(before, _snapshot(opt))


@pytest.mark.parametrize("opt_cls, kw", CASES, ids=IDS)
@pytest.mark.parametrize("bad", [math.nan, -math.inf], ids=["nan", "-inf"])
def test_a_loss_turning_non_finite_after_two_calls_restores_the_step(opt_cls, kw, bad):
    # one good step first, so that the state to keep is not empty
    x, opt, closure, calls = _problem(opt_cls, dict(kw, max_iter=1), bad_from=10**9)
    opt.step(closure)
    start = x.data.copy()
    before = _snapshot(opt)
    assert before, "the first step left some state"
    opt.param_groups[0].update(max_iter=20, max_eval=25)
    calls[0] = 0

    def closure2():  # the same problem on x, bad from the third call of this step
        calls[0] += 1
        opt.zero_grad()
        loss = _quartic(x, cr.tensor(TARGET))
        if calls[0] >= 3:
            loss = loss * cr.tensor(bad, dtype=np.float64)
        loss.backward()
        return loss

    with pytest.raises(NonFiniteStepError, match=rf"{opt_cls.__name__}\.step \(step 2"):
        opt.step(closure2)
    assert calls[0] == 3
    np.testing.assert_array_equal(x.data, start)
    _assert_same_state(before, _snapshot(opt))
    # the optimiser still works afterwards
    calls[0] = -10**9
    opt.step(closure2)
    assert np.all(np.isfinite(x.data))


@pytest.mark.parametrize("opt_cls, kw", CASES, ids=IDS)
def test_a_non_finite_gradient_with_a_finite_loss_is_refused(opt_cls, kw):
    x, opt, closure, _ = _problem(opt_cls, kw, bad_from=1, where="grad")
    with pytest.raises(NonFiniteStepError, match="gradient holds 3 non-finite"):
        opt.step(closure)
    np.testing.assert_array_equal(x.data, np.zeros(3))


@pytest.mark.parametrize("opt_cls", [LBFGS, Newton], ids=["lbfgs", "newton"])
def test_a_huge_step_that_overflows_is_refused_not_written(opt_cls):
    # float32 x⁴: a step of lr=1e6 overflows the loss (LBFGS) or the parameters
    x = cr.tensor(np.full(4, 0.5, dtype=np.float32), requires_grad=True)
    opt = opt_cls([x], lr=1e6, max_iter=3)

    def closure():
        opt.zero_grad()
        loss = (x ** 4).sum()
        loss.backward()
        return loss

    with pytest.raises(NonFiniteStepError, match=opt_cls.__name__):
        opt.step(closure)
    np.testing.assert_array_equal(x.data, np.full(4, 0.5, dtype=np.float32))


def _quadratic(n=4, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag([1.0, 3.0, 10.0, 30.0][:n]) @ q.T
    return a, rng.standard_normal(n)


def _closure_for(opt, x, a, b):
    at, bt = cr.tensor(a, dtype=np.float64), cr.tensor(b, dtype=np.float64)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (at @ x)) - x @ bt
        loss.backward()
        return loss

    return closure


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_bfgs_first_inverse_hessian_is_scaled_then_updated(line_search):
    a, b = _quadratic()
    x0 = np.ones(4)
    x = cr.tensor(x0.copy(), requires_grad=True, dtype=np.float64)
    opt = BFGS([x], max_iter=1, lr=0.5, line_search_fn=line_search)
    opt.step(_closure_for(opt, x, a, b))
    s = x.data - x0
    y = (a @ x.data - b) - (a @ x0 - b)
    rho = 1.0 / (y @ s)
    m0 = (y @ s) / (y @ y) * np.eye(4)  # N&W eq. 6.20
    eye = np.eye(4)
    expected = (eye - rho * np.outer(s, y)) @ m0 @ (eye - rho * np.outer(y, s)) \
        + rho * np.outer(s, s)
    np.testing.assert_allclose(opt.state[x]["inverse_hessian"], expected, rtol=1e-12,
                               atol=1e-14)
    unscaled = (eye - rho * np.outer(s, y)) @ (eye - rho * np.outer(y, s)) + rho * np.outer(s, s)
    assert not np.allclose(expected, unscaled, rtol=1e-3)  # the test can tell them apart


@pytest.mark.parametrize("damping", [5.0, 100.0])
def test_newton_damping_gives_the_levenberg_marquardt_step(damping):
    a, b = _quadratic()
    x0 = np.array([1.0, -1.0, 2.0, 0.5])
    x = cr.tensor(x0.copy(), requires_grad=True, dtype=np.float64)
    opt = Newton([x], damping=damping, max_iter=1, cg_tol=1e-14)
    opt.step(_closure_for(opt, x, a, b))
    expected = x0 - np.linalg.solve(a + damping * np.eye(4), a @ x0 - b)
    np.testing.assert_allclose(x.data, expected, rtol=1e-10)
    assert not np.allclose(expected, np.linalg.solve(a, b), rtol=1e-2)  # damping mattered


@pytest.mark.parametrize("beta, expected", [("PR", -1.4), ("FR", -1.4 - 0.49 * 2.0)])
def test_polak_ribiere_beta_is_clipped_at_zero(beta, expected):
    # J = x² from x = 1 with an inexact search (c2 = 0.9): the first trial
    # t = min(1, 1/|g|)·lr = 0.15 is accepted, x₁ = 0.7, g₁ = 1.4 < g₀ = 2, so
    # β_PR = g₁(g₁ - g₀)/g₀² = -0.21 < 0 is clipped: d₁ = -g₁ (FR: -g₁ + 0.49 d₀)
    x = cr.tensor(np.array([1.0]), requires_grad=True, dtype=np.float64)
    opt = ConjugateGradient([x], lr=0.3, beta=beta, restart=100, max_iter=1, c2=0.9)

    def closure():
        opt.zero_grad()
        loss = (x ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(x.data, [0.7], rtol=1e-12)
    opt.step(closure)
    np.testing.assert_allclose(opt.state[x]["d"], [expected], rtol=1e-12)
