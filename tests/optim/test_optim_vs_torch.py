"""Every optimiser and option against torch.optim, parameter by parameter.

Both libraries start from the same parameters and see the same gradients:
g = h ⊙ θ + noise_k (a convex quadratic plus a shared noise sequence), each
computed from the library's own float32 parameters, for 100 steps.  Each
config runs on both kernel paths (``path``, tests/optim/conftest.py): the
compiled update and the plain NumPy one.

Non-default hyperparameters matter: with eps=1e-8, moving Adam's δ inside
the bias correction (or RMSprop's inside the root) changes nothing
visible, so the table also runs a large eps.
"""

import itertools

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

SHAPES = [(7, 5), (5,), (3, 4, 2)]
STEPS = 100

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.7, "dampening": 0.3, "weight_decay": 0.02}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.1, "eps": 0.1}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "eps": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.95, "eps": 0.1, "centered": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "betas": (0.5, 0.9), "amsgrad": True}),
    ("Adam", {"lr": 0.01, "eps": 0.1}),
    ("Adam", {"lr": 0.01, "eps": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 0.1, "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.2, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "eps": 0.1}),
    ("AdamW", {"lr": 0.01, "eps": 0.1, "weight_decay": 0.1, "amsgrad": True}),
]

def _problem(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    curv = [rng.uniform(0.5, 2.0, s).astype(np.float32) for s in SHAPES]
    noise = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]
    return init, curv, noise


def _run_pair(make_ours, make_torch, path=None, frozen=None):
    """Run both optimisers for STEPS steps; return (ours, theirs) params."""
    init, curv, noise = _problem()
    ours = [nn.Parameter(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = make_ours(ours)
    topt = make_torch(theirs)
    for k in range(STEPS):
        for i, (p, t) in enumerate(zip(ours, theirs)):
            if i == frozen:
                continue
            p.grad = curv[i] * p.data + noise[k][i]
            t.grad = torch.from_numpy(curv[i]) * t.detach() + torch.from_numpy(noise[k][i])
        opt.step()
        topt.step()
        opt.zero_grad()
        topt.zero_grad()
    return [p.data for p in ours], [t.detach().numpy() for t in theirs]


def _assert_close(ours, theirs):
    for a, b in zip(ours, theirs):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6 * scale)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_matches_torch(name, kwargs, path):
    ours, theirs = _run_pair(
        lambda ps: getattr(cr.optim, name)(ps, **kwargs),
        lambda ts: getattr(torch.optim, name)(ts, **kwargs),
        path=path,
    )
    _assert_close(ours, theirs)
    # the run really moved the parameters
    init = _problem()[0]
    assert max(np.abs(a - b).max() for a, b in zip(ours, init)) > 0.1


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SGD", {"momentum": 0.9}),
        ("Adam", {"betas": (0.8, 0.99)}),
        ("RMSprop", {"momentum": 0.5, "centered": True}),
    ],
)
def test_param_groups_with_own_hyperparameters(name, kwargs, path):
    def groups(ps):
        return [
            {"params": ps[:1], "lr": 0.02},
            {"params": ps[1:], "lr": 0.005, "weight_decay": 0.1, **kwargs},
        ]

    ours, theirs = _run_pair(
        lambda ps: getattr(cr.optim, name)(groups(ps), lr=0.01),
        lambda ts: getattr(torch.optim, name)(groups(ts), lr=0.01),
        path=path,
    )
    _assert_close(ours, theirs)


@pytest.mark.parametrize("name,kwargs", CONFIGS[1::3], ids=[n for n, _ in CONFIGS[1::3]])
def test_parameter_without_gradient_is_skipped_like_torch(name, kwargs):
    init = _problem()[0]
    ours, theirs = _run_pair(
        lambda ps: getattr(cr.optim, name)(ps, **kwargs),
        lambda ts: getattr(torch.optim, name)(ts, **kwargs),
        frozen=1,
    )
    _assert_close(ours, theirs)
    np.testing.assert_array_equal(ours[1], init[1])


def _mlp_pair(sizes, seed=0):
    cr.manual_seed(seed)
    layers = []
    tlayers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        lin = nn.Linear(a, b)
        lin.bias.data[...] = np.linspace(-0.1, 0.1, b, dtype=np.float32)
        tlin = torch.nn.Linear(a, b)
        with torch.no_grad():
            tlin.weight.copy_(torch.from_numpy(lin.weight.data.T.copy()))
            tlin.bias.copy_(torch.from_numpy(lin.bias.data.copy()))
        layers.append(lin)
        tlayers.append(tlin)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            tlayers.append(torch.nn.ReLU())
    return nn.Sequential(*layers), torch.nn.Sequential(*tlayers)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("Adam", {"lr": 1e-2}),
        ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        ("RMSprop", {"lr": 1e-3, "momentum": 0.5}),
    ],
)
def test_training_an_mlp_through_backward_matches_torch(name, kwargs):
    """Gradients come from backward, as in real use."""
    model, tmodel = _mlp_pair([12, 32, 16, 4])
    opt = getattr(cr.optim, name)(model.parameters(), **kwargs)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    rng = np.random.default_rng(1)
    for _ in range(30):
        x = rng.standard_normal((16, 12)).astype(np.float32)
        y = rng.integers(0, 4, 16)
        loss = F.cross_entropy(model(cr.tensor(x)), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
        tloss.backward()
        topt.step()
        topt.zero_grad()
        assert abs(loss.item() - tloss.item()) < 2e-6 * max(1.0, abs(tloss.item()))
    w = model[0].weight
    np.testing.assert_allclose(w.data, tmodel[0].weight.detach().numpy().T, rtol=1e-5, atol=1e-6)


CHANGED = [
    ("Adam", {"lr": 0.01, "eps": 0.1}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "dampening": 0.2}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.02}),
]


@pytest.mark.parametrize("name,kwargs", CHANGED, ids=[n for n, _ in CHANGED])
def test_hyperparameters_changed_mid_run_match_torch(name, kwargs, path):
    """A schedule may change lr (and betas, weight decay) between steps, as in torch."""
    init, curv, noise = _problem(3)
    ours = [nn.Parameter(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(cr.optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for k in range(STEPS):
        if k % 10 == 5:
            for group in (*opt.param_groups, *topt.param_groups):
                group["lr"] = kwargs["lr"] * (1 + 0.5 * np.sin(k))
                group["weight_decay"] = 0.01 * (k % 3)
                if "betas" in group:
                    group["betas"] = (0.8, 0.99) if k > 50 else (0.85, 0.995)
        for i, (p, t) in enumerate(zip(ours, theirs)):
            p.grad = curv[i] * p.data + noise[k][i]
            t.grad = torch.from_numpy(curv[i]) * t.detach() + torch.from_numpy(noise[k][i])
        opt.step()
        topt.step()
    _assert_close([p.data for p in ours], [t.detach().numpy() for t in theirs])


KEYED = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "amsgrad": True}),
]


@pytest.mark.parametrize("name,kwargs", KEYED, ids=[f"{n}-{k}" for n, k in KEYED])
def test_state_dict_has_torch_layout_and_names(name, kwargs):
    init, curv, noise = _problem()
    ours = [nn.Parameter(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.02}]
    opt = getattr(cr.optim, name)(groups(ours), **kwargs)
    topt = getattr(torch.optim, name)(groups(theirs), **kwargs)

    def same_layout():
        sd, tsd = opt.state_dict(), topt.state_dict()
        assert sd.keys() == tsd.keys() == {"state", "param_groups"}
        assert sd["state"].keys() == tsd["state"].keys()
        for i in sd["state"]:
            assert sd["state"][i].keys() == tsd["state"][i].keys()
            for k, v in sd["state"][i].items():
                if k == "step":
                    assert v == tsd["state"][i][k].item()
                else:
                    assert v.shape == tuple(tsd["state"][i][k].shape)
        for g, tg in zip(sd["param_groups"], tsd["param_groups"], strict=True):
            assert g["params"] == tg["params"]
            extra = set(g) - set(tg)
            assert extra <= {"nesterov"}  # RMSprop's book variant, not in torch
            for k in set(g) - extra - {"params"}:
                assert g[k] == tg[k], k

    same_layout()  # fresh: empty, or Adagrad's eager state
    for k in range(3):
        for i, (p, t) in enumerate(zip(ours, theirs)):
            if k == 0 and i == 2:
                continue  # a parameter without a gradient gets no state yet
            p.grad = curv[i] * p.data + noise[k][i]
            t.grad = torch.from_numpy(p.grad.copy())
        opt.step()
        topt.step()
        same_layout()


@pytest.mark.parametrize("name,kwargs", CONFIGS[::5], ids=[n for n, _ in CONFIGS[::5]])
def test_matches_torch_without_numba(name, kwargs, monkeypatch):
    """A machine without numba wheels: the kernels run as plain NumPy operations."""
    from chainrule._backend import fused

    monkeypatch.setattr(fused, "_numba", [None])
    ours, theirs = _run_pair(
        lambda ps: getattr(cr.optim, name)(ps, **kwargs),
        lambda ts: getattr(torch.optim, name)(ts, **kwargs),
    )
    _assert_close(ours, theirs)
