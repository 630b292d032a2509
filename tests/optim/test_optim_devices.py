"""Optimisers on every array namespace: against torch.optim, state where the parameter is.

The problem is test_optim_vs_torch's (g = h ⊙ θ + noise_k, 100 steps), with
our parameters, gradients and state in the namespace under test (NumPy,
array_api_strict on its default device and on "device1", which refuses
silent conversion to NumPy as CuPy does, and torch CPU tensors through
array-api-compat).
"""

import numpy as np
import pytest
import torch
from test_optim_vs_torch import CONFIGS, STEPS, _assert_close, _problem

import chainrule as cr
from chainrule import nn
from chainrule._backend import device_of, namespace_of


def _run_ours(namespace, make, steps=STEPS, frozen=None, check_state=True):
    init, curv, noise = _problem()
    params = [nn.Parameter(namespace.asarray(a)) for a in init]
    curv = [namespace.asarray(c) for c in curv]
    opt = make(params)
    for k in range(steps):
        for i, p in enumerate(params):
            if i != frozen:
                p.grad = curv[i] * p.data + namespace.asarray(noise[k][i])
        opt.step()
        opt.zero_grad()
    if check_state:
        _assert_where(namespace, params, opt)
    return params, opt


def _assert_where(namespace, params, opt):
    """Parameters and every state array live in the namespace and on the device."""
    arrays = 0
    for p in params:
        assert namespace_of(p.data) is namespace_of(namespace.asarray(np.zeros(1)))
        assert device_of(p.data) == namespace.device
        for v in opt.state[p].values():
            if hasattr(v, "shape") and not isinstance(v, (int, float, np.generic)):
                assert type(v) is type(p.data)
                assert device_of(v) == namespace.device
                arrays += 1
    return arrays


def _run_torch(name, kwargs, frozen=None):
    init, curv, noise = _problem()
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for k in range(STEPS):
        for i, t in enumerate(theirs):
            if i != frozen:
                t.grad = torch.from_numpy(curv[i]) * t.detach() + torch.from_numpy(noise[k][i])
        topt.step()
        topt.zero_grad()
    return [t.detach().numpy() for t in theirs]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_matches_torch_on_every_namespace(namespace, name, kwargs):
    params, _ = _run_ours(namespace, lambda ps: getattr(cr.optim, name)(ps, **kwargs))
    ours = [namespace.to_numpy(p.data) for p in params]
    _assert_close(ours, _run_torch(name, kwargs))
    init = _problem()[0]
    assert max(np.abs(a - b).max() for a, b in zip(ours, init)) > 0.1


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
@pytest.mark.parametrize("ns_name", ["strict", "strict-device1"])
def test_generic_entries_give_numpys_numbers(namespaces, ns_name, name, kwargs):
    """array_api_strict computes as NumPy does: the plain path of each update
    (the formula on whole arrays) makes the compiled loop's operations in its
    order, so the same bits."""
    ns = namespaces(ns_name)
    numpy_ns = namespaces("numpy")
    ours, opt = _run_ours(ns, lambda ps: getattr(cr.optim, name)(ps, **kwargs))
    ref, ref_opt = _run_ours(numpy_ns, lambda ps: getattr(cr.optim, name)(ps, **kwargs))
    for p, q in zip(ours, ref):
        np.testing.assert_array_equal(ns.to_numpy(p.data), q.data)
        for k, v in ref_opt.state[q].items():
            mine = opt.state[p][k]
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(ns.to_numpy(mine), v)
            else:
                assert mine == v


@pytest.mark.parametrize("name,kwargs", CONFIGS[1::3], ids=[n for n, _ in CONFIGS[1::3]])
def test_parameter_without_gradient_is_skipped(namespace, name, kwargs):
    params, _ = _run_ours(
        namespace, lambda ps: getattr(cr.optim, name)(ps, **kwargs), frozen=1
    )
    _assert_close([namespace.to_numpy(p.data) for p in params], _run_torch(name, kwargs, 1))
    np.testing.assert_array_equal(namespace.to_numpy(params[1].data), _problem()[0][1])


def test_every_update_is_one_elementwise_kernel():
    from chainrule._backend.fused import Elementwise
    from chainrule.optim import adagrad, adam, rmsprop, sgd

    for k in (adam.adam_update, sgd.sgd_update, rmsprop.rmsprop_update, adagrad.adagrad_update):
        assert isinstance(k, Elementwise), k


def test_numpy_step_goes_through_the_numpy_entry(monkeypatch):
    """The NumPy path is today's in-place one: its arrays are never rebound."""
    init, curv, noise = _problem()
    params = [nn.Parameter(a.copy()) for a in init]
    arrays = [p.data for p in params]
    opt = cr.optim.Adam(params, lr=0.01)
    for k in range(3):
        for i, p in enumerate(params):
            p.grad = curv[i] * p.data + noise[k][i]
        opt.step()
    assert all(p.data is a for p, a in zip(params, arrays))


@pytest.mark.parametrize("ns_name", ["strict", "strict-device1", "torch"])
def test_generic_step_updates_in_place(namespaces, ns_name):
    ns = namespaces(ns_name)
    init, curv, noise = _problem()
    params = [nn.Parameter(ns.asarray(a)) for a in init]
    arrays = [p.data for p in params]
    opt = cr.optim.SGD(params, lr=0.05, momentum=0.9)
    for k in range(3):
        for i, p in enumerate(params):
            p.grad = ns.asarray(curv[i]) * p.data + ns.asarray(noise[k][i])
        opt.step()
    assert all(p.data is a for p, a in zip(params, arrays))
    # (a fresh copy: asarray may share memory with the host array it was given)
    assert not np.array_equal(ns.to_numpy(params[0].data), _problem()[0][0])


@pytest.mark.parametrize("name,kwargs", [
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1}),
])
@pytest.mark.parametrize("ns_name", ["strict-device1", "torch"])
def test_state_follows_parameters_moved_by_module_to(namespaces, ns_name, name, kwargs):
    """An optimiser built on the host keeps working after model.to(...):
    its state moves with the parameters, and the numbers are unchanged."""
    ns = namespaces(ns_name)
    init, curv, noise = _problem()

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            for i, a in enumerate(init):
                setattr(self, f"p{i}", nn.Parameter(a.copy()))

    def run(move):
        model = Holder()
        params = list(model.parameters())
        opt = getattr(cr.optim, name)(params, **kwargs)
        for k in range(20):
            if move and k == 7:
                model.to(xp=ns.xp, device=ns.device)
                assert all(p is q for p, q in zip(params, model.parameters()))
            if move and k == 14:
                model.to("cpu")
            for i, p in enumerate(params):
                c = curv[i] if isinstance(p.data, np.ndarray) else ns.asarray(curv[i])
                n = noise[k][i] if isinstance(p.data, np.ndarray) else ns.asarray(noise[k][i])
                p.grad = c * p.data + n
            opt.step()
            if move and 7 <= k < 14:
                assert _assert_where(ns, params, opt) > 0
        return [ns.to_numpy(p.data) for p in params]

    moved, stayed = run(True), run(False)
    for a, b in zip(moved, stayed):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("src,dst", [
    ("strict-device1", "numpy"),
    ("numpy", "strict-device1"),
    ("torch", "strict"),
])
def test_state_dict_loads_across_devices(namespaces, src, dst):
    """A checkpoint (host arrays) of an optimiser on one device resumes on another."""
    from chainrule._backend import to_host

    a, b = namespaces(src), namespaces(dst)
    kwargs = {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}
    init, curv, noise = _problem()

    def steps(ns, params, opt, ks):
        for k in ks:
            for i, p in enumerate(params):
                p.grad = ns.asarray(curv[i]) * p.data + ns.asarray(noise[k][i])
            opt.step()

    pa = [nn.Parameter(a.asarray(x)) for x in init]
    oa = cr.optim.AdamW(pa, **kwargs)
    steps(a, pa, oa, range(10))
    saved = oa.state_dict()
    # what a checkpoint writes: host arrays
    host = {
        "state": {
            i: {k: (np.array(to_host(v)) if hasattr(v, "shape") else v) for k, v in st.items()}
            for i, st in saved["state"].items()
        },
        "param_groups": saved["param_groups"],
    }
    assert all(isinstance(v, np.ndarray) for v in host["state"][0].values()
               if hasattr(v, "shape"))
    pb = [nn.Parameter(b.asarray(a.to_numpy(p.data))) for p in pa]
    ob = cr.optim.AdamW(pb, **kwargs)
    ob.load_state_dict(host)
    _assert_where(b, pb, ob)
    steps(a, pa, oa, range(10, 20))
    steps(b, pb, ob, range(10, 20))
    for p, q in zip(pa, pb):
        np.testing.assert_allclose(a.to_numpy(p.data), b.to_numpy(q.data), rtol=1e-6, atol=1e-7)


def test_state_dict_keeps_state_where_it_lives(namespaces):
    ns = namespaces("strict-device1")
    _, opt = _run_ours(ns, lambda ps: cr.optim.Adam(ps, lr=0.01), steps=3)
    saved = opt.state_dict()
    st = saved["state"][0]
    assert st["step"] == 3
    assert device_of(st["exp_avg"]) == ns.device
    # a copy, not the live array
    live = opt.state[opt.param_groups[0]["params"][0]]["exp_avg"]
    assert st["exp_avg"] is not live


def test_gradient_of_another_namespace_is_moved_onto_the_parameter(namespaces):
    ns = namespaces("strict-device1")
    p = nn.Parameter(ns.asarray(np.ones(4, np.float32)))
    opt = cr.optim.SGD([p], lr=0.5)
    p.grad = np.full(4, 2.0)  # host float64 gradient
    opt.step()
    assert device_of(p.data) == ns.device
    np.testing.assert_array_equal(ns.to_numpy(p.data), np.zeros(4, np.float32))


def test_wrong_gradient_shape_is_named(namespace):
    p = nn.Parameter(namespace.asarray(np.ones((2, 3), np.float32)))
    opt = cr.optim.Adam([p])
    p.grad = namespace.asarray(np.ones(5, np.float32))
    with pytest.raises(ValueError, match="Expected a gradient of shape"):
        opt.step()


def test_integer_parameters_are_refused_on_any_namespace(namespace):
    p = nn.Parameter(namespace.asarray(np.ones(3, np.float32)))
    p.data = namespace.asarray(np.ones(3, np.int64))
    with pytest.raises(TypeError, match="floating-point parameters"):
        cr.optim.SGD([p], lr=0.1)


def test_averaged_model_on_every_namespace(namespace):
    from chainrule.optim.swa_utils import AveragedModel

    class One(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(namespace.asarray(np.zeros(3, np.float32)))

    model = One()
    swa = AveragedModel(model)
    ema = AveragedModel(model, decay=0.5)
    for k in range(1, 4):
        model.w.data[...] = namespace.asarray(np.full(3, float(k), np.float32))
        swa.update_parameters(model)
        ema.update_parameters(model)
    assert device_of(swa.module.w.data) == namespace.device
    np.testing.assert_allclose(namespace.to_numpy(swa.module.w.data), 2.0)  # mean of 1, 2, 3
    np.testing.assert_allclose(namespace.to_numpy(ema.module.w.data), 2.25)  # 1 → 1.5 → 2.25


def test_a_subclass_update_runs_on_every_namespace(namespaces):
    class Plain(cr.optim.Optimizer):
        _counts_steps = False

        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

        def _update(self, group, theta, g, state, step):
            theta -= group["lr"] * g

    ns = namespaces("strict")
    p = nn.Parameter(ns.asarray(np.ones(3, np.float32)))
    p.grad = ns.asarray(np.ones(3, np.float32))
    Plain([p]).step()
    np.testing.assert_allclose(ns.to_numpy(p.data), 0.9)
    q = nn.Parameter(np.ones(3, np.float32))
    q.grad = np.ones(3, np.float32)
    Plain([q]).step()  # NumPy: its own _update
    np.testing.assert_allclose(q.data, 0.9)
