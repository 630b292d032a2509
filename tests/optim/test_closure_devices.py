"""The closure optimisers (LBFGS, BFGS, CG, ScipyMinimize) on every array namespace.

The closure computes a logistic-regression loss and its gradient by hand in
the parameters' namespace (no autograd), so these tests check the
optimisers' own flat-vector arithmetic: on array_api_strict (which computes
as NumPy does) the iterates are NumPy's bit for bit, on torch they agree to
rounding, and θ stays in its namespace and on its device throughout.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule._backend import device_of, namespace_of

N, D = 60, 5


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D))
    y = np.where(rng.standard_normal(N) + x @ np.linspace(-1, 1, D) > 0, 1.0, -1.0)
    return x, y


def _fit(ns, make, steps=3):
    x_np, y_np = _data()
    xp = ns.xp
    x, y = ns.asarray(x_np), ns.asarray(y_np)
    w = nn.Parameter(ns.asarray(np.zeros(D)), dtype=np.float64)
    b = nn.Parameter(ns.asarray(np.zeros(1)), dtype=np.float64)
    opt = make([w, b])
    seen = []

    def closure():
        z = xp.matmul(x, w.data) + b.data
        margin = -y * z
        loss = xp.mean(xp.log(1.0 + xp.exp(margin))) + 0.05 * xp.sum(w.data * w.data)
        s = -y / (1.0 + xp.exp(-margin)) / N
        w.grad = xp.matmul(s, x) + 0.1 * w.data
        b.grad = xp.reshape(xp.sum(s), (1,))
        seen.append((type(w.data), device_of(w.data)))
        return float(loss)

    losses = [float(opt.step(closure)) for _ in range(steps)]
    assert all(t is type(x) and dev == device_of(x) for t, dev in seen)
    assert namespace_of(w.data) is namespace_of(x) and device_of(w.data) == device_of(x)
    return losses, [ns.to_numpy(w.data), ns.to_numpy(b.data)]


CASES = [
    ("LBFGS", {}),
    ("LBFGS", {"line_search_fn": "strong_wolfe", "history_size": 4}),
    ("BFGS", {}),
    ("BFGS", {"line_search_fn": "strong_wolfe"}),
    ("ConjugateGradient", {}),
    ("ConjugateGradient", {"beta": "FR"}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_closure_optimisers_on_every_namespace(namespace, namespaces, name, kwargs):
    losses, params = _fit(namespace, lambda ps: getattr(cr.optim, name)(ps, **kwargs))
    ref_losses, ref = _fit(namespaces("numpy"), lambda ps: getattr(cr.optim, name)(ps, **kwargs))
    assert losses[-1] < losses[0] * 0.9  # it really minimised
    if namespace.name.startswith("strict"):  # NumPy underneath: the same bits
        assert losses == ref_losses
        for a, r in zip(params, ref):
            np.testing.assert_array_equal(a, r)
    else:
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-10)
        for a, r in zip(params, ref):
            np.testing.assert_allclose(a, r, rtol=1e-8, atol=1e-10)


def test_scipy_minimize_crosses_the_host_boundary(namespace, namespaces):
    pytest.importorskip("scipy")
    losses, params = _fit(namespace, lambda ps: cr.optim.ScipyMinimize(ps, method="L-BFGS-B"),
                          steps=1)
    ref_losses, ref = _fit(namespaces("numpy"),
                           lambda ps: cr.optim.ScipyMinimize(ps, method="L-BFGS-B"), steps=1)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-10)
    for a, r in zip(params, ref):
        np.testing.assert_allclose(a, r, rtol=1e-7, atol=1e-9)


def _newton(ns):
    rng = np.random.default_rng(0)
    h, c = rng.uniform(0.5, 2.0, 6), rng.standard_normal(6)
    w = nn.Parameter(ns.asarray(np.zeros(6)), dtype=np.float64)
    big_h = cr.tensor(ns.asarray(h), dtype=np.float64)
    big_c = cr.tensor(ns.asarray(c), dtype=np.float64)
    opt = cr.optim.Newton([w])

    def closure():
        opt.zero_grad()
        loss = (w * w * big_h).sum() * 0.5 + (w * big_c).sum() + (w * w * w * w).sum() * 0.01
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(3)]
    assert namespace_of(w.data) is ns.xp and device_of(w.data) == device_of(big_h.data)
    return losses, ns.to_numpy(w.data)


def test_newton_on_every_namespace(namespace, namespaces):
    """Hessian-vector products through the engine, CG and the step in the namespace."""
    losses, w = _newton(namespace)
    ref_losses, ref = _newton(namespaces("numpy"))
    assert losses[-1] < losses[0] - 1.0
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    np.testing.assert_allclose(w, ref, rtol=1e-10, atol=1e-12)
