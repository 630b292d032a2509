"""Task 10, density estimation (book §5.1.1, §6.2.2.4): a mixture density network.

Bishop's inverse problem (1994): draw t ~ U(0, 1) and set
x = t + 0.3 sin(2πt) + ε, ε ~ U(-0.1, 0.1); then predict y = t from x.
For x in the middle of the range three values of y fit, so p(y | x) is
multimodal and any single-Gaussian (MSE) regression averages the branches.

A mixture density network outputs, for each x, a Gaussian mixture

    p(y | x) = Σ_k π_k(x) N(y; μ_k(x), σ_k(x)²),

with π = softmax of K logits, μ linear and σ = exp of a linear output
(book §6.2.2.4).  It is trained by maximum likelihood; the NLL is computed
in the log domain: -logsumexp_k(log π_k + log N(y; μ_k, σ_k²)).

Metric: held-out conditional log-likelihood per example, mean log p(y | x)
on fresh samples (nats; higher is better; the true p(y | x) scores about
1.30).  Baselines from scikit-learn,
turned into conditionals by p(y | x) = p(x, y) / p(x):

* ``GaussianMixture`` on (x, y) (components chosen by BIC), whose marginal
  p(x) is the mixture of the components' x-marginals;
* ``KernelDensity`` on (x, y) with a Gaussian kernel (bandwidth by
  cross-validation), whose marginal p(x) is the 1-D KDE with the same
  bandwidth;
* a ``GaussianMixture`` on y alone, which ignores x;
* a single Gaussian N(y; f(x), s²), the MSE regression's likelihood.

The MDN is far better than the unimodal and unconditional models and
close to the joint-density estimators, without beating the KDE: with
uniform noise the true p(y | x) is flat-topped with sharp edges, which many
narrow kernels approximate more easily than a few Gaussians.

Run: ``python examples/tasks/density_estimation.py``
"""

from __future__ import annotations

import numpy as np
from _common import one_blas_thread, predict, report, train

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

LOG_2PI = float(np.log(2 * np.pi))
#: bars: within TOLERANCE nats of the best scikit-learn joint-density estimate
#: (SMALL_TOLERANCE for the small run: half the data, a third of the steps),
#: and at least GAIN nats above the unimodal regression and the marginal p(y)
TOLERANCE, SMALL_TOLERANCE = 0.15, 0.2
GAIN = 0.5


def inverse_sine(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs (x, y) of Bishop's inverse problem, float32 columns."""
    t = rng.uniform(0, 1, n)
    x = t + 0.3 * np.sin(2 * np.pi * t) + rng.uniform(-0.1, 0.1, n)
    return x.astype(np.float32)[:, None], t.astype(np.float32)[:, None]


class MixtureDensityNetwork(nn.Module):
    """x → (mixture logits, means, log standard deviations) of K Gaussians.

    Shape:
        input (N, d_in) -> output (N, 3K): columns [logits | μ | log σ].

    The means start spread evenly over [y_low, y_high] and the standard
    deviations at a fraction of that range, so the K components begin in
    different places rather than all on top of each other.
    """

    def __init__(self, d_in: int = 1, hidden: int = 32, k: int = 10,
                 y_range: tuple = (0.0, 1.0)):
        super().__init__()
        self.k = k
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(),
                                  nn.Linear(hidden, hidden), nn.Tanh(),
                                  nn.Linear(hidden, 3 * k))
        out = self.body[4]
        lo, hi = y_range
        out.bias.data[k:2 * k] = np.linspace(lo, hi, k)
        out.bias.data[2 * k:] = np.log(0.5 * (hi - lo) / k)

    def forward(self, x):
        return self.body(x)


def mdn_log_likelihood(out, y):
    """log p(y | x) per row: logsumexp_k(log π_k + log N(y; μ_k, σ_k²)).

    ``out``: (N, 3K) network output (Tensor or array); ``y``: (N, 1).
    """
    k = out.shape[1] // 3
    log_pi = F.log_softmax(out[:, :k], axis=1)
    mu, log_sigma = out[:, k:2 * k], out[:, 2 * k:]
    z = (y - mu) * cr.exp(-log_sigma)
    log_normal = z * z * -0.5 - log_sigma - 0.5 * LOG_2PI
    return F.logsumexp(log_pi + log_normal, axis=1)


def mdn_nll(out, yb):
    """Training loss: mean negative conditional log-likelihood."""
    return -mdn_log_likelihood(out, yb).mean()


def _gmm_conditional(X, Y, Xt, Yt, seed) -> float:
    """Mean log p(y | x) from a GaussianMixture on (x, y), K by BIC."""
    from scipy.special import logsumexp
    from scipy.stats import norm
    from sklearn.mixture import GaussianMixture

    joint_train = np.hstack([X, Y]).astype(np.float64)
    joint_test = np.hstack([Xt, Yt]).astype(np.float64)
    best = min((GaussianMixture(k, random_state=seed).fit(joint_train)
                for k in (2, 4, 6, 8, 12, 16)), key=lambda g: g.bic(joint_train))
    log_joint = best.score_samples(joint_test)
    sx = np.sqrt(best.covariances_[:, 0, 0])
    log_px = logsumexp(np.log(best.weights_) + norm.logpdf(Xt.astype(np.float64),
                                                          best.means_[:, 0], sx), axis=1)
    return float(np.mean(log_joint - log_px))


def _kde_conditional(X, Y, Xt, Yt) -> float:
    """Mean log p(y | x) from a Gaussian KDE on (x, y), bandwidth by 5-fold CV."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KernelDensity

    joint = np.hstack([X, Y]).astype(np.float64)
    search = GridSearchCV(KernelDensity(), {"bandwidth": np.geomspace(0.01, 0.2, 12)}, cv=5)
    h = search.fit(joint).best_params_["bandwidth"]
    log_joint = KernelDensity(bandwidth=h).fit(joint).score_samples(
        np.hstack([Xt, Yt]).astype(np.float64))
    log_px = KernelDensity(bandwidth=h).fit(X.astype(np.float64)).score_samples(
        Xt.astype(np.float64))
    return float(np.mean(log_joint - log_px))


def _marginal_y(Y, Yt, seed) -> float:
    from sklearn.mixture import GaussianMixture

    best = min((GaussianMixture(k, random_state=seed).fit(Y) for k in (1, 2, 4, 8)),
               key=lambda g: g.bic(Y))
    return float(np.mean(best.score_samples(Yt)))


def _regression_gaussian(X, Y, Xt, Yt) -> float:
    """N(y; f(x), s²) with f an MLP fitted by MSE and s² its training MSE."""
    net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                        nn.Linear(32, 1))
    train(net, X, Y, F.mse_loss, epochs=100, batch_size=64, lr=1e-2)
    s2 = float(np.mean((predict(net, X) - Y) ** 2))
    r = predict(net, Xt) - Yt
    return float(np.mean(-0.5 * (LOG_2PI + np.log(s2)) - 0.5 * r * r / s2))


def run(small: bool = False, seed: int = 0) -> dict:
    """Train the MDN; compare held-out log p(y | x) with the baselines."""
    cr.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_train = 1000 if small else 2000
    X, Y = inverse_sine(n_train, rng)
    Xt, Yt = inverse_sine(2000, rng)
    mx, sx = X.mean(), X.std()  # standardised input for the network

    if small:
        mdn = MixtureDensityNetwork(hidden=32, k=20)
        train(mdn, (X - mx) / sx, Y, mdn_nll, epochs=150, batch_size=64, lr=3e-3,
              cosine=True)
    else:
        mdn = MixtureDensityNetwork(hidden=64, k=20)
        train(mdn, (X - mx) / sx, Y, mdn_nll, epochs=400, batch_size=128, lr=3e-3,
              cosine=True)
    with cr.no_grad():
        out = cr.tensor(predict(mdn, (Xt - mx) / sx))
        ll = float(mdn_log_likelihood(out, Yt).data.mean())

    scores = {
        "gmm": _gmm_conditional(X, Y, Xt, Yt, seed),
        "kde": _kde_conditional(X, Y, Xt, Yt),
        "marginal": _marginal_y(Y, Yt, seed),
        "regression": _regression_gaussian(X, Y, Xt, Yt),
    }
    name = f"MDN, {mdn.k} components"
    report("density estimation: held-out mean log p(y | x), nats (higher is better)", [
        (name, ll, "GaussianMixture p(x,y)/p(x)", scores["gmm"]),
        (name, ll, "KernelDensity p(x,y)/p(x)", scores["kde"]),
        (name, ll, "GaussianMixture p(y), no x", scores["marginal"]),
        (name, ll, "Gaussian regression (MSE)", scores["regression"]),
    ])
    tolerance = SMALL_TOLERANCE if small else TOLERANCE
    print(f"   bars: within {tolerance} nats of the best scikit-learn estimate; "
          f">= {GAIN} nats above the regression and p(y)")
    return {"log_likelihood": ll,
            **{f"{key}_log_likelihood": v for key, v in scores.items()}}


if __name__ == "__main__":
    with one_blas_thread():
        run()
