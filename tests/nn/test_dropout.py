"""Dropout: masks, both inference rules, MC-dropout averages (book §7.12)."""

import itertools

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.optim import Adam
from chainrule.regularization import mc_dropout_predict


@pytest.mark.parametrize("mode", ["inverted", "weight_scaling"])
def test_new_mask_each_forward_and_reproducible(mode):
    layer = nn.Dropout(0.5, mode=mode)
    x = cr.tensor(np.ones((20, 30), np.float32))
    cr.manual_seed(11)
    a, b = layer(x).data, layer(x).data
    assert not np.array_equal(a, b)
    cr.manual_seed(11)
    np.testing.assert_array_equal(layer(x).data, a)
    kept = 2.0 if mode == "inverted" else 1.0
    assert set(np.unique(a)) == {0.0, kept}


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_both_modes_give_the_same_expected_activation(p):
    """E_mask[train output] equals the inference output, in each mode (statistically)."""
    rng = np.random.default_rng(0)
    x_row = rng.uniform(0.5, 2.0, 40).astype(np.float32)
    n = 5000
    x = cr.tensor(np.tile(x_row, (n, 1)))
    keep = 1 - p
    means = {}
    for mode in ("inverted", "weight_scaling"):
        layer = nn.Dropout(p, mode=mode)
        train_mean = layer(x).data.mean(0)
        infer = layer.eval()(cr.tensor(x_row[None])).data[0]
        # per unit, the train output is x·s·Bernoulli(keep): std x·s·√(keep·p)/√n
        scale = 1 / keep if mode == "inverted" else 1.0
        tol = 5 * x_row * scale * np.sqrt(keep * p / n)
        assert np.all(np.abs(train_mean - infer) < tol)
        means[mode] = infer
    # the weight scaling rule is inverted dropout up to the constant factor keep
    np.testing.assert_allclose(means["weight_scaling"], keep * means["inverted"], rtol=1e-6)


def test_gradient_is_the_mask_and_validation():
    layer = nn.Dropout(0.25)
    x = cr.tensor(np.ones((50, 8), np.float32), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # mask / keep
    with pytest.raises(ValueError, match=r"p in \[0, 1\)"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="mode"):
        nn.Dropout(0.5, mode="gaussian")


def test_mc_dropout_predict_averages_passes_and_restores_modes():
    net = nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5),
                        nn.Linear(16, 3))
    x = np.random.default_rng(1).standard_normal((12, 5)).astype(np.float32)
    net(cr.tensor(x))  # one training batch for the running stats
    net.eval()
    cr.manual_seed(4)
    proba, std = mc_dropout_predict(net, x, n=20, return_std=True)
    assert not net.training and not net[3].training  # modes restored
    # by hand: batch norm in eval mode, dropout in training mode, 20 passes
    cr.manual_seed(4)
    net[3].train()
    passes = [F.softmax(net(cr.tensor(x))).data.astype(np.float64) for _ in range(20)]
    net[3].eval()
    np.testing.assert_allclose(proba, np.mean(passes, 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(std, np.std(passes, 0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert np.all(std > 0)
    with pytest.raises(ValueError, match="no nn.Dropout"):
        mc_dropout_predict(nn.Linear(5, 3), x)


@pytest.mark.parametrize("mode", ["inverted", "weight_scaling"])
@pytest.mark.parametrize("p", [0.5, 0.3])
def test_weight_scaling_is_exact_geometric_mean_for_softmax_regression(mode, p):
    """Book §7.12: without hidden units the rule equals the renormalised
    geometric mean over all 2^d masks (weighted by their probabilities)."""
    d, k = 8, 4
    rng = np.random.default_rng(2)
    net = nn.Sequential(nn.Dropout(p, mode=mode), nn.Linear(d, k))
    net[1].weight.data[...] = rng.standard_normal((d, k))
    net[1].bias.data[...] = rng.standard_normal(k)
    x = rng.standard_normal((5, d))
    keep = 1 - p
    masks = np.array(list(itertools.product([0.0, 1.0], repeat=d)))  # (2^d, d)
    prob = np.prod(np.where(masks == 1, keep, p), axis=1)
    scale = 1 / keep if mode == "inverted" else 1.0
    w = net[1].weight.data.astype(np.float64)
    b = net[1].bias.data.astype(np.float64)
    logits = (masks[:, None, :] * x[None] * scale) @ w + b  # (2^d, 5, k)
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    geo = np.exp(np.tensordot(prob, logp, axes=1))
    geo /= geo.sum(-1, keepdims=True)
    arith = np.tensordot(prob, np.exp(logp), axes=1)
    net.eval()
    rule = F.softmax(net(cr.tensor(x.astype(np.float32)))).data
    np.testing.assert_allclose(rule, geo, rtol=1e-5, atol=1e-6)
    assert np.abs(arith - geo).max() > 1e-3  # the arithmetic mean is a different thing
    # the Monte-Carlo geometric mean converges to it: 4000 masks, loose tolerance
    mc = mc_dropout_predict(net, x.astype(np.float32), n=4000, mean="geometric")
    assert np.abs(mc - geo).max() < 0.05


def test_weight_scaling_approximates_mc_means_on_a_trained_net():
    """With hidden units the rule is an approximation: on a trained MLP it
    agrees with both Monte-Carlo ensemble means on nearly every prediction."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, ytr, Xte = X[:500], y[:500], X[500:800]
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.5, mode="weight_scaling"),
                        nn.Linear(64, 10))
    opt = Adam(net.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(150):
        idx = rng.integers(0, 500, 64)
        opt.zero_grad()
        F.cross_entropy(net(cr.tensor(Xtr[idx])), ytr[idx]).backward()
        opt.step()
    net.eval()
    rule = F.softmax(net(cr.tensor(Xte))).data
    geo = mc_dropout_predict(net, Xte, n=100, mean="geometric")
    arith = mc_dropout_predict(net, Xte, n=100, mean="arithmetic")
    for ens in (geo, arith):
        assert (rule.argmax(1) == ens.argmax(1)).mean() >= 0.95
    # mean L1 distance between predictive distributions: the rule tracks the
    # geometric mean closely (→ 0 as n grows); the arithmetic mean is flatter
    l1_geo = np.abs(rule - geo).sum(1).mean()
    l1_arith = np.abs(rule - arith).sum(1).mean()
    assert l1_geo < 0.06
    assert l1_geo < 0.5 * l1_arith
    assert (rule.argmax(1) == y[500:800]).mean() > 0.8
