"""The running sums behind an epoch's training logs.

Each step adds its minibatch of n rows::

    loss_sum += L·n    penalty_sum += P·n    count += n
    part_sum[t] += L_t·n_t, rows[t] += n_t   (a loss with ``parts``, e.g. MultiTaskLoss)
    metric.update(output, target)            (each training metric)

and the logs are the example-weighted means ``loss = loss_sum / count``
(running averages over the epoch of outputs in training mode, as Keras).
The sums are plain numbers, so data-parallel ranks add them up with one
all-reduce (:meth:`RunningLogs.reduce`) and checkpoints store them.
"""

from __future__ import annotations

import numpy as np

from ._checks import _output_data

__all__ = ["RunningLogs"]


class RunningLogs:
    """The epoch's running sums of loss, penalty, per-part losses and metrics.

    Args:
        metrics: the training :class:`~chainrule.training.Metric` objects.
        loss_fn: the loss; one with ``tasks`` and ``parts`` (a
            :class:`~chainrule.training.MultiTaskLoss`) logs ``<task>_loss``.
        penalised: whether regularizers are on (then ``penalty`` and
            ``objective`` are logged).

    Attributes:
        first_loss: the data term of the run's first minibatch, before any
            step (the start the divergence check compares with).
    """

    def __init__(self, metrics: list, loss_fn, penalised: bool):
        self.metrics = metrics
        self.loss_fn = loss_fn
        self.tasks = tuple(getattr(loss_fn, "tasks", ()))
        self.penalised = penalised
        self.first_loss: float | None = None
        self.reset()

    def reset(self) -> None:
        self.loss, self.penalty, self.count = 0.0, 0.0, 0
        self.parts: dict = {}
        for m in self.metrics:
            m.reset()

    def add(self, n: int, loss: float, penalty: float, out, yb) -> None:
        """Add one minibatch of ``n`` rows: its mean loss and penalty, outputs and targets."""
        if self.first_loss is None:
            self.first_loss = loss
        self.loss += loss * n
        self.penalty += penalty * n
        self.count += n
        for task, (value, rows) in getattr(self.loss_fn, "parts", {}).items():
            acc = self.parts.setdefault(task, [0.0, 0])
            acc[0] += value * rows
            acc[1] += rows
        if self.metrics:
            o = _output_data(out)
            for m in self.metrics:
                m.update(o, yb)

    def logs(self) -> dict:
        n = max(self.count, 1)
        logs = {"loss": self.loss / n}
        for task, (total, rows) in self.parts.items():
            logs[f"{task}_loss"] = total / rows if rows else float("nan")
        if self.penalised:
            logs["penalty"] = self.penalty / n
            logs["objective"] = logs["loss"] + logs["penalty"]
        for m in self.metrics:
            logs[m.name] = m.result()
        return logs

    def reduce(self, sum_over_ranks) -> None:
        """Replace every sum by ``sum_over_ranks`` of it (one float64 vector, in place)."""
        values = [self.loss, self.penalty, float(self.count)]
        for m in self.metrics:
            m._flush()
            values += [m.total, float(m.count), float(getattr(m, "sq", 0.0))]
        for t in self.tasks:
            values += self.parts.get(t, [0.0, 0])
        total = sum_over_ranks(np.array(values, dtype=np.float64))
        self.loss, self.penalty, self.count = total[0], total[1], int(total[2])
        k = 3 + 3 * len(self.metrics)
        self.parts = {t: [float(total[k + 2 * i]), int(total[k + 2 * i + 1])]
                      for i, t in enumerate(self.tasks)}
        for i, m in enumerate(self.metrics):
            m.total, m.count = float(total[3 + 3 * i]), int(total[4 + 3 * i])
            if hasattr(m, "sq"):
                m.sq = float(total[5 + 3 * i])

    def state_dict(self) -> dict:
        """The ``sums`` and ``metrics`` entries of a training checkpoint."""
        sums = {"loss": self.loss, "penalty": self.penalty, "count": self.count,
                "parts": {k: list(v) for k, v in self.parts.items()}}
        if self.first_loss is not None:
            sums["first_loss"] = self.first_loss
        return {"sums": sums, "metrics": [m.state_dict() for m in self.metrics]}

    def load_state_dict(self, state: dict) -> None:
        sums = state["sums"]
        self.loss, self.penalty, self.count = sums["loss"], sums["penalty"], sums["count"]
        self.parts = {k: list(v) for k, v in sums.get("parts", {}).items()}
        first = sums.get("first_loss")
        self.first_loss = None if first is None else float(first)
        for m, ms in zip(self.metrics, state["metrics"]):
            m.load_state_dict(ms)
