"""Penalties, constraints and weight noise on every array namespace (same numbers as NumPy)."""

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule._backend import device_of
from chainrule.regularization import L1Penalty, L2Penalty, MaxNorm, MinibatchL2, WeightNoise


def _same(ns, a, b):
    """NumPy and array_api_strict (NumPy underneath) give the same bits; torch
    sums in another order, so agrees to rounding."""
    a = ns.to_numpy(a)
    if ns.name == "torch":
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(a, b)


class Scale(nn.Module):
    """x ⊙ w + b: an elementwise model, so only the regularisers are under test."""

    def __init__(self, ns):
        super().__init__()
        rng = np.random.default_rng(0)
        self.w = nn.Parameter(ns.asarray(rng.standard_normal((3, 4)).astype(np.float32) * 2))
        self.b = nn.Parameter(ns.asarray(np.ones(4, np.float32)))

    def forward(self, x):
        return x * self.w + self.b


def test_max_norm_on_every_namespace(namespace, namespaces):
    model, ref = Scale(namespace), Scale(namespaces("numpy"))
    arr = model.w.data
    MaxNorm(1.5)(model)
    MaxNorm(1.5)(ref)
    assert model.w.data is arr and device_of(arr) == namespace.device
    _same(namespace, model.w.data, ref.w.data)
    norms = np.sqrt((ref.w.data ** 2).sum(axis=0))
    assert np.all(norms <= 1.5 * (1 + 1e-6)) and norms.max() > 1.49
    np.testing.assert_array_equal(namespace.to_numpy(model.b.data), 1.0)  # biases left alone


def test_minibatch_l2_on_every_namespace(namespace, namespaces):
    model, ref = Scale(namespace), Scale(namespaces("numpy"))
    model.w.grad = namespace.asarray(np.ones((3, 4), np.float32))
    ref.w.grad = np.ones((3, 4), np.float32)
    pen = MinibatchL2(0.3).add_gradient(model, 8)
    ref_pen = MinibatchL2(0.3).add_gradient(ref, 8)
    np.testing.assert_allclose(pen, ref_pen, rtol=1e-6)
    assert device_of(model.w.grad) == namespace.device
    _same(namespace, model.w.grad, ref.w.grad)


def test_norm_penalties_on_every_namespace(namespace, namespaces):
    model, ref = Scale(namespace), Scale(namespaces("numpy"))
    for penalty in (L2Penalty(0.1), L1Penalty(0.2)):
        out, expected = penalty(model), penalty(ref)
        assert device_of(out.data) == namespace.device
        np.testing.assert_allclose(namespace.to_numpy(out.data), expected.data, rtol=1e-6)
        out.backward()
        expected.backward()
        np.testing.assert_allclose(namespace.to_numpy(model.w.grad), ref.w.grad, rtol=1e-6)
        model.zero_grad()
        ref.zero_grad()


def test_weight_noise_is_numpys_on_every_namespace(namespace, namespaces):
    model, ref = WeightNoise(Scale(namespace), 0.1), WeightNoise(Scale(namespaces("numpy")), 0.1)
    x = np.ones((3, 4), np.float32)
    cr.manual_seed(4)
    out = model(cr.tensor(namespace.asarray(x)))
    cr.manual_seed(4)
    expected = ref(cr.tensor(x))
    assert device_of(out.data) == namespace.device
    _same(namespace, out.data, expected.data)
    assert not np.allclose(expected.data, ref.module.w.data + 1.0)  # noise was added


def test_mc_dropout_predict_with_a_model_on_every_namespace(namespace, namespaces):
    from chainrule.regularization import mc_dropout_predict

    class Net(nn.Module):
        def __init__(self, ns):
            super().__init__()
            self.scale = Scale(ns)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(self.scale(x))

    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    cr.manual_seed(8)
    out = mc_dropout_predict(Net(namespace), x, n=5, output="softmax", return_std=True)
    cr.manual_seed(8)
    ref = mc_dropout_predict(Net(namespaces("numpy")), x, n=5, output="softmax",
                             return_std=True)
    for a, b in zip(out, ref):
        assert isinstance(a, np.ndarray) and a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert ref[1].max() > 0  # the masks varied between passes
