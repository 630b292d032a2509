"""L2/L1 penalties and the max-norm constraint: closed forms and torch."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.optim import SGD
from chainrule.regularization import L1Penalty, L2Penalty, MaxNorm, exclude


def _net():
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))


def _data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_penalty_values_and_bias_exclusion():
    net = _net()
    w1, b1, w2 = net[0].weight.data, net[0].bias.data, net[2].weight.data
    net[0].bias.data[...] = 0.7  # so including biases would change the value
    sq = float((w1.astype(np.float64) ** 2).sum() + (w2.astype(np.float64) ** 2).sum())
    ab = float(np.abs(w1).sum() + np.abs(w2).sum())
    np.testing.assert_allclose(L2Penalty(0.3)(net).item(), 0.5 * 0.3 * sq, rtol=1e-6)
    np.testing.assert_allclose(L1Penalty(0.3)(net).item(), 0.3 * ab, rtol=1e-6)
    with_bias = 0.5 * 0.3 * (sq + float((b1.astype(np.float64) ** 2).sum()))
    np.testing.assert_allclose(L2Penalty(0.3, exclude_bias=False)(net).item(), with_bias,
                               rtol=1e-6)
    exclude(net[0].weight)
    sq2 = float((w2.astype(np.float64) ** 2).sum())
    np.testing.assert_allclose(L2Penalty(0.3)(net).item(), 0.5 * 0.3 * sq2, rtol=1e-6)
    assert L2Penalty(0.3, params=[])(net).item() == 0.0


def test_penalty_gradients_are_alpha_w_and_alpha_sign_w():
    net = _net()
    net[0].weight.data[0, 0] = 0.0
    (L2Penalty(0.2)(net) + L1Penalty(0.05)(net)).backward()
    for layer in (net[0], net[2]):
        w = layer.weight.data
        np.testing.assert_allclose(layer.weight.grad, 0.2 * w + 0.05 * np.sign(w),
                                   rtol=1e-6, atol=1e-7)
        assert layer.bias.grad is None  # biases are not penalised
    assert net[0].weight.grad[0, 0] == 0.0  # subgradient 0 at 0


def test_one_sgd_step_is_weight_decay_eq_7_5():
    """w ← (1 − εα) w − ε ∇J(w) for weights; biases get the plain step."""
    eps, alpha = 0.1, 0.05
    x, y = _data()
    net = _net()
    w0 = [p.data.copy() for p in net.parameters()]
    F.cross_entropy(net(cr.tensor(x)), y).backward()
    grads_j = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    opt = SGD(net.parameters(), lr=eps)
    (F.cross_entropy(net(cr.tensor(x)), y) + L2Penalty(alpha)(net)).backward()
    opt.step()
    for p, w, g in zip(net.parameters(), w0, grads_j):
        expected = (1 - eps * alpha) * w - eps * g if p.ndim == 2 else w - eps * g
        np.testing.assert_allclose(p.data, expected, rtol=1e-6, atol=1e-7)


def _torch_net(net):
    ref = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    with torch.no_grad():
        for i in (0, 2):
            ref[i].weight.copy_(torch.tensor(net[i].weight.data.T))
            ref[i].bias.copy_(torch.tensor(net[i].bias.data))
    return ref


def test_trajectory_with_l2_and_l1_matches_torch():
    x, y = _data(32)
    net = _net()
    ref = _torch_net(net)
    opt = SGD(net.parameters(), lr=0.2, momentum=0.9)
    ropt = torch.optim.SGD(ref.parameters(), lr=0.2, momentum=0.9)
    l2, l1 = L2Penalty(0.01), L1Penalty(0.003)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(8):
        opt.zero_grad()
        (F.cross_entropy(net(cr.tensor(x)), y) + l2(net) + l1(net)).backward()
        opt.step()
        ropt.zero_grad()
        ws = [ref[0].weight, ref[2].weight]
        pen = 0.5 * 0.01 * sum((w * w).sum() for w in ws) + 0.003 * sum(w.abs().sum()
                                                                         for w in ws)
        (torch.nn.functional.cross_entropy(ref(xt), yt) + pen).backward()
        ropt.step()
    for i in (0, 2):
        np.testing.assert_allclose(net[i].weight.data, ref[i].weight.detach().numpy().T,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(net[i].bias.data, ref[i].bias.detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_bad_alpha_raises():
    with pytest.raises(ValueError, match="alpha >= 0"):
        L2Penalty(-1.0)
    with pytest.raises(ValueError, match="max_norm > 0"):
        MaxNorm(0.0)


def test_max_norm_matches_torch_renorm_on_columns():
    rng = np.random.default_rng(0)
    lin = nn.Linear(7, 5)
    lin.weight.data[...] = rng.standard_normal((7, 5)) * np.array([0.1, 1, 2, 0.2, 3])
    lin.bias.data[...] = 10.0
    before = lin.weight.data.copy()
    view = lin.weight.data
    MaxNorm(1.5)(lin)
    assert lin.weight.data is view  # in place
    ref = torch.renorm(torch.tensor(before.T), p=2, dim=0, maxnorm=1.5).numpy().T
    np.testing.assert_allclose(lin.weight.data, ref, rtol=1e-5, atol=1e-7)
    norms = np.linalg.norm(lin.weight.data, axis=0)
    assert np.all(norms <= 1.5 * (1 + 1e-6))
    inside = np.linalg.norm(before, axis=0) <= 1.5
    assert inside.any() and (~inside).any()
    np.testing.assert_array_equal(lin.weight.data[:, inside], before[:, inside])
    assert np.all(lin.bias.data == 10.0)  # biases untouched


def test_max_norm_axis_and_opt_out():
    a, b = nn.Linear(3, 4), nn.Linear(4, 2)
    net = nn.Sequential(a, b)
    for p in (a.weight, b.weight):
        p.data[...] = 5.0
    exclude(b.weight)
    MaxNorm(1.0, axis=1)(net)
    np.testing.assert_allclose(np.linalg.norm(a.weight.data, axis=1), 1.0, rtol=1e-6)
    assert np.all(b.weight.data == 5.0)
