"""Callbacks: code run by ``fit`` at fixed points of the training loop.

The loop calls, in order::

    on_train_begin(logs)
    for each epoch:  on_epoch_begin(epoch, logs)
        for each minibatch:  ... step ...  on_batch_end(step, logs)
        ... validation ...   on_epoch_end(epoch, logs)
    on_train_end(logs)

``epoch`` is 0-based; ``step`` is the global number of optimiser steps
taken so far (1 after the first).  ``logs`` holds the current values
(``loss``, metrics, ``val_*`` at epoch end, ``lr``).  Every callback sees
``self.model`` and ``self.trainer`` (with ``.optimizer``, ``.scheduler``,
``.history`` and the ``.stop_training`` flag).

Setting ``trainer.stop_training = True`` ends training: after the current
minibatch if set in ``on_batch_end`` (the shortened epoch is still
validated, logged and passed to ``on_epoch_end``), after the epoch if set
in ``on_epoch_end``.

A callback with state that matters for resuming (early stopping's best
value and weights) saves it through ``state_dict``/``load_state_dict``;
training checkpoints include it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from .._backend import is_numpy, namespace_of

__all__ = [
    "Callback",
    "EarlyStopping",
    "LambdaCallback",
    "LearningRateSchedulerCallback",
    "ModelCheckpoint",
]


def _weights_copy(model) -> dict:
    """A copy of a model's parameters and buffers, kept where they live.

    NumPy models: ``model.state_dict()``.  On a device (CuPy, torch,
    array_api_strict) the copies stay on that device (no trip to the host
    per improvement); ``load_state_dict`` takes them back, and a
    checkpoint writes them as host arrays.
    """
    params = dict(model.named_parameters())
    first = next(iter(params.values()), None)
    if first is None or is_numpy(namespace_of(first.data)):
        return model.state_dict()
    out = {}
    for name, p in params.items():
        out[name] = namespace_of(p.data).asarray(p.data, copy=True)
    for name, value in model.named_buffers():
        out[name] = namespace_of(value).asarray(value, copy=True)
    return out


class Callback:
    """Base class: override the hooks you need; all default to doing nothing."""

    def __init__(self):
        self.model = None
        self.trainer = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer
        self.model = trainer.model

    def on_train_begin(self, logs: dict) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict) -> None: ...

    def on_batch_end(self, step: int, logs: dict) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, logs: dict) -> None: ...

    def state_dict(self) -> dict:
        """State to carry across a checkpoint/resume (default: none)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class _MonitorMixin:
    """Shared monitor / mode / min_delta logic (Keras's design)."""

    def _setup_monitor(self, monitor: str, mode: str, min_delta: float) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"Expected mode 'auto', 'min' or 'max'. Received: mode={mode!r}")
        if mode == "auto":
            higher = ("acc", "accuracy", "log_likelihood", "auc")
            mode = "max" if any(monitor.endswith(h) for h in higher) else "min"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if mode == "min" else -math.inf

    def _improved(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _current(self, logs: dict):
        if self.monitor not in logs:
            raise KeyError(
                f"Expected the monitored quantity {self.monitor!r} in the logs. Received: "
                f"{sorted(logs)}. Pass validation data for 'val_*' quantities."
            )
        return float(logs[self.monitor])


class EarlyStopping(_MonitorMixin, Callback):
    """Stop when a monitored quantity stops improving; keep the best parameters.

    Book §7.8, algorithm 7.1: after every epoch, if the validation score
    improved (by more than ``min_delta``) remember the parameters and the
    step count; otherwise count one more epoch of patience; stop after
    ``patience`` epochs without improvement.

    Args:
        monitor: a logs key, e.g. "val_loss" or "val_accuracy".
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: "min", "max", or "auto" (max for accuracy/log-likelihood).
        restore_best_weights: at the end of training, ALWAYS load the best
            parameters (and buffers) back into the model, whether training
            stopped early or ran out of epochs.

    Attributes:
        best: best monitored value; best_epoch: its 0-based epoch;
        best_step: the optimiser steps taken at that point (i* in
        algorithm 7.1, used to retrain on all the data, algorithm 7.2);
        stopped_epoch: epoch at which training was stopped, or None.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 5,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ):
        super().__init__()
        if patience < 0:
            raise ValueError(f"Expected patience >= 0. Received: patience={patience}")
        self._setup_monitor(monitor, mode, min_delta)
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.best_epoch = None
        self.best_step = None
        self.best_weights = None
        self.wait = 0
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs):
        value = self._current(logs)
        if self._improved(value):
            self.best = value
            self.best_epoch = epoch
            self.best_step = self.trainer.global_step
            self.wait = 0
            if self.restore_best_weights:  # on the model's device (see _weights_copy)
                self.best_weights = _weights_copy(self.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_step": self.best_step,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": None if self.best_weights is None else dict(self.best_weights),
        }

    def load_state_dict(self, state):
        self.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.best_step = state["best_step"]
        self.wait = int(state["wait"])
        self.stopped_epoch = state["stopped_epoch"]
        bw = state["best_weights"]
        self.best_weights = None if bw is None else {k: np.array(v) for k, v in bw.items()}


class ModelCheckpoint(_MonitorMixin, Callback):
    """Save the full training state (resumable) during training.

    The file holds the model, optimiser, scheduler, the state of the
    generator in scope, loader position, epoch/step counters, history and
    callback states
    (see :mod:`chainrule.training.checkpoint` for the safe format), so
    ``fit(..., checkpoint=path)`` continues exactly where it was saved.

    Args:
        filepath: target file; may contain ``{epoch}`` (1-based) and
            ``{step}`` placeholders to keep several files.
        monitor, mode, min_delta: used with ``save_best_only``.
        save_best_only: save at epoch end only when ``monitor`` improved.
        every_n_epochs: save at the end of every n-th epoch (0: never).
        every_n_steps: also save after every n-th optimiser step
            (mid-epoch; resuming continues the interrupted epoch).
    """

    def __init__(
        self,
        filepath,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        every_n_epochs: int = 1,
        every_n_steps: int | None = None,
        min_delta: float = 0.0,
    ):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self._setup_monitor(monitor, mode, min_delta)
        self.save_best_only = bool(save_best_only)
        for name, value in (("every_n_epochs", every_n_epochs), ("every_n_steps", every_n_steps)):
            whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            if value is not None and (not whole or value < 0):
                raise ValueError(
                    f"Expected {name} to be a whole number >= 0 (0 or None: off). "
                    f"Received: {name}={value!r}"
                )
        self.every_n_epochs = int(every_n_epochs)
        self.every_n_steps = None if not every_n_steps else int(every_n_steps)
        self.last_saved: str | None = None

    def _path(self, epoch: int, step: int) -> str:
        return self.filepath.format(epoch=epoch + 1, step=step)

    def _save(self, epoch: int) -> None:
        path = self._path(epoch, self.trainer.global_step)
        if self.trainer.save_checkpoint(path):  # refused (non-finite weights): keep the last
            self.last_saved = path

    def on_batch_end(self, step, logs):
        if self.every_n_steps and step % self.every_n_steps == 0 and not self.save_best_only:
            self._save(self.trainer.epoch)

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self._current(logs)
            if self._improved(value):
                self.best = value
                self._save(epoch)
            return
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            self._save(epoch)

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = float(state["best"])


class LearningRateSchedulerCallback(Callback):
    """Change the learning rate during training.

    Args:
        schedule: a scheduler object with ``.step()`` (e.g.
            ``cr.optim.lr_scheduler.StepLR``), or a function
            ``schedule(epoch_or_step, lr) -> new_lr`` (Keras style).
        interval: "epoch" (after each epoch, so epoch k+1 uses the rate
            computed for it) or "step" (after each optimiser step).
    """

    def __init__(self, schedule, interval: str = "epoch"):
        super().__init__()
        if interval not in ("epoch", "step"):
            raise ValueError(f"Expected interval 'epoch' or 'step'. Received: {interval!r}")
        self.schedule = schedule
        self.interval = interval

    def _apply(self, count: int) -> None:
        if hasattr(self.schedule, "step"):
            self.schedule.step()
            return
        for group in self.trainer.optimizer.param_groups:
            group["lr"] = float(self.schedule(count, group["lr"]))

    def on_batch_end(self, step, logs):
        if self.interval == "step":
            self._apply(step)

    def on_epoch_end(self, epoch, logs):
        if self.interval == "epoch":
            self._apply(epoch + 1)

    def state_dict(self):
        if hasattr(self.schedule, "state_dict"):
            return {"schedule": self.schedule.state_dict()}
        return {}

    def load_state_dict(self, state):
        if "schedule" in state:
            self.schedule.load_state_dict(state["schedule"])


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=f)``.

    Each argument is a function with the signature of the hook it names.
    """

    def __init__(
        self,
        on_train_begin: Callable | None = None,
        on_epoch_begin: Callable | None = None,
        on_batch_end: Callable | None = None,
        on_epoch_end: Callable | None = None,
        on_train_end: Callable | None = None,
    ):
        super().__init__()
        hooks = {
            "on_train_begin": on_train_begin,
            "on_epoch_begin": on_epoch_begin,
            "on_batch_end": on_batch_end,
            "on_epoch_end": on_epoch_end,
            "on_train_end": on_train_end,
        }
        for name, fn in hooks.items():
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"Expected {name} to be callable. Received: {fn!r}")
                setattr(self, name, fn)
