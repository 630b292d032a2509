"""Weight initialisation (book §8.4): bounds, variances, fans, reproducibility.

Empirical moments of 60,000+ draws: the relative standard error of a
variance estimate is about √(0.8/n) ≈ 0.4% for a uniform and √(2/n) ≈ 0.6%
for a normal, so a 3% tolerance is ≥ 5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import init


def _param(shape):
    return nn.Parameter(np.empty(shape, np.float32))


def _check_uniform(w, bound):
    assert w.max() <= bound and w.min() >= -bound
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound
    assert abs(w.mean()) < 0.02 * bound
    np.testing.assert_allclose(w.var(), bound**2 / 3, rtol=0.03)


def _check_normal(w, std):
    assert abs(w.mean()) < 0.02 * std
    np.testing.assert_allclose(w.var(), std**2, rtol=0.03)
    assert np.abs(w).max() > 3 * std  # tails: not a uniform in disguise


def test_glorot_uniform_bound_is_sqrt_6_over_m_plus_n():
    p = _param((300, 200))
    out = init.glorot_uniform_(p)
    assert out is p and p.dtype == np.float32
    bound = math.sqrt(6 / (300 + 200))  # the book's eq. 8.23 (not 6/√(m+n))
    _check_uniform(p.data, bound)
    # variance 2/(m+n)
    np.testing.assert_allclose(p.data.var(), 2 / 500, rtol=0.03)


def test_glorot_normal_variance():
    p = init.glorot_normal_(_param((300, 200)))
    _check_normal(p.data, math.sqrt(2 / 500))


@pytest.mark.parametrize("mode, fan", [("fan_in", 300), ("fan_out", 200)])
def test_he_uniform_and_normal(mode, fan):
    u = init.he_uniform_(_param((300, 200)), mode=mode)
    _check_uniform(u.data, math.sqrt(6 / fan))
    np.testing.assert_allclose(u.data.var(), 2 / fan, rtol=0.03)
    n = init.he_normal_(_param((300, 200)), mode=mode)
    _check_normal(n.data, math.sqrt(2 / fan))


def test_uniform_and_normal_fill():
    _check_uniform(init.uniform_(_param((250, 250)), -0.5, 0.5).data, 0.5)
    _check_normal(init.normal_(_param((250, 250)), 0.0, 0.1).data, 0.1)


def test_zeros_and_constant_write_in_place():
    p = _param((3, 4))
    data = p.data
    init.zeros_(p)
    assert p.data is data and np.all(p.data == 0)
    init.constant_(p, 0.1)  # e.g. ReLU biases (book §6.3.1)
    assert p.data is data and np.all(p.data == np.float32(0.1))


def test_conv_kernel_fans():
    # (out_channels, in_channels, kh, kw): fan_in = in·k·k, fan_out = out·k·k
    assert init.compute_fans((16, 8, 3, 3)) == (72, 144)
    assert init.compute_fans((4, 2, 5)) == (10, 20)
    assert init.compute_fans((7, 5)) == (7, 5)  # Linear weight (in, out)
    k = init.glorot_uniform_(_param((64, 32, 5, 5)))
    _check_uniform(k.data, math.sqrt(6 / (32 * 25 + 64 * 25)))
    h = init.he_normal_(_param((64, 32, 5, 5)))
    _check_normal(h.data, math.sqrt(2 / (32 * 25)))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"≥ 2 dims.*\(5,\)"):
        init.glorot_uniform_(_param((5,)))
    with pytest.raises(ValueError, match="fan_in"):
        init.he_uniform_(_param((3, 3)), mode="fan_avg")


def test_aliases_are_the_same_functions():
    assert init.xavier_uniform_ is init.glorot_uniform_
    assert init.kaiming_normal_ is init.he_normal_


def test_linear_default_init_is_glorot_with_zero_bias():
    layer = nn.Linear(400, 300)
    _check_uniform(layer.weight.data, math.sqrt(6 / 700))
    assert np.all(layer.bias.data == 0)


def test_same_seed_same_weights_different_seed_different():
    def build(seed):
        cr.manual_seed(seed)
        net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
        init.he_normal_(net[2].weight)
        return [p.data.copy() for p in net.parameters()]

    a, b, c = build(1), build(1), build(2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[2], c[2])


def test_init_draws_from_the_global_generator_only():
    cr.manual_seed(7)
    a = init.normal_(_param((3, 3))).data.copy()
    cr.manual_seed(7)
    np.random.seed(123)  # NumPy's legacy global state must not matter
    b = init.normal_(_param((3, 3))).data.copy()
    np.testing.assert_array_equal(a, b)
