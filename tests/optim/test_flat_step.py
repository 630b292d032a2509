"""Small groups updated as one flat array give exactly the per-parameter numbers."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.optim import optimizer as base

CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.02}),
    ("Adagrad", {"lr": 0.05, "initial_accumulator_value": 0.1}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
]
IDS = [f"{n}-{'-'.join(k for k in kw if k != 'lr') or 'plain'}" for n, kw in CASES]


def _params(seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    shapes = [(7, 5), (7,), (3, 7), (3,), (2, 3, 4)]
    return [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in shapes]


def _run(name, kwargs, chunked, steps, *, skip_at=None, reload_at=None, dtype=np.float32):
    params = _params(0, dtype)
    held = [p.data for p in params]  # arrays taken before: must see every update
    opt = getattr(cr.optim, name)(params, chunked=chunked, **kwargs)
    rng = np.random.default_rng(1)
    for k in range(steps):
        for i, p in enumerate(params):
            g = rng.standard_normal(p.shape).astype(dtype)
            if k % 5 == 0:
                g[..., 0] = 0  # entries whose state decays, flushed on schedule
            p.grad = None if (skip_at == k and i == 1) else g
        opt.step()
        if reload_at == k:
            saved = opt.state_dict()
            opt = getattr(cr.optim, name)(params, chunked=chunked, **kwargs)
            opt.load_state_dict(saved)
        opt.zero_grad()
    for p, a in zip(params, held):
        assert p.data is a
    return params, opt


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("event", ["none", "skip", "reload"])
def test_flat_path_equals_per_parameter_path(name, kwargs, event):
    steps = 2 * base.FLUSH_EVERY + 3
    extra = {"skip": {"skip_at": 4}, "reload": {"reload_at": 6}}.get(event, {})
    flat_params, flat_opt = _run(name, kwargs, None, steps, **extra)
    plain_params, plain_opt = _run(name, kwargs, False, steps, **extra)
    for a, b in zip(flat_params, plain_params):
        np.testing.assert_array_equal(a.data, b.data)
    sa, sb = flat_opt.state_dict(), plain_opt.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for i in sa["state"]:
        assert sa["state"][i].keys() == sb["state"][i].keys()
        for k, v in sa["state"][i].items():
            np.testing.assert_array_equal(v, sb["state"][i][k], err_msg=f"{i} {k}")
            if isinstance(v, np.ndarray):
                assert v.shape == flat_params[i].shape


def test_flat_state_entries_are_views_and_edits_are_seen():
    params = _params(0)
    opt = cr.optim.SGD(params, lr=0.1, momentum=0.9)
    for p in params:
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    buf = opt.state[params[0]]["momentum_buffer"]
    assert buf.shape == params[0].shape
    # the user replaces one state entry: the next step uses it
    opt.state[params[1]]["momentum_buffer"] = np.full(params[1].shape, 10.0, np.float32)
    before = params[1].data.copy()
    opt.step()
    np.testing.assert_allclose(params[1].data, before - 0.1 * (10.0 * 0.9 + 1.0), rtol=1e-6)


def test_group_over_the_limit_steps_per_parameter(monkeypatch):
    monkeypatch.setattr(base, "CHUNK", 10)
    params = _params(0)
    opt = cr.optim.Adam(params, lr=0.1, chunked=None)
    for p in params:
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    assert opt._flat[0].rejected
    assert all(opt.state[p]["step"] == 1 for p in params)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_optimiser_steps_its_own_state(how):
    import copy
    import pickle

    def grads(params, k):
        for p in params:
            p.grad = np.full(p.shape, 0.1 * (k + 1), np.float32)

    params = _params(0)
    opt = cr.optim.Adam(params, lr=0.01)
    grads(params, 0)
    opt.step()
    if how == "deepcopy":
        params2, opt2 = copy.deepcopy((params, opt))
    else:
        params2, opt2 = pickle.loads(pickle.dumps((params, opt)))
    plain = cr.optim.Adam(_params(0), lr=0.01, chunked=False)
    grads(plain.param_groups[0]["params"], 0)
    plain.step()
    for k in range(1, 4):
        for ps, o in ((params, opt), (params2, opt2), (plain.param_groups[0]["params"], plain)):
            grads(ps, k)
            o.step()
    ref = plain.param_groups[0]["params"]
    for a, b, c in zip(params, params2, ref):
        np.testing.assert_array_equal(a.data, c.data)
        np.testing.assert_array_equal(b.data, c.data)
    for a, b, c in zip(params, params2, ref):
        np.testing.assert_array_equal(opt.state[a]["exp_avg"], plain.state[c]["exp_avg"])
        np.testing.assert_array_equal(opt2.state[b]["exp_avg"], plain.state[c]["exp_avg"])
