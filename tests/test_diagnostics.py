"""Curvature diagnostics against the Hessian formed explicitly (issue 14, book §8.2.1)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd.functional import hessian


def _problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 3))
    y = rng.integers(0, 2, 30)
    w1 = cr.tensor(rng.standard_normal((3, 4)) * 0.7, requires_grad=True, dtype=np.float64)
    w2 = cr.tensor(rng.standard_normal((4, 2)) * 0.7, requires_grad=True, dtype=np.float64)
    xt = cr.tensor(x, dtype=np.float64)

    def loss_of(a, b):
        return F.cross_entropy(F.tanh(xt @ a) @ b, y)

    return loss_of, [w1, w2]


def _dense_hessian(loss_of, params):
    flat = np.concatenate([p.data.reshape(-1) for p in params])
    sizes = [p.data.size for p in params]

    def f(v):
        a = v[: sizes[0]].reshape(params[0].shape)
        b = v[sizes[0]:].reshape(params[1].shape)
        return loss_of(a, b)

    return hessian(f, cr.tensor(flat, dtype=np.float64)).data


def test_curvature_equals_the_explicit_quadratic_form():
    loss_of, params = _problem()
    h = _dense_hessian(loss_of, params)
    out = cr.diagnostics.curvature(lambda: loss_of(*params), params, lr=0.3)
    gs = cr.autograd.grad(loss_of(*params), params)
    g = np.concatenate([gi.data.reshape(-1) for gi in gs])
    assert out["grad_norm_sq"] == pytest.approx(g @ g, rel=1e-12)
    assert out["gHg"] == pytest.approx(g @ h @ g, rel=1e-10)
    assert out["predicted_change"] == pytest.approx(0.5 * 0.09 * (g @ h @ g) - 0.3 * (g @ g))


def test_predicted_change_matches_the_real_change_for_small_steps():
    loss_of, params = _problem()
    eps = 1e-3
    out = cr.diagnostics.curvature(lambda: loss_of(*params), params, lr=eps)
    gs = cr.autograd.grad(loss_of(*params), params)
    moved = [cr.tensor(p.data - eps * g.data, dtype=np.float64) for p, g in zip(params, gs)]
    real = float(loss_of(*moved).data) - out["loss"]
    assert real == pytest.approx(out["predicted_change"], rel=1e-3)  # O(ε³) apart


def test_hessian_eigenvalues_equal_numpys():
    loss_of, params = _problem()
    h = _dense_hessian(loss_of, params)
    expected = np.linalg.eigvalsh(h)[::-1][:3]
    got = cr.diagnostics.hessian_eigenvalues(lambda: loss_of(*params), params, k=3)
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


def test_bad_arguments():
    loss_of, params = _problem()
    with pytest.raises(ValueError, match="k="):
        cr.diagnostics.hessian_eigenvalues(lambda: loss_of(*params), params, k=100)
    with pytest.raises(ValueError, match="require grad"):
        cr.diagnostics.curvature(lambda: loss_of(*params), [])
    with pytest.raises(TypeError, match="scalar loss"):
        cr.diagnostics.curvature(lambda: 1.0, params)


def test_curvature_monitor_logs_each_epoch():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2))
    cb = cr.training.CurvatureMonitor(X[:32], y[:32], eigenvalues=True)
    trainer = cr.training.Trainer(model, loss="cross_entropy",
                                  optimizer=cr.optim.SGD(model.parameters(), lr=0.2),
                                  callbacks=[cb], verbose=0)
    trainer.fit(X, y, epochs=3, batch_size=16)
    h = trainer.history.history
    for key in ("grad_norm_sq", "gHg", "predicted_change", "curvature_ratio", "hessian_max_eig"):
        assert len(h[key]) == 3 and all(np.isfinite(h[key])), key
    last = cr.diagnostics.curvature(
        lambda: F.cross_entropy(model(cr.tensor(X[:32])), y[:32]), model.parameters(), lr=0.2)
    assert h["gHg"][-1] == pytest.approx(last["gHg"], rel=1e-4)
    assert h["hessian_max_eig"][-1] * h["grad_norm_sq"][-1] >= h["gHg"][-1] * (1 - 1e-4)
