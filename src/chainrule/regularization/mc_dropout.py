"""Monte-Carlo dropout prediction (book §7.12).

Dropout trains an ensemble of sub-networks that share parameters; the
ensemble's prediction is an average over masks μ.  The book gives two
averages and a cheap approximation of them:

- arithmetic mean:  Σ_μ p(μ) p(y | x, μ), estimated here from n masks;
- renormalised geometric mean: p̃(y | x) ∝ (Π_μ p(y | x, μ))^(1/n),
  which for a softmax output is softmax(mean of the log-probabilities);
- the weight scaling rule (one deterministic pass with weights, or
  outputs, multiplied by the keep probability — ``model.eval()``), which
  approximates the geometric mean, and equals it exactly for a softmax
  regression with dropout on its inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import device_of, from_host, namespace_of, to_host
from ..autograd.engine import Tensor, no_grad
from ..nn.dropout import Dropout
from ..nn.module import Module

__all__ = ["mc_dropout_predict"]

_OUTPUTS = ("softmax", "sigmoid", "identity")


def _log_probs(logits: np.ndarray, output: str) -> np.ndarray:
    if output == "softmax":
        m = logits.max(axis=-1, keepdims=True)
        z = logits - m
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    # sigmoid: log σ(z) for the positive class (the negative is renormalised in)
    return -np.logaddexp(0.0, -logits)


def _probs(logits: np.ndarray, output: str) -> np.ndarray:
    if output == "identity":
        return logits
    if output == "softmax":
        return np.exp(_log_probs(logits, output))
    return 1.0 / (1.0 + np.exp(-logits))


@no_grad()
def mc_dropout_predict(model: Module, X, n: int = 50, output: str = "softmax",
                       mean: str = "arithmetic", return_std: bool = False,
                       batch_size: int | None = None):
    """Average the predictions of ``n`` stochastic forward passes with dropout on.

    Only the model's :class:`~chainrule.nn.Dropout` layers are put in
    training mode (batch norm and others stay in eval mode); every pass
    draws new masks from ``cr.random.generator()``.  The model's modes are
    restored afterwards.

    Args:
        model: a network whose output is logits (or values for regression).
        X: (N, ...) inputs.
        n: number of masks (stochastic passes), ≥ 1.
        output: ``"softmax"`` (multinoulli), ``"sigmoid"`` (Bernoulli) or
            ``"identity"`` (regression; averages the raw outputs).
        mean: ``"arithmetic"`` (mean of probabilities) or ``"geometric"``
            (renormalised geometric mean, book eq. 7.54-7.55; not for
            ``"identity"``).
        return_std: also return the standard deviation over the passes of
            the per-pass probabilities (a predictive uncertainty).
        batch_size: rows per forward (all at once when None).

    Returns:
        (N, ...) averaged predictions, a float64 NumPy array on the host;
        with ``return_std`` a pair (mean, std).  The model may live on any
        device (``Module.to``): host inputs are moved to it, and each pass's
        outputs come back to the host.

    Example:
        >>> proba = mc_dropout_predict(net, X_test, n=100)
        >>> error = (proba.argmax(1) != y_test).mean()
    """
    if output not in _OUTPUTS:
        raise ValueError(f"Expected output in {_OUTPUTS}. Received: output={output!r}")
    if mean not in ("arithmetic", "geometric"):
        raise ValueError(f"Expected mean 'arithmetic' or 'geometric'. Received: {mean!r}")
    if mean == "geometric" and output == "identity":
        raise ValueError("mean='geometric' needs output 'softmax' or 'sigmoid'")
    if int(n) != n or n < 1:
        raise ValueError(f"Expected n >= 1 passes. Received: n={n}")
    X = X.data if isinstance(X, Tensor) else X
    if not hasattr(X, "shape"):
        X = np.asarray(X)
    first = next(iter(model.parameters()), None)
    if first is not None and (
        namespace_of(X) is not namespace_of(first.data) or device_of(X) != device_of(first.data)
    ):  # the inputs go where the model is (a device model takes host inputs)
        X = from_host(to_host(X), namespace_of(first.data), device_of(first.data))
    dropouts = [m for m in model.modules() if isinstance(m, Dropout)]
    if not dropouts:
        raise ValueError("mc_dropout_predict: the model has no nn.Dropout layer")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    for d in dropouts:
        d.train()
    try:
        rows = X.shape[0]
        step = rows if batch_size is None else int(batch_size)
        total: Any = None  # sums over the passes (arrays once the first pass is in)
        sum_p: Any = None
        sum_p2: Any = None
        for _ in range(int(n)):
            # the passes run where the model is; the average is on the host
            parts = [to_host(model(Tensor(X[i:i + step, ...])).data)
                     for i in range(0, rows, step)]
            z = np.concatenate(parts).astype(np.float64)
            if mean == "geometric":
                term = _log_probs(z, output)
                if output == "sigmoid":  # keep both classes' logs for renormalising
                    term = np.stack([term, -np.logaddexp(0.0, z)], axis=-1)
            else:
                term = _probs(z, output)
            total = term if total is None else total + term
            if return_std:
                p = _probs(z, output)
                sum_p = p if sum_p is None else sum_p + p
                sum_p2 = p * p if sum_p2 is None else sum_p2 + p * p
    finally:
        for m, was_training in modes:
            object.__setattr__(m, "training", was_training)
    avg = total / n
    if mean == "geometric":
        if output == "softmax":
            avg = np.exp(avg - avg.max(axis=-1, keepdims=True))
            avg /= avg.sum(axis=-1, keepdims=True)
        else:
            pos, neg = np.exp(avg[..., 0]), np.exp(avg[..., 1])
            avg = pos / (pos + neg)
    if return_std:
        mu = sum_p / n
        std = np.sqrt(np.maximum(sum_p2 / n - mu * mu, 0.0))
        return avg, std
    return avg
