"""Saving and resuming, flat buffers, and refusal of bad hyperparameters."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

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
    before = sd["state"][0]["grad_sum"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["grad_sum"], before)
    assert sd["state"][0]["step"] == 1 and opt.state[p]["step"] == 2


def test_load_state_dict_rejects_other_shapes():
    opt = cr.optim.Adam([nn.Parameter(np.ones(3))])
    other = cr.optim.Adam([nn.Parameter(np.ones(4))])
    with pytest.raises(ValueError, match="Expected state 'grad_sum'"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})


def test_parameters_and_gradients_live_in_flat_buffers():
    model = _model()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    params = list(model.parameters())
    base = params[0].data.base
    assert base is not None and base.ndim == 1
    assert all(p.data.base is base for p in params)
    flat = opt._layout.param_buf
    assert flat.base is base and flat.ctypes.data % 64 == 0
    assert sum(p.size for p in params) <= flat.size < sum(p.size + 16 for p in params)
    for p in params:  # each parameter aligned to 64 bytes, inside the buffer
        assert p.data.ctypes.data % 64 == 0 and np.shares_memory(p.data, flat)
    _train(model, opt, _batches(1, 0))
    x, y = _batches(1, 5)[0]
    F.cross_entropy(model(cr.tensor(x)), y).backward()
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_replaced_data_and_foreign_grad_are_adopted():
    p = nn.Parameter(np.zeros(4))
    opt = cr.optim.SGD([p], lr=0.5)
    p.data = np.full(4, 2.0, np.float32)  # user rebinds the array
    p.grad = np.ones(4, np.float32)  # and sets a gradient by hand
    opt.step()
    np.testing.assert_array_equal(p.data, np.full(4, 1.5))
    assert p.data.base is not None
    p.data = np.zeros(5, np.float32)
    p.grad = np.ones(5, np.float32)
    with pytest.raises(ValueError, match="Expected parameter data of shape"):
        opt.step()


def test_add_param_group_keeps_existing_state():
    a, b = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))
    opt = cr.optim.Adam([a], lr=0.1)
    a.grad = np.ones(3, np.float32)
    opt.step()
    m = opt.state[a]["grad_sum"].copy()
    opt.add_param_group({"params": [b], "lr": 0.01})
    np.testing.assert_array_equal(opt.state[a]["grad_sum"], m)
    assert opt.state[a]["step"] == 1 and opt.state[b]["step"] == 0
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="at most one group"):
        opt.add_param_group({"params": [a]})


def test_mixed_dtypes_fall_back_to_per_parameter_state():
    a = nn.Parameter(np.ones(3), dtype=np.float64)
    b = nn.Parameter(np.ones(2))
    opt = cr.optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = np.ones(3), np.ones(2, np.float32)
    opt.step()
    assert a.data.dtype == np.float64 and opt.state[a]["grad_sum"].dtype == np.float64
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
def test_padding_between_parameters_stays_zero(name, kwargs):
    params = [nn.Parameter(np.ones(s)) for s in [(3, 5), (7,), (2, 3)]]
    opt = getattr(cr.optim, name)(params, **kwargs)
    covered = np.zeros(opt._layout.size, bool)
    for p in params:
        a, b = opt._layout.offsets[id(p)]
        covered[a:b] = True
    assert not covered.all()  # sizes 15, 7, 6: there is padding
    for _ in range(5):
        for p in params:
            p.grad = np.full(p.shape, 0.5, np.float32)
        opt.step()
    flat = opt._layout.param_buf
    assert np.all(flat[~covered] == 0) and np.all(np.isfinite(flat))
    assert np.all(flat[covered] != 1)


@pytest.mark.parametrize("name,kwargs", OPTIMISERS, ids=[n for n, _ in OPTIMISERS])
def test_chunked_two_thread_path_equals_per_parameter_path(name, kwargs):
    """Large groups are cut into chunks and shared by two threads: the
    numbers must be exactly those of the plain per-parameter loop."""
    from chainrule.optim import optimizer

    rng = np.random.default_rng(0)
    shapes = [(800, 600), (600,), (77, 3)]
    assert sum(np.prod(s) for s in shapes) > max(optimizer.PARALLEL_MIN, 3 * optimizer.CHUNK)
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(3)]
    results = []
    for flat in (True, False):
        params = [nn.Parameter(a.copy()) for a in init]
        opt = getattr(cr.optim, name)(params, **kwargs)
        opt._use_flat = flat
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = g
            opt.step()
        results.append([p.data.copy() for p in params])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
