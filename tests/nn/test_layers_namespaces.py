"""The nn layers compute on every namespace: same outputs, gradients and running
statistics as on NumPy, from the same weights (issue 12)."""

from __future__ import annotations

import copy

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def _move(model, namespace):
    """Parameters and buffers of ``model`` moved to ``namespace`` (by hand: Module.to
    is tested with the optimisers)."""
    for p in model.parameters():
        p.data = namespace.asarray(p.data)
    for mod in model.modules():
        for name in mod._buffers:
            value = getattr(mod, name)
            if value is not None:
                object.__setattr__(mod, name, namespace.asarray(value))
    return model


def _compare(model, x, y, namespace):
    ref = copy.deepcopy(model)
    want = F.cross_entropy(ref(cr.tensor(x)), y)
    want.backward()
    moved = _move(model, namespace)
    out = moved(cr.tensor(namespace.asarray(x)))
    assert namespace.owns(out)
    got = F.cross_entropy(out, y)
    got.backward()
    assert namespace.owns(got)
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-5)
    for (name, p), q in zip(moved.named_parameters(), ref.parameters()):
        assert namespace.owns(p.grad), name
        np.testing.assert_allclose(namespace.to_numpy(p.grad), q.grad, rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    for mod, mref in zip(moved.modules(), ref.modules()):
        for name in mod._buffers:
            value = getattr(mod, name)
            if value is not None and name != "num_batches_tracked":
                np.testing.assert_allclose(namespace.to_numpy(value), getattr(mref, name),
                                           rtol=1e-5, atol=1e-7, err_msg=name)


def test_mlp_with_batch_norm(namespace):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3),
                          nn.Tanh(), nn.Linear(3, 3))
    x = rng.standard_normal((10, 6)).astype(np.float32)
    _compare(model.train(), x, rng.integers(0, 3, 10), namespace)


def test_cnn(namespace):
    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 5, 3, stride=2), nn.AvgPool2d(2, padding=1),
                          nn.Flatten(), nn.Linear(5 * 2 * 2, 3))
    x = rng.standard_normal((3, 2, 12, 12)).astype(np.float32)
    with cr.no_grad():
        assert model(cr.tensor(x)).shape == (3, 3)
    _compare(model, x, rng.integers(0, 3, 3), namespace)


def test_batch_norm_eval_uses_running_statistics(namespace):
    rng = np.random.default_rng(2)
    bn = nn.BatchNorm2d(3)
    bn.running_mean[:] = rng.standard_normal(3)
    bn.running_var[:] = rng.uniform(0.5, 2.0, 3)
    bn.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    want = bn(cr.tensor(x)).data
    moved = _move(bn, namespace)
    got = moved(cr.tensor(namespace.asarray(x)))
    assert namespace.owns(got)
    np.testing.assert_allclose(namespace.to_numpy(got), want, rtol=1e-5, atol=1e-6)
