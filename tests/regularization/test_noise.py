"""Noise robustness: GaussianNoise, WeightNoise, label smoothing forms."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.regularization import WeightNoise, book_to_torch_smoothing, smoothed_targets


def test_gaussian_noise_train_eval_and_statistics():
    layer = nn.GaussianNoise(0.5)
    x = cr.tensor(np.full((400, 50), 2.0, np.float32))
    noisy = layer(x).data - 2.0
    n = noisy.size
    # mean within 5 standard errors; sample std within 5 of its standard errors
    assert abs(noisy.mean()) < 5 * 0.5 / np.sqrt(n)
    assert abs(noisy.std() - 0.5) < 5 * 0.5 / np.sqrt(2 * n)
    assert not np.array_equal(layer(x).data, layer(x).data)  # fresh noise per call
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, x.data)
    with pytest.raises(ValueError, match="std >= 0"):
        nn.GaussianNoise(-1.0)


def test_gaussian_noise_reproducible_and_differentiable():
    layer = nn.GaussianNoise(0.1)
    x = cr.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    cr.manual_seed(7)
    a = layer(x)
    cr.manual_seed(7)
    b = layer(x)
    np.testing.assert_array_equal(a.data, b.data)
    (a * a).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * a.data, rtol=1e-6)


def test_weight_noise_perturbs_forward_keeps_weights_clean_and_passes_gradient():
    lin = nn.Linear(30, 40, bias=False)
    clean = lin.weight.data.copy()
    wrapped = WeightNoise(lin, std=0.2)
    eye = cr.tensor(np.eye(30, dtype=np.float32))
    out = wrapped(eye)  # with x = I the output is the noisy weight itself
    noise = out.data - clean
    assert abs(noise.std() - 0.2) < 5 * 0.2 / np.sqrt(2 * noise.size)
    np.testing.assert_array_equal(lin.weight.data, clean)
    assert lin.weight is dict(lin.named_parameters())["weight"]
    # loss Σ W̃² has gradient 2 W̃, and it lands on the clean Parameter
    (out * out).sum().backward()
    np.testing.assert_allclose(lin.weight.grad, 2 * out.data, rtol=1e-6)
    wrapped.eval()
    np.testing.assert_array_equal(wrapped(eye).data, clean)


def test_weight_noise_reproducible_defaults_and_tied_weights():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
    wrapped = WeightNoise(net, std=0.1)
    assert wrapped.names == ["0.weight", "2.weight"]
    assert len(list(wrapped.parameters())) == 4  # the wrapper adds none
    x = cr.tensor(np.ones((2, 3), np.float32))
    cr.manual_seed(3)
    a = wrapped(x).data
    cr.manual_seed(3)
    np.testing.assert_array_equal(wrapped(x).data, a)
    # a Parameter used in two modules gets the same noise in both
    first, second = nn.Linear(5, 5, bias=False), nn.Linear(5, 5, bias=False)
    second.weight = first.weight
    tied = WeightNoise(nn.Sequential(first, second), std=0.3)
    eye = cr.tensor(np.eye(5, dtype=np.float32))
    noisy_w = WeightNoise(first, std=0.3)
    cr.manual_seed(1)
    out = tied(eye).data
    cr.manual_seed(1)
    w = noisy_w(eye).data
    np.testing.assert_allclose(out, w @ w, rtol=1e-5, atol=1e-6)
    with pytest.raises(KeyError, match="no parameters named"):
        WeightNoise(net, 0.1, names=["nope"])


@pytest.mark.parametrize("k, eps_book", [(2, 0.1), (10, 0.1), (7, 0.3)])
def test_book_and_torch_label_smoothing_forms_agree(k, eps_book):
    y = np.arange(3 * k) % k
    book = smoothed_targets(y, k, eps_book, form="book")
    eps_torch = book_to_torch_smoothing(eps_book, k)
    torch_form = smoothed_targets(y, k, eps_torch, form="torch")
    np.testing.assert_allclose(book, torch_form, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(book.sum(1), 1.0, rtol=1e-6)
    assert np.allclose(book[np.arange(len(y)), y], 1 - eps_book)
    # and F.cross_entropy with ε_torch is the cross-entropy against the book's targets
    logits = np.random.default_rng(0).standard_normal((len(y), k))
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    expected = -(book.astype(np.float64) * logp).sum(1).mean()
    got = F.cross_entropy(cr.tensor(logits), y, label_smoothing=eps_torch).item()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
