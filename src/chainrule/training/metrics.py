"""Performance measures (book §5.1.2), accumulated over minibatches.

Each metric is a small accumulator: ``update(output, target)`` with the
arrays of one minibatch (NumPy, or a device library's: the sums then stay
on the device until the result is read), ``result()`` for everything seen since
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

from .._backend import device_of, from_host, namespace_of, to_host
from ._missing import present_rows

__all__ = [
    "Accuracy",
    "LogLikelihood",
    "MeanAbsoluteError",
    "MeanMetric",
    "MeanSquaredError",
    "Metric",
    "TaskMetric",
    "get_metric",
    "task_metrics",
]


_HOST_SCALARS = (float, int)


def _numel(a) -> int:
    """Number of entries (``a.size`` is a method on torch tensors, an int elsewhere)."""
    n = 1
    for k in a.shape:
        n *= int(k)
    return n


def _target_in(xp, output, target):
    """``target`` as an array of ``xp`` on the output's device (NumPy stays NumPy)."""
    if type(target) is np.ndarray:
        return target
    if xp is np:
        return np.asarray(target)
    if namespace_of(target) is xp:
        return target
    return from_host(np.asarray(target), xp, device_of(output))


def _as_target(xp, output, target):
    t = _target_in(xp, output, target)
    if _numel(t) == _numel(output) and tuple(t.shape) != tuple(output.shape):
        t = xp.reshape(t, output.shape)
    return t


def _f64(xp, a):
    return a if a.dtype == xp.float64 else xp.astype(a, xp.float64)


class Metric:
    """Base class: a named running average over examples.

    ``update`` takes arrays of any array-API library.  Sums of a device
    library's arrays stay on the device (:meth:`_add`) and come to the host
    once, when ``total`` is read (``result``, ``state_dict``): no host sync
    per minibatch.
    """

    name = "metric"

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._pending: dict = {}  # name -> a device scalar not yet added to the host sum
        self.total = 0.0
        self.count = 0

    def _add(self, key: str, value) -> None:
        """Add ``value`` to the running sum ``key``: floats at once, device scalars later."""
        if type(value) in _HOST_SCALARS or isinstance(value, (np.generic, np.ndarray)):
            setattr(self, key, getattr(self, key) + float(value))
            return
        pending = self.__dict__.setdefault("_pending", {})  # subclasses may skip reset()
        held = pending.get(key)
        pending[key] = value if held is None else held + value

    def _flush(self) -> None:
        """Bring the device sums to the host (one copy per sum)."""
        pending = getattr(self, "_pending", None)
        if pending:
            self._pending = {}
            for key, value in pending.items():
                setattr(self, key, getattr(self, key) + float(to_host(value)))

    def update(self, output, target) -> None:
        raise NotImplementedError

    def result(self) -> float:
        self._flush()
        return self.total / self.count if self.count else float("nan")

    def state_dict(self) -> dict:
        self._flush()
        return {"total": self.total, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self._pending = {}
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
        xp = namespace_of(output)
        t = _target_in(xp, output, target)
        if output.ndim >= 2 and output.shape[1] > 1:
            pred = xp.argmax(output, axis=1)
            if _numel(t) == _numel(pred) and t.ndim != 1:
                t = xp.reshape(t, pred.shape)
        else:
            flat = xp.reshape(output, (output.shape[0], -1)) > 0
            pred = xp.reshape(xp.astype(flat, t.dtype), t.shape)
        self._add("total", xp.count_nonzero(pred == t))
        self.count += _numel(pred)


class MeanSquaredError(Metric):
    """mean (y − f)² over all target entries."""

    name = "mse"

    def update(self, output, target):
        xp = namespace_of(output)
        d = _f64(xp, output) - _as_target(xp, output, target)
        self._add("total", xp.sum(d * d))
        self.count += _numel(d)


class MeanAbsoluteError(Metric):
    """mean |y − f| over all target entries."""

    name = "mae"

    def update(self, output, target):
        xp = namespace_of(output)
        d = _f64(xp, output) - _as_target(xp, output, target)
        self._add("total", xp.sum(xp.abs(d)))
        self.count += _numel(d)


class LogLikelihood(Metric):
    """Average log-likelihood per example, (1/m) Σᵢ log p(y⁽ⁱ⁾ | x⁽ⁱ⁾) (book §5.5).

    * (N, C) outputs, C > 1, with int targets: log softmax(z)[y] (multinoulli).
    * (N,) / (N, 1) outputs with 0/1 targets: log σ(±z) (Bernoulli).
    * real targets: a Gaussian with the mean given by the output and the
      maximum-likelihood variance σ² = MSE of the whole set:
      −½ log(2πσ²) − ½ per target entry.

    (Telling 0/1 targets from real ones reads one boolean per minibatch
    from the device; the sums stay there.)
    """

    name = "log_likelihood"

    def reset(self):
        super().reset()
        self.sq = 0.0
        self.kind = None

    def update(self, output, target):
        xp = namespace_of(output)
        t = _target_in(xp, output, target)
        z = _f64(xp, output)
        if xp.isdtype(t.dtype, "integral") and z.ndim >= 2 and z.shape[1] > 1:
            zmax = xp.max(z, axis=1, keepdims=True)
            lse = zmax[:, 0] + xp.log(xp.sum(xp.exp(z - zmax), axis=1))
            cols = xp.arange(z.shape[1], dtype=t.dtype, device=device_of(z))
            picked = xp.sum(xp.where(cols == xp.reshape(t, (-1, 1)), z, 0.0), axis=1)
            self._add("total", xp.sum(picked - lse))
            self.count += int(t.shape[0])
            self.kind = "categorical"
        elif (
            _numel(z) == _numel(t)
            and self.kind != "gaussian"
            and bool(xp.all((t == 0) | (t == 1)))
        ):
            sign = 2.0 * xp.astype(t == 1, xp.float64) - 1.0
            zz = xp.reshape(z, t.shape) * sign
            self._add("total", xp.sum(-xp.logaddexp(xp.zeros_like(zz), -zz)))  # log σ(±z)
            self.count += _numel(t)
            self.kind = "bernoulli"
        else:
            d = z - _as_target(xp, z, t)
            self._add("sq", xp.sum(d * d))
            self.count += _numel(d)
            self.kind = "gaussian"

    def result(self):
        self._flush()
        if not self.count:
            return float("nan")
        if self.kind == "gaussian":
            var = max(self.sq / self.count, 1e-12)
            return float(-0.5 * np.log(2 * np.pi * var) - 0.5)
        return self.total / self.count

    def state_dict(self):
        self._flush()
        return {"total": self.total, "count": self.count, "sq": self.sq, "kind": self.kind}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.sq = float(state["sq"])
        self.kind = state["kind"]


class MeanMetric(Metric):
    """Example-weighted mean of ``fn(output, target)`` over minibatches."""

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        self.name = str(name or getattr(fn, "__name__", "metric"))
        super().__init__()

    def update(self, output, target):
        n = int(output.shape[0])
        value = self.fn(output, target)
        if isinstance(value, (float, int, np.generic, np.ndarray)):
            self.total += float(value) * n
        else:  # a device scalar: summed there, brought to the host with the total
            self._add("total", value * n)
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


class TaskMetric(Metric):
    """A metric of one task's output of a multi-task model, named ``<task>_<metric>``.

    ``fit(..., metrics={"digit": ["accuracy"]})`` (or the pair
    ``("digit", "accuracy")``) makes one; rows without the task's target
    are left out.
    """

    def __init__(self, task: str, metric):
        self.task = task
        inner = get_metric(metric)
        if inner is None:
            raise ValueError(
                f"Expected a metric for task {task!r}; its loss is always logged as "
                f"'{task}_loss'. Received: {metric!r}"
            )
        self.inner: Metric = inner
        self.name = f"{task}_{inner.name}"
        super().__init__()

    def reset(self) -> None:
        self.inner.reset()

    # the running sums live in the wrapped metric (read by data-parallel reductions)
    total = property(lambda self: self.inner.total,
                     lambda self, v: setattr(self.inner, "total", v))
    count = property(lambda self: self.inner.count,
                     lambda self, v: setattr(self.inner, "count", v))

    def update(self, output, target) -> None:
        if not isinstance(output, dict) or self.task not in output:
            raise ValueError(
                f"Expected a model output dict with the task {self.task!r} for the metric "
                f"{self.name!r}. Received: "
                f"{sorted(output) if isinstance(output, dict) else type(output).__name__}"
            )
        o, t = output[self.task], target[self.task]
        rows = present_rows(t)
        if rows is not None:
            if not rows.any():
                return
            o, t = o[rows], t[rows]
        self.inner.update(o, t)

    def result(self) -> float:
        return self.inner.result()

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)


def task_metrics(metrics) -> list:
    """Metric specs as ``fit`` takes them: a dict ``{task: [metric, ...]}`` becomes
    ``(task, metric)`` pairs; a list passes through."""
    if not isinstance(metrics, dict):
        return list(metrics)
    pairs = []
    for task, specs in metrics.items():
        if isinstance(specs, (str, Metric)) or callable(specs):
            specs = [specs]
        pairs += [(task, spec) for spec in specs]
    return pairs
