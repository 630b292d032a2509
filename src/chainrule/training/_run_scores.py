"""Scoring a run's model on host data: the test metrics, and the divergence warning.

The test ``loss`` is the plain negative log-likelihood −(1/m) Σ log p(y|x)
(classes) or the mean squared error in the target's units (regression).
The epoch lines print the training objective instead (label smoothing on,
regression targets standardised), so the metrics also hold
``loss_as_trained``: the test rows under that objective, comparable with
the epoch lines' ``loss`` and ``val_loss`` (penalties such as L2 are logged
apart there, as ``penalty``, and are in neither).
"""

from __future__ import annotations

import numpy as np

from .divergence import divergence_message

__all__: list[str] = []

def _log_softmax(out: np.ndarray) -> np.ndarray:
    z = out.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def plain_loss(out: np.ndarray, y: np.ndarray, is_clf: bool) -> float:
    """Mean negative log-likelihood (classes) or mean squared error of outputs."""
    if not is_clf:
        return float(np.mean((out[:, 0].astype(np.float64) - y) ** 2))
    return float(-_log_softmax(out)[np.arange(len(y)), y].mean())


def score(out: np.ndarray, y: np.ndarray, task: str, y_mean: float, y_scale: float,
          smoothing: float) -> dict:
    """Test metrics of outputs ``out`` for targets ``y`` (class ids, or values in their units).

    ``smoothing``: the run's label smoothing ε; the smoothed cross-entropy is
    (1−ε)·(−log p_y) + (ε/C)·Σ_c (−log p_c) (PyTorch's form).
    """
    if task == "classification":
        logp = _log_softmax(out)
        nll = float(-logp[np.arange(len(y)), y].mean())
        as_trained = (1 - smoothing) * nll + smoothing * float(-logp.mean(axis=1).mean())
        what = f"cross-entropy with label smoothing {smoothing:g}" if smoothing else \
            "cross-entropy"
        return {"accuracy": float((out.argmax(axis=1) == y).mean()), "loss": nll,
                "log_likelihood": -nll, "loss_as_trained": as_trained, "loss_as_trained_is": what}
    pred = out[:, 0].astype(np.float64) * y_scale + y_mean
    d = pred - y
    mse = float(np.mean(d * d))
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.mean(np.abs(d))),
            "r2": float(1 - mse / max(np.var(y), 1e-300)),
            "loss_as_trained": mse / (y_scale * y_scale),
            "loss_as_trained_is": "mean squared error of the standardised targets"}


def divergence(history, start_loss: float) -> str | None:
    """A warning when the last epoch's training loss ended far above its start (the rule
    of :mod:`chainrule.training.divergence`)."""
    losses = history.history.get("loss", []) if hasattr(history, "history") else []
    return divergence_message(start_loss, float(losses[-1]), hint="--lr") if losses else None
