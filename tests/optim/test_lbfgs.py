"""LBFGS against torch.optim.LBFGS: the same iterates on an MLP in float64 (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.optim.line_search import cubic_interpolate

SHAPES = [(6, 10), (10,), (10, 3), (3,)]


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 6))
    y = rng.integers(0, 3, 40)
    params = [rng.standard_normal(s) * 0.5 for s in SHAPES]
    return x, y, params


def _run_chainrule(steps, **kw):
    x, y, init = _problem()
    ps = [cr.tensor(p, requires_grad=True, dtype=np.float64) for p in init]
    opt = cr.optim.LBFGS(ps, **kw)
    xt = cr.tensor(x, dtype=np.float64)

    def closure():
        opt.zero_grad()
        h = F.tanh(F.linear(xt, ps[0], ps[1]))
        loss = F.cross_entropy(F.linear(h, ps[2], ps[3]), y)
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(steps)]
    return losses, [p.data.copy() for p in ps], opt


def _run_torch(steps, **kw):
    x, y, init = _problem()
    ps = [torch.tensor(p, requires_grad=True) for p in init]
    opt = torch.optim.LBFGS(ps, **kw)
    xt, yt = torch.tensor(x), torch.as_tensor(y)

    def closure():
        opt.zero_grad()
        h = torch.tanh(xt @ ps[0] + ps[1])
        loss = TF.cross_entropy(h @ ps[2] + ps[3], yt)
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    return losses, [p.detach().numpy() for p in ps], opt


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("kw", [{}, {"lr": 0.5, "max_iter": 3, "history_size": 4},
                                {"max_iter": 2}, {"max_iter": 6, "max_eval": 9}],
                         ids=["defaults", "short-history", "max-iter-2", "max-eval-9"])
def test_follows_torch_over_15_closure_steps(line_search_fn, kw):
    ours, p_ours, opt = _run_chainrule(15, line_search_fn=line_search_fn, **kw)
    theirs, p_theirs, topt = _run_torch(15, line_search_fn=line_search_fn, **kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert ours[-1] < ours[0] * 0.9  # it did optimise
    st, tst = opt.state[opt._params[0]], topt.state[topt._params[0]]
    assert st["func_evals"] == tst["func_evals"] and st["n_iter"] == tst["n_iter"]
    for a, b in zip(p_ours, p_theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_cubic_interpolate_finds_the_minimum_of_a_cubic():
    # φ(t) = (t - 0.7)² (t + 2): minimum at 0.7 inside [0, 1]
    phi = lambda t: (t - 0.7) ** 2 * (t + 2)
    dphi = lambda t: 2 * (t - 0.7) * (t + 2) + (t - 0.7) ** 2
    t = cubic_interpolate(0.0, phi(0.0), dphi(0.0), 1.0, phi(1.0), dphi(1.0))
    assert abs(t - 0.7) < 1e-12


def test_state_dict_round_trip_continues_identically():
    _, _, opt = _run_chainrule(3, line_search_fn="strong_wolfe")
    saved = opt.state_dict()
    losses_a, _, _ = _run_chainrule(5, line_search_fn="strong_wolfe")
    assert saved["state"][0]["n_iter"] > 0
    assert saved["param_groups"][0]["line_search_fn"] == "strong_wolfe"
    saved["state"][0]["old_dirs"].clear()  # a deep copy: the optimiser keeps its own
    assert len(opt.state[opt._params[0]]["old_dirs"]) > 0
    assert losses_a[0] > losses_a[-1]


def test_bad_arguments_are_clear_errors():
    p = [cr.tensor([1.0], requires_grad=True)]
    with pytest.raises(ValueError, match="line_search_fn"):
        cr.optim.LBFGS(p, line_search_fn="armijo")
    with pytest.raises(ValueError, match="lr > 0"):
        cr.optim.LBFGS(p, lr=0)
    with pytest.raises(RuntimeError, match="closure"):
        cr.optim.LBFGS(p).step()
