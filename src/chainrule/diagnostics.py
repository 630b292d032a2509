"""Curvature diagnostics (book §4.3.1, §8.2.1): gᵀHg, the predicted change, Hessian eigenvalues.

A gradient step -εg changes the cost, to second order (book eq. 4.9/8.10), by

    J(θ - εg) - J(θ) ≈ ½ ε² gᵀHg - ε gᵀg.

When ½ε²gᵀHg outgrows εgᵀg the step *raises* the cost: the Hessian is
ill-conditioned for that learning rate (§8.2.1).  The book observes that
during training ‖g‖² often grows while gᵀHg grows faster, so learning slows
although the gradient is large.  These functions measure that with
Hessian-vector products (``create_graph`` double backward), never forming H:

- :func:`curvature`: ‖g‖², gᵀHg and the predicted change for a step ε.
- :func:`hessian_eigenvalues`: the largest eigenvalues of H by Lanczos
  iteration with full reorthogonalisation (power iteration is its 1-vector
  special case, slower to converge).

The Trainer callback that logs these each epoch is
:class:`chainrule.training.CurvatureMonitor`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .autograd.engine import Tensor, enable_grad, grad

__all__ = ["curvature", "hessian_eigenvalues", "hessian_vector_product"]


def _params(params: Iterable) -> list:
    params = list(params)
    if not params or not all(isinstance(p, Tensor) and p.requires_grad for p in params):
        raise ValueError(
            "Expected a non-empty list of Tensors that require grad (e.g. model.parameters()). "
            f"Received: {[type(p).__name__ for p in params]}"
        )
    return params


def _gradient(loss_fn: Callable, params: list):
    with enable_grad():
        loss = loss_fn()
        if not isinstance(loss, Tensor) or loss.data.size != 1:
            raise TypeError(
                "Expected loss_fn() to return a scalar loss Tensor. "
                f"Received: {type(loss).__name__}"
            )
        gs = grad(loss, params, create_graph=True, allow_unused=True)
    gs = [g if g is not None else Tensor(np.zeros(p.shape, p.dtype), dtype=p.dtype)
          for g, p in zip(gs, params)]
    return loss, gs


def _hvp(gs: list, params: list, vs: list) -> list:
    """H v from the recorded gradients (one more backward pass)."""
    used = [(g, v) for g, v in zip(gs, vs) if g.requires_grad]
    if not used:
        return [np.zeros(p.shape, p.dtype) for p in params]
    with enable_grad():
        hv = grad([g for g, _ in used], params, [v for _, v in used], allow_unused=True)
    return [np.zeros(p.shape, p.dtype) if h is None else h.data for h, p in zip(hv, params)]


def hessian_vector_product(loss_fn: Callable, params: Iterable, vectors: list) -> list:
    """H v for the loss ``loss_fn()`` w.r.t. ``params`` (a list of arrays shaped like them)."""
    params = _params(params)
    _, gs = _gradient(loss_fn, params)
    return _hvp(gs, params, [np.asarray(v, dtype=p.dtype) for v, p in zip(vectors, params)])


def curvature(loss_fn: Callable, params: Iterable, lr: float | None = None) -> dict:
    """‖g‖², gᵀHg and the book's predicted change of the cost for a step of size ``lr``.

    Args:
        loss_fn: ``() -> scalar loss Tensor`` (recomputes the loss; no backward).
        params: the parameters the gradient is taken for.
        lr: the step ε (None: only ‖g‖² and gᵀHg).

    Returns:
        ``{"loss", "grad_norm_sq", "gHg"}`` plus, with ``lr``,
        ``"predicted_change"`` = ½ ε² gᵀHg - ε gᵀg (eq. 8.10) and
        ``"curvature_ratio"`` = ε gᵀHg / (2 gᵀg) (the step raises the cost
        when this exceeds 1).

    Example:
        >>> curvature(lambda: F.cross_entropy(model(x), y), model.parameters(), lr=0.1)
        {'loss': 0.31, 'grad_norm_sq': 0.052, 'gHg': 0.41, 'predicted_change': -0.0031, ...}
    """
    params = _params(params)
    loss, gs = _gradient(loss_fn, params)
    g = [gi.data for gi in gs]
    gg = float(sum(np.vdot(a, a) for a in g))
    hg = _hvp(gs, params, g)
    ghg = float(sum(np.vdot(a, b) for a, b in zip(g, hg)))
    out = {"loss": float(loss.data), "grad_norm_sq": gg, "gHg": ghg}
    if lr is not None:
        eps = float(lr)
        out["predicted_change"] = 0.5 * eps * eps * ghg - eps * gg
        out["curvature_ratio"] = eps * ghg / (2 * gg) if gg > 0 else 0.0
    return out


def hessian_eigenvalues(loss_fn: Callable, params: Iterable, k: int = 1,
                        iterations: int | None = None, seed: int = 0) -> np.ndarray:
    """The ``k`` largest eigenvalues of the Hessian of ``loss_fn()``, by Lanczos on HVPs.

    Lanczos builds an orthonormal basis Q of the Krylov space {v, Hv, H²v, ...}
    (each new vector reorthogonalised against all before it) and the
    tridiagonal T = QᵀHQ; T's extreme eigenvalues converge to H's first.
    H is never formed: each iteration is one Hessian-vector product.

    Args:
        loss_fn: ``() -> scalar loss Tensor``.
        params: the parameters (their number n bounds the iterations).
        k: how many of the largest (algebraic) eigenvalues to return.
        iterations: Lanczos steps (default min(n, max(3k, 20) + k)).
        seed: of the random start vector.

    Returns:
        The k largest eigenvalues, largest first (float64).

    Example:
        >>> hessian_eigenvalues(lambda: loss(model(x), y), model.parameters(), k=3)
        array([41.2, 17.5, 9.8])
    """
    params = _params(params)
    sizes = [p.data.size for p in params]
    n = int(sum(sizes))
    if not 1 <= int(k) <= n:
        raise ValueError(f"Expected 1 <= k <= {n} (the number of parameters). Received: k={k!r}")
    m = min(n, int(iterations) if iterations is not None else max(3 * k, 20) + k)
    _, gs = _gradient(loss_fn, params)
    cuts = np.cumsum(sizes)[:-1]

    def matvec(v):
        parts = [part.reshape(p.shape).astype(p.dtype) for part, p in
                 zip(np.split(v, cuts), params)]
        return np.concatenate([h.reshape(-1) for h in _hvp(gs, params, parts)]).astype(
            np.float64)

    rng = np.random.default_rng(seed)
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    basis = [q]
    alphas, betas = [], []
    for j in range(m):
        w = matvec(basis[j])
        alphas.append(float(w @ basis[j]))
        Q = np.array(basis)
        w -= Q.T @ (Q @ w)  # full reorthogonalisation (twice is enough)
        w -= Q.T @ (Q @ w)
        beta = float(np.linalg.norm(w))
        if j == m - 1 or beta < 1e-10 * max(1.0, abs(alphas[-1])):
            break  # the Krylov space is exhausted (or m steps done): T is exact there
        betas.append(beta)
        basis.append(w / beta)
    t = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(
        betas[:len(alphas) - 1], -1)
    values = np.linalg.eigvalsh(t)[::-1]
    return values[:k]
