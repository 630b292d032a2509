"""A first-order step never writes non-finite values into parameters (issue 23).

A NaN or infinite gradient anywhere in the step raises NonFiniteStepError (a
FloatingPointError) naming the optimiser, the step, the parameter and the
value, before anything is written: every parameter and state entry (step
counts included) stays as it was, and the optimiser steps on normally once
the gradients are finite again.  A finite gradient whose update overflows
is refused too, and the parameters stay finite.
"""

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.optim import NonFiniteStepError

OPTIMISERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1}),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(OPTIMISERS)]


def _setup(name, kwargs, steps=2):
    rng = np.random.default_rng(0)
    params = [nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in [(4, 3), (3,)]]
    opt = getattr(cr.optim, name)(params, **kwargs)
    for _ in range(steps):
        for p in params:
            p.grad = rng.standard_normal(p.shape).astype(np.float32)
        opt.step()
    return params, opt


def _snapshot(params, opt):
    return [p.data.copy() for p in params], copy.deepcopy(opt.state_dict())


def _assert_same(before, params, opt):
    data, sd = before
    for a, p in zip(data, params):
        np.testing.assert_array_equal(p.data, a)
    now = opt.state_dict()
    assert now["state"].keys() == sd["state"].keys()
    for i, st in sd["state"].items():
        for k, v in st.items():
            np.testing.assert_array_equal(now["state"][i][k], v, err_msg=k)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name,kwargs", OPTIMISERS, ids=IDS)
def test_non_finite_gradient_is_refused_and_nothing_changes(name, kwargs, bad, path):
    params, opt = _setup(name, kwargs)
    before = _snapshot(params, opt)
    params[0].grad = np.ones((4, 3), np.float32)  # the first parameter's gradient is fine,
    g = np.ones(3, np.float32)
    g[1] = bad  # the second's is not
    params[1].grad = g
    with pytest.raises(NonFiniteStepError) as info:
        opt.step()
    message = str(info.value)
    assert isinstance(info.value, FloatingPointError)
    assert name in message and "step 3" in message and "parameter 1" in message
    assert str(float(bad)) in message and "unchanged" in message
    _assert_same(before, params, opt)
    params[1].grad = np.ones(3, np.float32)
    opt.step()  # finite again: the step goes on
    assert all(np.isfinite(p.data).all() for p in params)


@pytest.mark.parametrize("name,kwargs", OPTIMISERS[:1], ids=IDS[:1])
def test_a_fresh_parameter_gets_no_state_from_a_refused_step(name, kwargs, path):
    p = nn.Parameter(np.ones(3, np.float32))
    opt = cr.optim.Adam([p], lr=0.1)
    p.grad = np.array([1.0, np.nan, 1.0], np.float32)
    with pytest.raises(NonFiniteStepError, match="Adam step 1"):
        opt.step()
    assert not opt.state[p]
    np.testing.assert_array_equal(p.data, 1.0)


def test_an_overflowing_update_is_refused_and_parameters_stay_finite(path):
    p = nn.Parameter(np.full(5, 3e38, np.float32))
    opt = cr.optim.SGD([p], lr=1e6)
    p.grad = np.array([-1e33, 0.0, 1.0, -1e33, 0.0], np.float32)  # θ − εg overflows at 0 and 3
    with pytest.raises(NonFiniteStepError, match="SGD step 1") as info:
        opt.step()
    assert "inf" in str(info.value)
    assert np.isfinite(p.data).all()
    assert p.data[0] == np.float32(3e38) and p.data[3] == np.float32(3e38)
