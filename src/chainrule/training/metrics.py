"""Performance measures (book §5.1.2), accumulated over minibatches.

Each metric is a small accumulator: ``update(output, target)`` with NumPy
arrays for one minibatch, ``result()`` for everything seen since
``reset()``.  Sums are kept in float64 so the epoch value does not depend
on how the data was cut into minibatches (beyond float32 model outputs).

Names accepted by ``fit``/``evaluate``: ``"accuracy"``, ``"mse"``,
``"mae"``, ``"log_likelihood"``, ``"loss"`` (the loss is always
reported; naming it is allowed and changes nothing).  A user function
``fn(output, target) -> float`` is averaged over examples, weighted by
minibatch size, and reported under ``fn.__name__``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "Accuracy",
    "LogLikelihood",
    "MeanAbsoluteError",
    "MeanMetric",
    "MeanSquaredError",
    "Metric",
    "get_metric",
]


def _as_target(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    t = np.asarray(target)
    if t.size == output.size and t.shape != output.shape:
        t = t.reshape(output.shape)
    return t


class Metric:
    """Base class: a named running average over examples."""

    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, output: np.ndarray, target: np.ndarray) -> None:
        raise NotImplementedError

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def state_dict(self) -> dict:
        return {"total": self.total, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.total = float(state["total"])
        self.count = int(state["count"])


class Accuracy(Metric):
    """Fraction of correct predictions (1 − error rate).

    Outputs of shape (N, C) with C > 1 are scores: the prediction is the
    argmax.  Outputs of shape (N,) or (N, 1) are logits of a Bernoulli
    output unit: the prediction is ``output > 0`` (σ(z) > ½).
    """

    name = "accuracy"

    def update(self, output, target):
        t = np.asarray(target)
        if output.ndim >= 2 and output.shape[1] > 1:
            pred = output.argmax(axis=1)
            t = t.reshape(pred.shape) if t.size == pred.size else t
        else:
            pred = (output.reshape(len(output), -1) > 0).astype(t.dtype).reshape(t.shape)
        self.total += float(np.sum(pred == t))
        self.count += int(pred.size)


class MeanSquaredError(Metric):
    """mean (y − f)² over all target entries."""

    name = "mse"

    def update(self, output, target):
        d = output.astype(np.float64) - _as_target(output, target)
        self.total += float(np.sum(d * d))
        self.count += int(d.size)


class MeanAbsoluteError(Metric):
    """mean |y − f| over all target entries."""

    name = "mae"

    def update(self, output, target):
        d = output.astype(np.float64) - _as_target(output, target)
        self.total += float(np.sum(np.abs(d)))
        self.count += int(d.size)


class LogLikelihood(Metric):
    """Average log-likelihood per example, (1/m) Σᵢ log p(y⁽ⁱ⁾ | x⁽ⁱ⁾) (book §5.5).

    * (N, C) outputs, C > 1, with int targets: log softmax(z)[y] (multinoulli).
    * (N,) / (N, 1) outputs with 0/1 targets: log σ(±z) (Bernoulli).
    * real targets: a Gaussian with the mean given by the output and the
      maximum-likelihood variance σ² = MSE of the whole set:
      −½ log(2πσ²) − ½ per target entry.
    """

    name = "log_likelihood"

    def reset(self):
        super().reset()
        self.sq = 0.0
        self.kind = None

    def update(self, output, target):
        t = np.asarray(target)
        z = output.astype(np.float64)
        if t.dtype.kind in "iu" and z.ndim >= 2 and z.shape[1] > 1:
            zmax = z.max(axis=1, keepdims=True)
            lse = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
            self.total += float(np.sum(z[np.arange(len(t)), t] - lse))
            self.count += len(t)
            self.kind = "categorical"
        elif np.all((t == 0) | (t == 1)) and z.size == t.size and self.kind != "gaussian":
            zz = z.reshape(t.shape) * np.where(t == 1, 1.0, -1.0)
            self.total += float(np.sum(-np.logaddexp(0.0, -zz)))  # log σ(±z)
            self.count += int(t.size)
            self.kind = "bernoulli"
        else:
            d = z - _as_target(z, t)
            self.sq += float(np.sum(d * d))
            self.count += int(d.size)
            self.kind = "gaussian"

    def result(self):
        if not self.count:
            return float("nan")
        if self.kind == "gaussian":
            var = max(self.sq / self.count, 1e-12)
            return float(-0.5 * np.log(2 * np.pi * var) - 0.5)
        return self.total / self.count

    def state_dict(self):
        return {"total": self.total, "count": self.count, "sq": self.sq, "kind": self.kind}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.sq = float(state["sq"])
        self.kind = state["kind"]


class MeanMetric(Metric):
    """Example-weighted mean of ``fn(output, target)`` over minibatches."""

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        super().__init__()

    def update(self, output, target):
        n = len(output)
        self.total += float(self.fn(output, target)) * n
        self.count += n


_BY_NAME = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "log_likelihood": LogLikelihood,
}


def get_metric(metric) -> Metric | None:
    """A fresh :class:`Metric` for a name, a Metric, or a function.

    Returns None for ``"loss"`` (the loss is always tracked).  A pair
    ``(task, metric)`` scores one task of a multi-task model
    (:class:`~chainrule.training.multitask.TaskMetric`).
    """
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, tuple) and len(metric) == 2 and isinstance(metric[0], str):
        from .multitask import TaskMetric

        return TaskMetric(*metric)
    if isinstance(metric, str):
        if metric == "loss":
            return None
        if metric not in _BY_NAME:
            raise ValueError(
                f"Expected a metric in {sorted(set(_BY_NAME) | {'loss'})} or a callable. "
                f"Received: {metric!r}"
            )
        return _BY_NAME[metric]()
    if isinstance(metric, type) and issubclass(metric, Metric):
        return metric()
    if callable(metric):
        return MeanMetric(metric)
    raise TypeError(f"Expected a metric name or callable. Received: {type(metric).__name__}")
