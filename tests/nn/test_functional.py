"""chainrule.nn.functional: closed forms, stability and error messages.

Values and gradients against torch are in ``tests/autograd/test_ops_vs_torch.py``;
this file checks what torch cannot: the fused forms, the book's conventions
and the messages for bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


def _logits(shape=(6, 4), seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return cr.tensor(rng.standard_normal(shape) * scale, requires_grad=True)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- fused softmax cross-entropy -------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy_gradient_is_softmax_minus_target(eps):
    z = _logits()
    y = np.array([0, 3, 1, 1, 2, 0])
    F.cross_entropy(z, y, label_smoothing=eps).backward()
    q = np.full((6, 4), eps / 4)
    q[np.arange(6), y] += 1 - eps
    np.testing.assert_allclose(z.grad, (_softmax(z.data) - q) / 6, rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_the_multinoulli_nll():
    z = _logits()
    y = np.array([0, 3, 1, 1, 2, 0])
    nll = -np.log(_softmax(z.data.astype(np.float64))[np.arange(6), y])
    np.testing.assert_allclose(F.cross_entropy(z, y, reduction="none").data, nll, rtol=1e-5)
    np.testing.assert_allclose(F.cross_entropy(z, y).data, nll.mean(), rtol=1e-5)
    via_nll = F.nll_loss(F.log_softmax(z), y)
    np.testing.assert_allclose(via_nll.data, nll.mean(), rtol=1e-5)


def test_book_label_smoothing_is_a_rescaled_epsilon():
    # book §7.5.1: 1-ε on the true class, ε/(k-1) elsewhere == torch form with ε·k/(k-1)
    k, eps_book = 4, 0.1
    z = _logits((5, k))
    y = np.array([0, 1, 2, 3, 0])
    q = np.full((5, k), eps_book / (k - 1))
    q[np.arange(5), y] = 1 - eps_book
    logp = z.data - np.log(np.exp(z.data).sum(-1, keepdims=True))
    book = -(q * logp).sum(-1).mean()
    ours = F.cross_entropy(z, y, label_smoothing=eps_book * k / (k - 1))
    np.testing.assert_allclose(ours.data, book, rtol=1e-5)


def test_saturated_logits_keep_finite_losses_and_gradients():
    z = cr.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], requires_grad=True)
    y = np.array([1, 0])
    loss = F.cross_entropy(z, y, label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() > 1e3  # badly wrong, not inf
    assert np.all(np.isfinite(z.grad))
    b = cr.tensor([1e4, -1e4, 50.0], requires_grad=True)
    bce = F.binary_cross_entropy_with_logits(b, np.array([0.0, 1.0, 0.0]), reduction="sum")
    bce.backward()
    np.testing.assert_allclose(bce.item(), 2e4 + 50.0, rtol=1e-6)
    np.testing.assert_allclose(b.grad, [1.0, -1.0, 1.0], rtol=1e-6)


def test_softplus_and_sigmoid_are_stable_and_related():
    x = cr.tensor([-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4], requires_grad=True)
    sp = F.softplus(x)
    np.testing.assert_allclose(sp.data[[0, 1]], [0.0, np.exp(-50.0)], rtol=1e-6, atol=0)
    np.testing.assert_allclose(sp.data[[5, 6]], [50.0, 1e4], rtol=1e-7)
    np.testing.assert_allclose(sp.data[3], np.log(2.0), rtol=1e-7)
    sp.sum().backward()
    np.testing.assert_allclose(x.grad, F.sigmoid(x).data, rtol=1e-6)  # ζ' = σ


def test_logsumexp_of_huge_and_minus_inf_rows():
    z = cr.tensor([[1e4, 1e4], [-np.inf, 0.0], [-1e4, -1e4]])
    np.testing.assert_allclose(F.logsumexp(z).data, [1e4 + np.log(2), 0.0, -1e4 + np.log(2)],
                               rtol=1e-6)


def test_mse_is_a_gaussian_nll_up_to_constants():
    # ½ (y - f)² = -log N(y; f, 1) - ½ log 2π, summed
    f, y = _logits((4, 3), 1), np.random.default_rng(2).standard_normal((4, 3))
    gauss = F.gaussian_nll_loss(f, np.ones((4, 3)), y, full=True, reduction="sum")
    mse = F.mse_loss(f, y, reduction="sum")
    np.testing.assert_allclose(gauss.data, 0.5 * mse.data + 12 * 0.5 * np.log(2 * np.pi),
                               rtol=1e-5)


def test_gaussian_nll_clamp_passes_the_gradient_through():
    var = cr.tensor([0.0, 1e-8, 2.0], requires_grad=True)
    loss = F.gaussian_nll_loss(cr.tensor([0.0, 0.0, 0.0]), var, np.zeros(3), reduction="sum")
    loss.backward()
    # d/dv ½(log v + 0) = 1/(2v) evaluated at the clamped value
    np.testing.assert_allclose(var.grad, [0.5 / 1e-6, 0.5 / 1e-6, 0.25], rtol=1e-3)


# --- errors ----------------------------------------------------------------


def test_cross_entropy_target_errors():
    z = _logits((3, 4))
    with pytest.raises(TypeError, match="integer class ids.*float"):
        F.cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(IndexError, match="label 4 .*4 classes"):
        F.cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="label -1"):
        F.nll_loss(z, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"\(2,\).*3 rows"):
        F.cross_entropy(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(z, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(z, np.array([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        F.cross_entropy(_logits((4,)), np.array(1))


def test_shape_mismatch_errors_name_both_shapes():
    a = _logits((4, 3))
    for fn in (F.mse_loss, F.l1_loss, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 4\)"):
            fn(a, np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"var.*\(2, 2\)"):
        F.gaussian_nll_loss(a, np.ones((2, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(a, -np.ones((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2, 5\)"):
        F.linear(a, _logits((2, 5)))
