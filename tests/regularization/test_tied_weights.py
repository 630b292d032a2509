"""Parameter tying (book §7.9): a tied autoencoder sums both gradients."""

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


class TiedAutoencoder(nn.Module):
    """h = tanh(x W + b), x̂ = h Wᵀ + c: one Parameter W in two places."""

    def __init__(self, d, k):
        super().__init__()
        rng = np.random.default_rng(0)
        self.weight = nn.Parameter(rng.standard_normal((d, k)) * 0.5, dtype=np.float64)
        self.b = nn.Parameter(rng.standard_normal(k) * 0.1, dtype=np.float64)
        self.c = nn.Parameter(rng.standard_normal(d) * 0.1, dtype=np.float64)

    def forward(self, x):
        h = F.tanh(F.linear(x, self.weight, self.b))
        return F.linear(h, self.weight.T, self.c)


def _loss(model, x):
    return F.mse_loss(model(x), x, reduction="sum")


def test_tied_gradient_matches_float64_finite_differences():
    d, k = 6, 3
    model = TiedAutoencoder(d, k)
    assert len(list(model.parameters())) == 3  # W is registered once
    x = cr.tensor(np.random.default_rng(1).standard_normal((5, d)), dtype=np.float64)
    _loss(model, x).backward()
    w = model.weight.data
    num = np.zeros_like(w)
    h = 1e-6
    for i in np.ndindex(w.shape):
        old = w[i]
        w[i] = old + h
        up = _loss(model, x).item()
        w[i] = old - h
        down = _loss(model, x).item()
        w[i] = old
        num[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(model.weight.grad, num, rtol=1e-7, atol=1e-9)


def test_tied_gradient_is_the_sum_of_encoder_and_decoder_gradients():
    d, k = 6, 3
    model = TiedAutoencoder(d, k)
    x = cr.tensor(np.random.default_rng(2).standard_normal((4, d)), dtype=np.float64)
    _loss(model, x).backward()
    # the same network with two untied copies of W
    w_enc = cr.tensor(model.weight.data.copy(), requires_grad=True, dtype=np.float64)
    w_dec = cr.tensor(model.weight.data.copy(), requires_grad=True, dtype=np.float64)
    h = F.tanh(F.linear(x, w_enc, model.b.detach()))
    out = F.linear(h, w_dec.T, model.c.detach())
    F.mse_loss(out, x, reduction="sum").backward()
    assert np.abs(w_enc.grad).max() > 1e-3 and np.abs(w_dec.grad).max() > 1e-3
    np.testing.assert_allclose(model.weight.grad, w_enc.grad + w_dec.grad, rtol=1e-12)
