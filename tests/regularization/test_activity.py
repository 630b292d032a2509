"""Sparse-representation penalties (book §7.10): formulas, gradients vs torch, the layer hook."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.optim import SGD
from chainrule.regularization import (
    ActivityRegularizer,
    activity_kl,
    activity_l1,
    activity_student_t,
)
from chainrule.training import fit


def _h(shape=(5, 3, 4), seed=0, unit=False):
    rng = np.random.default_rng(seed)
    data = rng.random(shape) * 0.9 + 0.05 if unit else rng.standard_normal(shape)
    return cr.tensor(data, requires_grad=True, dtype=np.float64), data


def _torch_value_and_grad(fn, data):
    t = torch.tensor(data, requires_grad=True)
    out = fn(t)
    out.backward()
    return out.item(), t.grad.numpy()


def test_activity_l1_is_lam_times_the_mean_row_l1_norm_with_torchs_gradient():
    h, data = _h()
    out = activity_l1(h, 0.3)
    np.testing.assert_allclose(out.item(), 0.3 * np.abs(data).reshape(5, -1).sum(1).mean(),
                               rtol=1e-12)
    out.backward()
    _, grad = _torch_value_and_grad(lambda t: 0.3 * t.abs().sum() / t.shape[0], data)
    np.testing.assert_allclose(h.grad, grad, rtol=1e-12)
    np.testing.assert_allclose(h.grad, 0.3 * np.sign(data) / 5, rtol=1e-12)


@pytest.mark.parametrize("nu", [1.0, 3.0])
def test_activity_student_t_formula_and_gradient(nu):
    h, data = _h(seed=1)
    out = activity_student_t(h, 0.2, nu=nu)
    expected = 0.2 * ((nu + 1) / 2 * np.log1p(data ** 2 / nu)).reshape(5, -1).sum(1).mean()
    np.testing.assert_allclose(out.item(), expected, rtol=1e-12)
    out.backward()
    _, grad = _torch_value_and_grad(
        lambda t: 0.2 * ((nu + 1) / 2 * torch.log1p(t ** 2 / nu)).sum() / t.shape[0], data)
    np.testing.assert_allclose(h.grad, grad, rtol=1e-12)


def test_activity_kl_formula_and_gradient():
    h, data = _h((6, 4), seed=2, unit=True)
    rho = 0.1
    out = activity_kl(h, 0.5, rho=rho)
    r = data.mean(0)
    expected = 0.5 * np.sum(rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r)))
    np.testing.assert_allclose(out.item(), expected, rtol=1e-12)
    out.backward()

    def ref(t):
        m = t.mean(0)
        return 0.5 * (rho * torch.log(rho / m) + (1 - rho) * torch.log((1 - rho) / (1 - m))).sum()

    _, grad = _torch_value_and_grad(ref, data)
    np.testing.assert_allclose(h.grad, grad, rtol=1e-10)
    # zero at the target, positive elsewhere
    at_target = cr.tensor(np.full((3, 4), rho), dtype=np.float64)
    assert abs(activity_kl(at_target, 1.0, rho=rho).item()) < 1e-12
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        activity_kl(cr.tensor(np.array([[1.5, 0.2]])), 1.0)
    with pytest.raises(ValueError, match="rho"):
        activity_kl(h, 1.0, rho=1.0)


def test_bad_weights_and_shapes_are_named():
    h, _ = _h()
    with pytest.raises(ValueError, match="lam"):
        activity_l1(h, -1.0)
    with pytest.raises(ValueError, match="nu"):
        activity_student_t(h, 1.0, nu=0.0)
    with pytest.raises(ValueError, match="N >= 1"):
        activity_l1(cr.tensor(np.zeros((0, 3))), 1.0)


def test_forward_hooks_see_and_may_replace_the_output_and_can_be_removed():
    layer = nn.ReLU()
    seen = []
    h1 = layer.register_forward_hook(lambda m, args, out: seen.append((m, args[0], out)))
    x = cr.tensor(np.array([[-1.0, 2.0]]))
    out = layer(x)
    assert seen[0][0] is layer and seen[0][1] is x and seen[0][2] is out
    h2 = layer.register_forward_hook(lambda m, args, out: out * 2)
    np.testing.assert_array_equal(layer(x).data, [[0.0, 4.0]])
    h2.remove()
    h1.remove()
    np.testing.assert_array_equal(layer(x).data, [[0.0, 2.0]])
    assert len(seen) == 2
    with pytest.raises(TypeError, match="callable"):
        layer.register_forward_hook(3)


def test_activity_regularizer_penalises_the_layers_output_inside_fit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 4)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    manual = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    manual.load_state_dict(net.state_dict())
    act = ActivityRegularizer(net[1], "l1", lam=0.05)
    with pytest.raises(RuntimeError, match="has not run"):
        act(net)
    hist = fit(net, x, y, loss="cross_entropy", optimizer=SGD(net.parameters(), lr=0.3),
               epochs=1, batch_size=20, shuffle=False, regularizers=[act], verbose=0)
    h = manual[1](manual[0](cr.tensor(x)))
    penalty = activity_l1(h, 0.05)
    (F.cross_entropy(manual[2](h), y) + penalty).backward()
    SGD(manual.parameters(), lr=0.3).step()
    for a, b in zip(net.parameters(), manual.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hist.history["penalty"][-1], penalty.item(), rtol=1e-5)
    act.remove()
    net(cr.tensor(x))
    assert act.last_output is None  # the hook is gone


def test_activity_regularizer_takes_names_options_and_callables():
    net = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid())
    x = cr.tensor(np.random.default_rng(1).standard_normal((7, 4)))
    kl = ActivityRegularizer(net[1], "kl", lam=2.0, rho=0.2)
    custom = ActivityRegularizer(net[1], lambda h: (h * h).sum())
    h = net(x)
    np.testing.assert_allclose(kl(net).item(), activity_kl(h, 2.0, rho=0.2).item(), rtol=1e-6)
    np.testing.assert_allclose(custom(net).item(), (h.data ** 2).sum(), rtol=1e-6)
    with pytest.raises(ValueError, match="penalty"):
        ActivityRegularizer(net[1], "l3")
    with pytest.raises(TypeError, match="nn.Module"):
        ActivityRegularizer(lambda z: z)
