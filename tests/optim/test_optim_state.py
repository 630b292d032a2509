"""Saving and resuming, state that stays the user's arrays, and bad hyperparameters."""

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule._backend import fused

OPTIMISERS = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
]


def _train(model, opt, batches):
    for x, y in batches:
        F.cross_entropy(model(cr.tensor(x)), y).backward()
        opt.step()
        opt.zero_grad()


def _batches(n, seed):
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((8, 5)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(n)
    ]


def _model():
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))


@pytest.mark.parametrize("name,kwargs", OPTIMISERS, ids=[n for n, _ in OPTIMISERS])
def test_resuming_from_state_dict_equals_never_stopping(name, kwargs):
    first, second = _batches(10, 1), _batches(10, 2)
    cr.manual_seed(3)
    model = _model()
    opt = getattr(cr.optim, name)(model.parameters(), **kwargs)
    _train(model, opt, first)
    saved_model = {k: v.copy() for k, v in model.state_dict().items()}
    saved_opt = opt.state_dict()
    _train(model, opt, second)  # never stopping

    cr.manual_seed(99)  # a different init, overwritten by the checkpoint
    resumed = _model()
    resumed.load_state_dict(saved_model)
    opt2 = getattr(cr.optim, name)(resumed.parameters(), lr=123.0)
    opt2.load_state_dict(saved_opt)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    _train(resumed, opt2, second)
    for (k, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_state_dict_is_a_copy():
    p = nn.Parameter(np.ones(3))
    opt = cr.optim.Adam([p], lr=0.1)
    p.grad = np.ones(3, np.float32)
    opt.step()
    sd = opt.state_dict()
    before = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)
    assert sd["state"][0]["step"] == 1 and opt.state[p]["step"] == 2


def test_load_state_dict_rejects_other_shapes():
    p = nn.Parameter(np.ones(3))
    opt = cr.optim.Adam([p])
    q = nn.Parameter(np.ones(4))
    other = cr.optim.Adam([q])
    q.grad = np.ones(4, np.float32)
    other.step()
    with pytest.raises(ValueError, match="Expected state 'exp_avg' of shape"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})


def test_loaded_state_is_not_shared_with_the_state_dict():
    p = nn.Parameter(np.ones(3))
    opt = cr.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(3, np.float32)
    opt.step()
    sd = opt.state_dict()
    opt2 = cr.optim.SGD([p], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    opt2.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], np.ones(3))


@pytest.mark.parametrize("name,kwargs", OPTIMISERS, ids=[n for n, _ in OPTIMISERS])
def test_data_alias_taken_before_the_optimiser_sees_every_update(name, kwargs):
    model = _model()
    aliases = [p.data for p in model.parameters()]
    before = [a.copy() for a in aliases]
    opt = getattr(cr.optim, name)(model.parameters(), **kwargs)
    _train(model, opt, _batches(3, 0))
    for p, a, b in zip(model.parameters(), aliases, before):
        assert p.data is a  # never rebound
        assert not np.array_equal(a, b)  # and the alias moved with it


def test_large_parameter_is_updated_in_place_when_split_over_threads(monkeypatch, path):
    monkeypatch.setattr(fused, "PARALLEL_MIN", 16)
    p = nn.Parameter(np.ones((10, 10)))
    alias = p.data
    opt = cr.optim.Adam([p], lr=0.1)
    p.grad = np.ones((10, 10), np.float32)
    opt.step()
    assert p.data is alias and opt.state[p]["exp_avg"].shape == (10, 10)
    np.testing.assert_allclose(alias, 0.9, rtol=1e-6)


def test_user_rebinding_data_or_setting_grad_by_hand_is_followed():
    p = nn.Parameter(np.zeros(4))
    opt = cr.optim.SGD([p], lr=0.5)
    mine = np.full(4, 2.0, np.float32)
    p.data = mine  # the user rebinds the array
    p.grad = np.ones(4, np.float32)  # and sets a gradient by hand
    opt.step()
    assert p.data is mine
    np.testing.assert_array_equal(mine, np.full(4, 1.5))
    p.grad = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="Expected a gradient of shape"):
        opt.step()


def test_non_contiguous_parameter_is_updated_in_place(path):
    base = np.ones((6, 8), np.float32)
    p = nn.Parameter(base)
    p.data = base[:, ::2]  # a strided view, e.g. a tied half of a weight
    opt = cr.optim.SGD([p], lr=0.5, momentum=0.5)
    p.grad = np.ones((6, 4), np.float32)
    opt.step()
    assert np.all(base[:, ::2] == 0.5) and np.all(base[:, 1::2] == 1)


def test_add_param_group_keeps_existing_state():
    a, b = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(50))  # b's scratch is larger
    opt = cr.optim.Adam([a], lr=0.1)
    a.grad = np.ones(3, np.float32)
    opt.step()
    m = opt.state[a]["exp_avg"].copy()
    opt.add_param_group({"params": [b], "lr": 0.01})
    np.testing.assert_array_equal(opt.state[a]["exp_avg"], m)
    b.grad = np.ones(50, np.float32)
    opt.step()
    assert opt.state[a]["step"] == 2 and opt.state[b]["step"] == 1
    np.testing.assert_allclose(b.data, 1 - 0.01, rtol=1e-6)  # Adam's first step: -lr·sign(g)
    alone = nn.Parameter(np.ones(3))
    ref = cr.optim.Adam([alone], lr=0.1)
    for _ in range(2):
        alone.grad = np.ones(3, np.float32)
        ref.step()
    np.testing.assert_array_equal(a.data, alone.data)
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="at most one group"):
        opt.add_param_group({"params": [a]})


def test_mixed_dtypes_keep_their_own_state_dtype():
    a = nn.Parameter(np.ones(3), dtype=np.float64)
    b = nn.Parameter(np.ones(2))
    opt = cr.optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = np.ones(3), np.ones(2, np.float32)
    opt.step()
    assert a.data.dtype == np.float64 and opt.state[a]["exp_avg"].dtype == np.float64
    assert b.data.dtype == np.float32 and opt.state[b]["exp_avg"].dtype == np.float32
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.9)


def test_closure_loss_is_returned():
    p = nn.Parameter(np.array([3.0]))
    opt = cr.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.data, [1.5])


BAD = [
    ("SGD", {"lr": -0.1}, "Expected lr >= 0. Received: lr=-0.1"),
    ("SGD", {"lr": 0.1, "momentum": -0.5}, "Expected momentum >= 0. Received: momentum=-0.5"),
    ("SGD", {"lr": 0.1, "nesterov": True}, "Expected momentum > 0 and dampening = 0"),
    ("SGD", {"lr": 0.1, "weight_decay": -1.0}, "Expected weight_decay >= 0"),
    ("Adam", {"lr": -1e-3}, "Expected lr >= 0"),
    (
        "Adam",
        {"betas": (1.0, 0.999)},
        (
            r"Expected betas=\(beta1, beta2\) each in \[0, 1\). "
            r"Received: betas=\(1.0, 0.999\)"
        ),
    ),
    ("Adam", {"betas": (0.9, -0.1)}, "Expected betas"),
    ("AdamW", {"eps": 0.0}, "Expected eps > 0. Received: eps=0.0"),
    ("Adam", {"eps": -1e-8}, "Expected eps > 0"),
    ("Adagrad", {"eps": 0.0}, "Expected eps > 0"),
    ("Adagrad", {"lr_decay": -1.0}, "Expected lr_decay >= 0"),
    ("RMSprop", {"alpha": 1.5}, "Expected alpha in"),
    ("RMSprop", {"momentum": -0.1}, "Expected momentum >= 0"),
    ("RMSprop", {"nesterov": True}, "Expected momentum > 0 for nesterov=True"),
]


@pytest.mark.parametrize("name,kwargs,message", BAD)
def test_bad_hyperparameters_are_refused(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(cr.optim, name)([nn.Parameter(np.ones(2))], **kwargs)


def test_bad_group_hyperparameter_and_params_are_refused():
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="Expected lr >= 0"):
        cr.optim.SGD([{"params": [p]}, {"params": [q], "lr": -1}], lr=0.1)
    with pytest.raises(ValueError, match="non-empty"):
        cr.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        cr.optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="at most one group"):
        cr.optim.SGD([p, p], lr=0.1)


@pytest.mark.parametrize("name,kwargs", OPTIMISERS, ids=[n for n, _ in OPTIMISERS])
def test_compiled_path_equals_plain_path(name, kwargs):
    """The compiled update (large parameters split over threads) gives the plain
    NumPy path's numbers, parameters and every state array, to float32 rounding."""
    if not fused.compiled_available():
        pytest.skip("numba is not importable here")
    rng = np.random.default_rng(0)
    shapes = [(800, 600), (600,), (77, 3)]
    assert max(np.prod(s) for s in shapes) > 3 * fused.PARALLEL_MIN
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(20)]
    results = []
    for mode in ("compiled", "numpy"):
        params = [nn.Parameter(a.copy()) for a in init]
        with fused.kernels(mode):
            opt = getattr(cr.optim, name)(params, **kwargs)
            for k, gs in enumerate(grads):
                for p, g in zip(params, gs):
                    p.grad = g * (k % 5 != 3)  # zero gradients now and then
                opt.step()
        results.append(([p.data for p in params], opt.state_dict()["state"]))
    (pa, sa), (pb, sb) = results
    for a, b in zip(pa, pb):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys()
        for k in sa[i]:
            np.testing.assert_allclose(sa[i][k], sb[i][k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_deleted_model_and_optimiser_are_collected():
    model = _model()
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    _train(model, opt, _batches(2, 0))
    refs = [weakref.ref(model), weakref.ref(opt), weakref.ref(next(model.parameters()))]
    del model, opt
    gc.collect()
    assert all(r() is None for r in refs)
