"""Maximum likelihood (book §5.5) and losses as negative log-likelihoods."""

import numpy as np
import pytest
from scipy import special, stats

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.mle import (
    fit_gaussian_by_gradient_ascent,
    gaussian_log_likelihood,
    gaussian_mle,
)

LOG_2PI = np.log(2 * np.pi)


@pytest.fixture
def samples():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(3, 3))
    cov = A @ A.T + 0.5 * np.eye(3)
    return rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=300)


def test_closed_form_is_mean_and_biased_covariance(samples):
    mean, cov = gaussian_mle(samples)
    np.testing.assert_allclose(mean, samples.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(samples, rowvar=False, bias=True), rtol=1e-12)
    mu, var = gaussian_mle(samples[:, 0])
    assert np.ndim(mu) == 0 and np.ndim(var) == 0
    np.testing.assert_allclose(var, samples[:, 0].var(ddof=0), rtol=1e-12)
    # biased: 1/m, not 1/(m-1)
    assert var < samples[:, 0].var(ddof=1)


def test_log_likelihood_matches_scipy(samples):
    mean, cov = gaussian_mle(samples)
    ref = stats.multivariate_normal(mean, cov).logpdf(samples)
    np.testing.assert_allclose(
        gaussian_log_likelihood(samples, mean, cov, reduction="none"), ref, rtol=1e-10
    )
    np.testing.assert_allclose(gaussian_log_likelihood(samples, mean, cov), ref.mean())
    np.testing.assert_allclose(
        gaussian_log_likelihood(samples, mean, cov, reduction="sum"), ref.sum()
    )


def test_closed_form_maximises_the_likelihood(samples):
    mean, cov = gaussian_mle(samples)
    best = gaussian_log_likelihood(samples, mean, cov)
    rng = np.random.default_rng(2)
    for _ in range(5):
        assert gaussian_log_likelihood(samples, mean + 0.05 * rng.normal(size=3), cov) < best
        assert gaussian_log_likelihood(samples, mean, cov * 1.05) < best
        assert gaussian_log_likelihood(samples, mean, cov * 0.95) < best


def test_gradient_ascent_agrees_with_closed_form_multivariate(samples):
    mean, cov = gaussian_mle(samples)
    fit = fit_gaussian_by_gradient_ascent(samples, steps=3000, lr=0.1, tol=1e-10)
    np.testing.assert_allclose(fit.mean, mean, atol=1e-8)
    np.testing.assert_allclose(fit.cov, cov, atol=1e-8)
    # the trace is the log-likelihood, ends at the closed-form maximum, climbs
    np.testing.assert_allclose(
        fit.log_likelihood[-1], gaussian_log_likelihood(samples, mean, cov), rtol=1e-10
    )
    assert fit.log_likelihood[0] < fit.log_likelihood[-1]
    assert np.all(np.diff(fit.log_likelihood) > -1e-12)


def test_gradient_ascent_agrees_with_closed_form_univariate():
    x = np.random.default_rng(3).normal(3.0, 2.0, size=500)
    mu, var = gaussian_mle(x)
    fit = fit_gaussian_by_gradient_ascent(x, steps=3000, lr=0.1, tol=1e-10)
    assert np.ndim(fit.mean) == 0 and np.ndim(fit.cov) == 0
    np.testing.assert_allclose(fit.mean, mu, atol=1e-8)
    np.testing.assert_allclose(fit.cov, var, atol=1e-8)


def test_covariance_stays_positive_definite_with_a_large_step(samples):
    fit = fit_gaussian_by_gradient_ascent(samples, steps=20, lr=0.5)
    assert np.all(np.linalg.eigvalsh(fit.cov) > 0)


def test_bad_samples_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        gaussian_mle(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="finite"):
        gaussian_mle(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_log_likelihood(np.zeros((4, 2)), np.zeros(2), -np.eye(2))


# --- every loss is a negative conditional log-likelihood (§6.2.1.1) -------

def test_unit_variance_gaussian_nll_is_half_mse_plus_constant():
    rng = np.random.default_rng(4)
    f = rng.normal(size=(64, 1)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)
    # per sample: -log N(y; f, 1) = ½(y-f)² + ½ log 2π
    nll = -stats.norm(loc=f, scale=1.0).logpdf(y)
    np.testing.assert_allclose(nll, 0.5 * (y - f) ** 2 + 0.5 * LOG_2PI, rtol=1e-6)
    # mean over samples: ½ · F.mse_loss + ½ log 2π  (mse_loss averages (y-f)²)
    mse = F.mse_loss(cr.tensor(f), y).item()
    np.testing.assert_allclose(nll.mean(), 0.5 * mse + 0.5 * LOG_2PI, rtol=1e-6)
    # k outputs: per-sample NLL ½‖y-f‖² + (k/2) log 2π = k (½ mse + ½ log 2π)
    f3 = rng.normal(size=(64, 3)).astype(np.float32)
    y3 = rng.normal(size=(64, 3)).astype(np.float32)
    nll3 = -stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(y3 - f3)
    mse3 = F.mse_loss(cr.tensor(f3), y3).item()
    np.testing.assert_allclose(nll3.mean(), 3 * (0.5 * mse3 + 0.5 * LOG_2PI), rtol=1e-6)


def test_gaussian_nll_with_predicted_variance_is_exact_nll():
    rng = np.random.default_rng(5)
    mu = rng.normal(size=(50, 2)).astype(np.float32)
    var = rng.uniform(0.2, 3.0, size=(50, 2)).astype(np.float32)
    y = rng.normal(size=(50, 2)).astype(np.float32)
    ref = -stats.norm(loc=mu, scale=np.sqrt(var)).logpdf(y).mean()
    got = F.gaussian_nll_loss(cr.tensor(mu), cr.tensor(var), y, full=True).item()
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_bernoulli_nll_is_bce_with_logits():
    rng = np.random.default_rng(6)
    z = rng.normal(scale=3.0, size=(40, 3)).astype(np.float32)
    t = (rng.random((40, 3)) < 0.4).astype(np.float32)
    ref = -stats.bernoulli(special.expit(z.astype(np.float64))).logpmf(t).mean()
    got = F.binary_cross_entropy_with_logits(cr.tensor(z), t).item()
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_multinoulli_nll_is_cross_entropy():
    rng = np.random.default_rng(7)
    z = rng.normal(scale=3.0, size=(30, 5)).astype(np.float32)
    y = rng.integers(0, 5, size=30)
    p = special.softmax(z.astype(np.float64), axis=1)
    onehot = np.eye(5)[y]
    ref = -np.mean([stats.multinomial(1, p[i]).logpmf(onehot[i]) for i in range(30)])
    got = F.cross_entropy(cr.tensor(z), y).item()
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_gradient_ascent_with_a_chainrule_optimiser(samples):
    mean, cov = gaussian_mle(samples)
    fit = fit_gaussian_by_gradient_ascent(
        samples, steps=3000, optimizer=lambda ps: cr.optim.Adam(ps, lr=0.05), tol=1e-10
    )
    np.testing.assert_allclose(fit.mean, mean, atol=1e-7)
    np.testing.assert_allclose(fit.cov, cov, atol=1e-7)
