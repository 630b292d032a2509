"""Epoch rules of scikit-learn's MLPs, as Trainer callbacks anyone can use.

* :class:`ToleranceStopping`: stop (or divide the learning rate by 5, the
  ``"adaptive"`` schedule) after ``n_iter_no_change`` epochs in a row that
  did not improve a monitored value by ``tol``; optionally restore the
  best weights (early stopping, book §7.8).
* :class:`InverseScalingLR`: ε = ε₀ / (t + 1)^power_t after every epoch,
  t the number of training examples seen (``"invscaling"``).
* :class:`EpochScore`: add ``name: score_fn(model)`` to the epoch logs,
  e.g. a validation accuracy computed by the caller's own scorer.

Callbacks run in the order given, so an :class:`EpochScore` placed before
a :class:`ToleranceStopping` can be monitored by it.  Their counters live
in the callback objects and carry over from one ``fit`` call to the next
(``partial_fit``, ``warm_start``); :meth:`ToleranceStopping.reset` starts
afresh.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .callbacks import Callback, _MonitorMixin

__all__ = ["EpochScore", "InverseScalingLR", "ToleranceStopping"]


class ToleranceStopping(_MonitorMixin, Callback):
    """Stop after ``n_iter_no_change`` epochs without a ``tol`` improvement (scikit-learn's rule).

    After each epoch, with v the monitored value and b the best so far
    (mode "min"; mirrored for "max")::

        count ← count + 1  if v > b − tol  else 0
        b ← min(b, v)
        if count > n_iter_no_change:
            if reduce_lr_by and lr > min_lr:  lr ← lr / reduce_lr_by;  count ← 0
            else:                             stop

    Args:
        monitor: a logs key (``"loss"``, ``"objective"``, ``"val_score"``...).
        tol: smallest improvement that resets the count.
        n_iter_no_change: epochs without improvement allowed (``math.inf``:
            never stop nor reduce; the best value is still tracked).
        mode: "min", "max", or "auto" (max for accuracy-like names).
        reduce_lr_by: divide every group's learning rate by this instead of
            stopping (scikit-learn's ``learning_rate="adaptive"``: 5); None
            stops.
        min_lr: with ``reduce_lr_by``, stop once group 0's rate is ≤ this.
        restore_best_weights: load the parameters of the best epoch back
            into the model when training ends.
        verbose: print a line when the rule fires.

    Attributes:
        best: the best value seen; ``count``: epochs without improvement;
        ``stopped``: whether the rule ended training.

    Example:
        >>> stop = ToleranceStopping("loss", tol=1e-4, n_iter_no_change=10,
        ...                          reduce_lr_by=5)   # sklearn's "adaptive"
        >>> fit(model, X, y, loss="mse", optimizer=opt, epochs=200, callbacks=[stop])
    """

    def __init__(
        self,
        monitor: str = "loss",
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        mode: str = "auto",
        reduce_lr_by: float | None = None,
        min_lr: float = 1e-6,
        restore_best_weights: bool = False,
        verbose: bool = False,
    ):
        super().__init__()
        if n_iter_no_change != math.inf and (
            not isinstance(n_iter_no_change, int) or n_iter_no_change < 1
        ):
            raise ValueError(
                "Expected n_iter_no_change an int >= 1 or math.inf (never stop). "
                f"Received: n_iter_no_change={n_iter_no_change!r}"
            )
        if tol < 0:
            raise ValueError(f"Expected tol >= 0. Received: tol={tol!r}")
        if reduce_lr_by is not None and reduce_lr_by <= 1:
            raise ValueError(f"Expected reduce_lr_by > 1 or None. Received: {reduce_lr_by!r}")
        self._setup_monitor(monitor, mode, 0.0)
        self.tol = float(tol)
        self.n_iter_no_change = n_iter_no_change if n_iter_no_change == math.inf else int(
            n_iter_no_change)
        self.reduce_lr_by = reduce_lr_by
        self.min_lr = float(min_lr)
        self.restore_best_weights = bool(restore_best_weights)
        self.verbose = bool(verbose)
        self.reset()

    def reset(self) -> None:
        """Forget the best value, the count and the saved weights."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.count = 0
        self.best_state = None
        self.stopped = False

    def on_train_begin(self, logs: dict) -> None:
        self.stopped = False

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        value = self._current(logs)
        if self.mode == "min":
            stalled = not value <= self.best - self.tol
            better = value < self.best
        else:
            stalled = not value >= self.best + self.tol
            better = value > self.best
        self.count = self.count + 1 if stalled else 0
        if better:
            self.best = value
            if self.restore_best_weights:
                self.best_state = self.model.state_dict()
        if self.count > self.n_iter_no_change:
            self._plateau()

    def _plateau(self) -> None:
        what = f"{self.monitor} did not improve more than tol={self.tol:f} for " \
               f"{self.n_iter_no_change} consecutive epochs."
        groups = self.trainer.optimizer.param_groups
        if self.reduce_lr_by is None or groups[0]["lr"] <= self.min_lr:
            if self.verbose:
                extra = " Learning rate too small." if self.reduce_lr_by else ""
                print(what + extra + " Stopping.")
            self.trainer.stop_training = True
            self.stopped = True
            return
        for group in groups:
            group["lr"] /= self.reduce_lr_by
        self.count = 0
        if self.verbose:
            print(what + f" Setting learning rate to {groups[0]['lr']:f}")

    def on_train_end(self, logs: dict) -> None:
        if self.restore_best_weights and self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict:
        return {"best": self.best, "count": self.count, "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.count = int(state["count"])
        self.best_state = state.get("best_state")


class InverseScalingLR(Callback):
    """ε = ε₀ / (t + 1)^power_t after every epoch, t the training examples seen.

    scikit-learn's ``learning_rate="invscaling"``: t grows by the number of
    training rows each epoch and carries over between ``fit`` calls on the
    same callback.  Every parameter group gets the same rate.

    Args:
        lr0: ε₀.
        power_t: the exponent.
    """

    def __init__(self, lr0: float, power_t: float = 0.5):
        super().__init__()
        if not lr0 > 0:
            raise ValueError(f"Expected lr0 > 0. Received: lr0={lr0!r}")
        self.lr0 = float(lr0)
        self.power_t = float(power_t)
        self.t = 0

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.t += len(self.trainer.loader.dataset)
        lr = self.lr0 / (self.t + 1) ** self.power_t
        for group in self.trainer.optimizer.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict:
        return {"t": self.t}

    def load_state_dict(self, state: dict) -> None:
        self.t = int(state["t"])


class EpochScore(Callback):
    """Add ``name: score_fn(model)`` to the logs at the end of every epoch.

    Callbacks after it in the list (e.g. :class:`ToleranceStopping` with
    ``monitor=name``) see the value.

    Args:
        score_fn: ``model -> float``, e.g. accuracy on held-out rows.
        name: the logs key.
    """

    def __init__(self, score_fn: Callable, name: str = "val_score"):
        super().__init__()
        if not callable(score_fn):
            raise TypeError(f"Expected a callable score_fn. Received: {type(score_fn).__name__}")
        self.score_fn = score_fn
        self.name = name

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        logs[self.name] = float(self.score_fn(self.model))
