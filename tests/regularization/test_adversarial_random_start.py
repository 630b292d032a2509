"""PGD's random start is uniform on the whole L∞ ball of radius ε (Madry et al., 2018).

With ``step_size=0`` the steps do not move, so the result is the start
itself: x + δ with δ ~ U(-ε, ε) in every coordinate.  A start drawn from
part of the ball (one sign, a smaller radius, a single corner) fails the
checks of range, mean, spread and a Kolmogorov–Smirnov test.
"""

import numpy as np
from scipy import stats

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.regularization import pgd


def test_pgd_start_with_zero_step_size_fills_the_eps_ball():
    cr.manual_seed(0)
    eps = 0.3
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 4))
    y = rng.integers(0, 3, 500)
    net = nn.Sequential(nn.Linear(4, 3, dtype=np.float64))
    out = pgd(net, F.cross_entropy, x, y, eps=eps, steps=2, step_size=0.0, random_start=True)
    delta = (out - x).ravel()
    assert np.all(np.abs(delta) <= eps + 1e-12)
    assert delta.min() < -0.99 * eps and delta.max() > 0.99 * eps
    assert abs(delta.mean()) < 0.02
    np.testing.assert_allclose(delta.std(), eps / np.sqrt(3), rtol=0.05)  # U(-ε, ε)
    assert stats.kstest(delta, stats.uniform(loc=-eps, scale=2 * eps).cdf).pvalue > 1e-3
    # each coordinate is drawn on its own: the sign pattern is not shared by a row
    assert 0.4 < np.mean(np.sign(delta.reshape(500, 4)[:, 0]) ==
                         np.sign(delta.reshape(500, 4)[:, 1])) < 0.6


def test_pgd_start_follows_the_seed():
    x = np.zeros((8, 4))
    y = np.zeros(8, dtype=int)
    net = nn.Sequential(nn.Linear(4, 3, dtype=np.float64))
    cr.manual_seed(5)
    a = pgd(net, F.cross_entropy, x, y, eps=0.1, steps=1, step_size=0.0)
    cr.manual_seed(5)
    b = pgd(net, F.cross_entropy, x, y, eps=0.1, steps=1, step_size=0.0)
    np.testing.assert_array_equal(a, b)
    assert np.any(a != 0)
