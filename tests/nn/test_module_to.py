"""Module.to, Module.device, host state_dicts, initialisation and masks on every namespace."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule._backend import device_of, namespace_of


def _model():
    cr.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def _xp_of(ns):
    return namespace_of(ns.asarray(np.zeros(1, np.float32)))


def _move(model, ns):
    if ns.name == "numpy":
        return model.to("cpu")
    return model.to(xp=ns.xp, device=ns.device)


def test_to_moves_parameters_in_place_and_buffers(namespace):
    model = _model()
    before = model.state_dict()
    params = list(model.parameters())
    for p in params:
        p.grad = np.full(p.shape, 0.5, np.float32)
    assert _move(model, namespace) is model
    moved = list(model.parameters())
    assert all(p is q for p, q in zip(params, moved))  # same Parameter objects
    xp = _xp_of(namespace)
    for p in moved:
        assert namespace_of(p.data) is xp and device_of(p.data) == namespace.device
        assert namespace_of(p.grad) is xp and device_of(p.grad) == namespace.device
        np.testing.assert_array_equal(namespace.to_numpy(p.grad), 0.5)
    bn = model[1]
    for buf in (bn.running_mean, bn.running_var):
        assert namespace_of(buf) is xp and device_of(buf) == namespace.device
    assert "running_mean" in dict(model.named_buffers()) or any(
        k.endswith("running_mean") for k, _ in model.named_buffers()
    )
    assert model.device == namespace.device
    # the numbers did not change, and state_dict is host NumPy
    after = model.state_dict()
    assert list(after) == list(before)
    for k in before:
        assert type(after[k]) is np.ndarray
        np.testing.assert_array_equal(after[k], before[k])


def test_to_and_back_does_not_share_memory_with_the_old_arrays(namespaces):
    model = _model()
    old = model[0].weight.data
    model.to(xp=namespaces("torch").xp, device=namespaces("torch").device)
    model.to("cpu")
    assert isinstance(model[0].weight.data, np.ndarray)
    assert model[0].weight.data is not old
    np.testing.assert_array_equal(model[0].weight.data, old)
    model[0].weight.data[...] = 7
    assert not np.any(old == 7)


def test_load_state_dict_writes_onto_each_parameters_device(namespace, namespaces):
    src = _model()
    state = src.state_dict()
    dst = _move(nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)),
                namespace)
    arrays = [p.data for p in dst.parameters()]
    dst.load_state_dict(state)
    assert all(p.data is a for p, a in zip(dst.parameters(), arrays))  # written in place
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    # and a state dict of device arrays loads onto the host
    host = _model()
    host.load_state_dict({k: namespace.asarray(v) for k, v in state.items()})
    for p in host.parameters():
        assert isinstance(p.data, np.ndarray)


def test_unknown_device_is_named():
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        _model().to("tpu")


def test_register_buffer_takes_arrays_of_any_namespace(namespace):
    m = nn.Module()
    m.register_buffer("stat", namespace.asarray(np.arange(3, dtype=np.float32)))
    m.stat = namespace.asarray(np.ones(3, np.float32))  # stays a buffer
    assert [k for k, _ in m.named_buffers()] == ["stat"]
    np.testing.assert_array_equal(m.state_dict()["stat"], np.ones(3))
    with pytest.raises(TypeError, match="Expected buffer 'bad' to be an array"):
        m.register_buffer("bad", [1.0, 2.0])


def test_initialisation_is_the_same_on_every_namespace(namespace):
    cr.manual_seed(11)
    ref = nn.Parameter(np.zeros((5, 6), np.float32))
    nn.init.he_normal_(ref)
    cr.manual_seed(11)
    p = nn.Parameter(namespace.asarray(np.zeros((5, 6), np.float32)))
    arr = p.data
    nn.init.he_normal_(p)
    assert p.data is arr  # written in place, where it lives
    assert device_of(p.data) == namespace.device
    np.testing.assert_array_equal(namespace.to_numpy(p.data), ref.data)


def test_dropout_masks_on_generic_namespaces_are_numpys(namespace):
    x = np.linspace(1, 2, 24, dtype=np.float32).reshape(4, 6)
    cr.manual_seed(5)
    ref = F.dropout(cr.tensor(x), 0.4)
    cr.manual_seed(5)
    out = F.dropout(cr.tensor(namespace.asarray(x)), 0.4)
    assert device_of(out.data) == namespace.device
    np.testing.assert_array_equal(namespace.to_numpy(out.data), ref.data)
    kept = namespace.to_numpy(out.data) != 0
    assert 0 < kept.sum() < kept.size


def test_gaussian_noise_on_generic_namespaces_is_numpys(namespace):
    x = np.zeros((3, 5), np.float32)
    layer = nn.GaussianNoise(0.3)
    cr.manual_seed(2)
    ref = layer(cr.tensor(x)).data
    cr.manual_seed(2)
    out = layer(cr.tensor(namespace.asarray(x))).data
    assert device_of(out) == namespace.device
    np.testing.assert_array_equal(namespace.to_numpy(out), ref)
    assert np.std(ref) > 0.1


def test_rand_and_randn_draw_numpys_numbers_where_like_lives(namespace):
    like = namespace.asarray(np.zeros(2, np.float32))
    cr.manual_seed(9)
    u, n = cr.random.rand((3, 4), like=like), cr.random.randn((5,), like=like)
    rng = cr.random.new_generator(9)
    np.testing.assert_array_equal(namespace.to_numpy(u), rng.random((3, 4), dtype=np.float32))
    np.testing.assert_array_equal(namespace.to_numpy(n), rng.standard_normal(5, dtype=np.float32))
    assert device_of(u) == namespace.device and device_of(n) == namespace.device
    assert isinstance(cr.random.rand((2,)), np.ndarray)


def _train(ns, steps=6):
    """Adam on Linear-BatchNorm-ReLU-Dropout-Linear, the optimiser built before model.to."""
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((32, 10)).astype(np.float32)
    t_np = rng.standard_normal((32, 3)).astype(np.float32)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(16, 3))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    _move(model, ns)
    x, t = cr.tensor(ns.asarray(x_np)), cr.tensor(ns.asarray(t_np))
    losses = []
    for _ in range(steps):
        d = model(x) - t
        loss = (d * d).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert device_of(loss.data) == ns.device
        losses.append(float(loss.item()))
    for p in model.parameters():
        assert device_of(p.data) == ns.device
        assert all(device_of(v) == ns.device for v in opt.state[p].values()
                   if hasattr(v, "shape"))
    assert device_of(model[1].running_mean) == ns.device
    return losses, model.state_dict()


def test_training_on_a_moved_model_gives_numpys_losses(namespace, namespaces):
    losses, state = _train(namespace)
    ref_losses, ref_state = _train(namespaces("numpy"))
    assert ref_losses[-1] < ref_losses[0]
    # same initial weights and masks; NumPy's run takes its fast variants (a bias
    # gradient is a BLAS product with a vector of ones, summed in BLAS's order),
    # the others the standard functions (xp.sum): they agree to float32 rounding
    tol = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(losses, ref_losses, **tol)
    for k, v in ref_state.items():
        if k in ("0.bias", "1.running_mean"):
            # batch norm cancels the first bias: its gradient is rounding noise
            # (~1e-9), which Adam scales up to full steps, so it (and the running
            # mean it shifts) differ wherever the rounding does
            continue
        np.testing.assert_allclose(state[k], v, **tol)
