"""Maximum likelihood estimation of a Gaussian (book §5.5, §5.5.1, §5.4.2).

The maximum likelihood estimator picks the parameters that make the
training set most probable:

    θ_ML = argmax_θ Σ_{i=1}^m log p_model(x⁽ⁱ⁾; θ).

For a Gaussian N(μ, Σ) the maximiser has a closed form, the sample mean
and the *biased* sample covariance (divisor m, not m-1):

    μ̂ = (1/m) Σᵢ x⁽ⁱ⁾,      Σ̂ = (1/m) Σᵢ (x⁽ⁱ⁾ - μ̂)(x⁽ⁱ⁾ - μ̂)ᵀ.

This module computes it both ways — :func:`gaussian_mle` in closed form,
:func:`fit_gaussian_by_gradient_ascent` by climbing the mean log-likelihood
with chainrule's reverse-mode autodiff — so the two can be compared.  The
covariance is parametrised by its Cholesky factor Σ = L Lᵀ whose diagonal is
stored as a logarithm, L_jj = exp(s_j), so every step keeps Σ positive
definite without a constraint.

The same principle gives the library's losses: each is a negative
conditional log-likelihood -log p(y | x; θ) (book §6.2.1.1):

* Gaussian output with unit variance: per sample
  ½(y - f)² + ½ log 2π, i.e. ``0.5 * F.mse_loss(f, y) + 0.5*log(2π)``
  for one output (mse_loss averages (y-f)², hence the factor ½);
* Bernoulli output σ(z): ``F.binary_cross_entropy_with_logits(z, y)``;
* multinoulli output softmax(z): ``F.cross_entropy(z, y)``;
* Gaussian with a predicted variance: ``F.gaussian_nll_loss(mu, var, y,
  full=True)``.

``tests/test_mle.py`` checks each equality against ``scipy.stats``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .autograd import Tensor, concatenate, exp, log, no_grad, tensor

__all__ = [
    "GaussianFit",
    "fit_gaussian_by_gradient_ascent",
    "gaussian_log_likelihood",
    "gaussian_log_likelihood_tensor",
    "gaussian_mle",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _as_samples(X) -> tuple[np.ndarray, bool]:
    """(m, d) float64 samples and whether the input was univariate (m,)."""
    a = np.asarray(X, dtype=np.float64)
    if a.ndim == 1:
        a, univariate = a[:, None], True
    elif a.ndim == 2:
        univariate = False
    else:
        raise ValueError(
            "Expected samples of shape (m,) or (m, d). "
            f"Received: shape={a.shape}"
        )
    if a.shape[0] < 1:
        raise ValueError("Expected at least one sample. Received: m=0")
    if not np.all(np.isfinite(a)):
        raise ValueError("Expected finite samples. Received: NaN or inf entries")
    return a, univariate


def gaussian_mle(X) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form maximum likelihood estimate of a Gaussian (book §5.5).

    μ̂ = (1/m) Σᵢ x⁽ⁱ⁾ and Σ̂ = (1/m) Σᵢ (x⁽ⁱ⁾ - μ̂)(x⁽ⁱ⁾ - μ̂)ᵀ.  The 1/m divisor
    makes Σ̂ biased (book §5.4.2: E[σ̂²] = (m-1)/m σ²); it is NumPy's
    ``np.cov(X, rowvar=False, bias=True)``.

    Args:
        X: samples, (m,) for a univariate or (m, d) for a multivariate
            Gaussian.

    Returns:
        ``(mean, cov)``: float64 arrays of shapes ``()`` and ``()`` for
        univariate input (cov is the variance σ̂²), ``(d,)`` and ``(d, d)``
        otherwise.

    Example:
        >>> mu, var = gaussian_mle([1.0, 2.0, 3.0])
        >>> float(mu), round(float(var), 4)
        (2.0, 0.6667)
    """
    a, univariate = _as_samples(X)
    mean = a.mean(axis=0)
    centred = a - mean
    cov = centred.T @ centred / a.shape[0]
    if univariate:
        return mean[0], cov[0, 0]
    return mean, cov


def gaussian_log_likelihood(X, mean, cov, reduction: str = "mean") -> float | np.ndarray:
    """Log-likelihood log N(x; μ, Σ) of samples under a Gaussian (book eq. 3.23).

    log N(x; μ, Σ) = -½ (x-μ)ᵀ Σ⁻¹ (x-μ) - ½ log det Σ - (d/2) log 2π.

    Args:
        X: samples, (m,) or (m, d).
        mean: μ, scalar or (d,).
        cov: Σ, scalar variance or (d, d) positive definite matrix.
        reduction: "mean" (average over samples), "sum" or "none" (per sample).

    Returns:
        A float, or an (m,) array for ``reduction="none"``.
    """
    a, _ = _as_samples(X)
    d = a.shape[1]
    mu = np.asarray(mean, dtype=np.float64).reshape(d)
    sigma = np.asarray(cov, dtype=np.float64).reshape(d, d)
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError as err:
        raise ValueError(
            "Expected a positive definite covariance. "
            f"Received: eigenvalues {np.linalg.eigvalsh(sigma)}"
        ) from err
    z = np.linalg.solve(chol, (a - mu).T)  # L z = x - μ
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    ll = -0.5 * (z * z).sum(axis=0) - 0.5 * log_det - 0.5 * d * _LOG_2PI
    if reduction == "mean":
        return float(ll.mean())
    if reduction == "sum":
        return float(ll.sum())
    if reduction == "none":
        return ll
    raise ValueError(
        f"Expected reduction 'mean', 'sum' or 'none'. Received: {reduction!r}"
    )


@dataclass
class GaussianFit:
    """Result of :func:`fit_gaussian_by_gradient_ascent`.

    Attributes:
        mean: μ, shape ``()`` or ``(d,)``.
        cov: Σ = L Lᵀ, shape ``()`` or ``(d, d)``.
        log_likelihood: mean log-likelihood per sample after each step.
        steps: number of steps taken.
    """

    mean: np.ndarray
    cov: np.ndarray
    log_likelihood: list
    steps: int


def _cholesky_factor(off_diag: Tensor, log_diag: Tensor, d: int) -> Tensor:
    """L = strictly-lower(A) + diag(exp(s)): lower triangular, positive diagonal."""
    lower = np.tril(np.ones((d, d), dtype=off_diag.dtype), k=-1)
    eye = np.eye(d, dtype=off_diag.dtype)
    return off_diag * lower + exp(log_diag) * eye


def _forward_substitution(L: Tensor, R: Tensor) -> Tensor:
    """Solve L Z = R for lower triangular L, row by row, from primitives.

    z_j = (r_j - Σ_{k<j} L_jk z_k) / L_jj.  The loop runs over the d
    dimensions (not the samples), each step a vector operation over all
    columns of R, so autodiff differentiates it like any other graph.

    Shape:
        L (d, d), R (d, m) -> Z (d, m).
    """
    d = L.shape[0]
    rows: list[Tensor] = []
    for j in range(d):
        r = R[j:j + 1]
        if j > 0:
            prev = concatenate(rows, axis=0)
            r = r - L[j:j + 1, :j] @ prev
        rows.append(r / L[j, j])
    return concatenate(rows, axis=0)


def gaussian_log_likelihood_tensor(X: np.ndarray, mean: Tensor, L: Tensor) -> Tensor:
    """Mean log-likelihood of (m, d) samples under N(μ, L Lᵀ), as a Tensor.

    With z = L⁻¹(x - μ): log N(x) = -½‖z‖² - Σⱼ log L_jj - (d/2) log 2π.
    Differentiable in ``mean`` and ``L`` (what gradient ascent climbs).

    Args:
        X: (m, d) samples, an array.
        mean: μ, a (d,) Tensor.
        L: lower-triangular (d, d) Tensor with a positive diagonal, Σ = L Lᵀ.

    Returns:
        A scalar Tensor.
    """
    m, d = X.shape
    R = tensor(X.T, dtype=X.dtype) - mean.reshape(d, 1)
    Z = _forward_substitution(L, R)
    quad = (Z * Z).sum() * (1.0 / m)
    diag = (L * np.eye(d, dtype=X.dtype)).sum(axis=0)
    return quad * -0.5 - log(diag).sum() - 0.5 * d * _LOG_2PI


def fit_gaussian_by_gradient_ascent(
    X,
    *,
    steps: int = 2000,
    lr: float = 0.1,
    optimizer=None,
    tol: float = 0.0,
) -> GaussianFit:
    """Maximum likelihood Gaussian found by gradient ascent on the log-likelihood.

    Maximises ℓ(μ, L) = (1/m) Σᵢ log N(x⁽ⁱ⁾; μ, L Lᵀ) (book §5.5) by
    θ ← θ + ε ∇_θ ℓ, with the gradient from reverse-mode autodiff.  L is
    lower triangular with L_jj = exp(s_j), so Σ = L Lᵀ stays positive
    definite whatever the step.  Starts from μ = 0, L = I; at convergence it
    agrees with :func:`gaussian_mle`.

    Args:
        X: samples, (m,) or (m, d).
        steps: maximum number of ascent steps.
        lr: step size ε of the plain gradient ascent.
        optimizer: optional factory ``params -> optimiser`` (e.g.
            ``lambda ps: cr.optim.Adam(ps, lr=0.05)``); it minimises -ℓ.
            Default: plain gradient ascent with step ``lr``.
        tol: stop early once every gradient entry is below ``tol`` in
            absolute value (0 runs all ``steps``).

    Returns:
        A :class:`GaussianFit` with float64 ``mean`` and ``cov`` shaped like
        :func:`gaussian_mle`'s, and the log-likelihood trace.

    Example:
        >>> x = np.random.default_rng(0).normal(3.0, 2.0, size=500)
        >>> fit = fit_gaussian_by_gradient_ascent(x, steps=3000)
        >>> np.allclose(fit.mean, x.mean(), atol=1e-6)
        True
    """
    a, univariate = _as_samples(X)
    if steps < 1 or lr <= 0:
        raise ValueError(
            f"Expected steps >= 1 and lr > 0. Received: steps={steps}, lr={lr}"
        )
    d = a.shape[1]
    f64 = np.float64
    mean = tensor(np.zeros(d), requires_grad=True, dtype=f64)
    off_diag = tensor(np.zeros((d, d)), requires_grad=True, dtype=f64)
    log_diag = tensor(np.zeros(d), requires_grad=True, dtype=f64)
    params = [mean, off_diag, log_diag]
    opt = optimizer(params) if optimizer is not None else None
    trace: list = []
    for _ in range(steps):
        for p in params:
            p.grad = None
        L = _cholesky_factor(off_diag, log_diag, d)
        ll = gaussian_log_likelihood_tensor(a, mean, L)
        (-ll).backward()  # gradient of the loss -ℓ
        trace.append(float(ll.item()))
        if tol > 0 and max(np.abs(p.grad).max() for p in params) < tol:
            break
        if opt is not None:
            opt.step()
        else:
            with no_grad():
                for p in params:
                    p.data -= lr * p.grad  # ascent on ℓ = descent on -ℓ
    with no_grad():
        L = _cholesky_factor(off_diag, log_diag, d).data
    mu = mean.data.copy()
    cov = L @ L.T
    if univariate:
        return GaussianFit(mu[0], cov[0, 0], trace, len(trace))
    return GaussianFit(mu, cov, trace, len(trace))
