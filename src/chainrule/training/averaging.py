"""A Trainer callback that keeps a Polyak average of the weights and evaluates with it."""

from __future__ import annotations

import math

from ..optim.swa_utils import AveragedModel, update_bn
from .callbacks import Callback
from .evaluation import evaluate

__all__ = ["PolyakAveraging"]


class PolyakAveraging(Callback):
    """Average the weights during training (book §8.7.3) and score the average each epoch.

    From ``start_epoch`` on, after every optimiser step (``every="step"``) or
    every epoch (``every="epoch"``), the model's weights are folded into an
    :class:`~chainrule.optim.AveragedModel` (arithmetic mean, or exponential
    with ``decay``).  At each epoch's end, when ``validation_data`` is given,
    the averaged model is evaluated with the trainer's loss and metrics and
    logged as ``avg_val_<name>`` (``avg_val_loss``, ``avg_val_accuracy``...)
    beside the raw model's ``val_<name>``.  With ``swap=True`` the trained
    model takes the averaged weights when training ends.

    Args:
        decay: None (Polyak's mean) or α in [0, 1) (exponential average).
        start_epoch: the first epoch (0-based) whose weights are averaged.
        every: "step" or "epoch".
        validation_data: (X, y) to evaluate the averaged model on, or None.
        bn_data: inputs to recompute batch-norm statistics of the average
            from (:func:`~chainrule.optim.update_bn`) before each evaluation.
        swap: copy the averaged weights into the model at the end.

    Attributes:
        averaged: the :class:`AveragedModel` (None before training starts).
    """

    def __init__(self, decay: float | None = None, start_epoch: int = 0, every: str = "step",
                 validation_data=None, bn_data=None, swap: bool = False):
        super().__init__()
        if every not in ("step", "epoch"):
            raise ValueError(f"Expected every 'step' or 'epoch'. Received: every={every!r}")
        if int(start_epoch) < 0:
            raise ValueError(f"Expected start_epoch >= 0. Received: {start_epoch!r}")
        self.decay = decay
        self.start_epoch = int(start_epoch)
        self.every = every
        self.validation_data = validation_data
        self.bn_data = bn_data
        self.swap = swap
        self.averaged: AveragedModel | None = None

    def on_train_begin(self, logs: dict) -> None:
        if self.averaged is None:
            self.averaged = AveragedModel(self.model, decay=self.decay)

    def _active(self) -> bool:
        return self.trainer.epoch >= self.start_epoch

    def _average(self) -> AveragedModel:
        if self.averaged is None:
            raise RuntimeError("PolyakAveraging: used before on_train_begin")
        return self.averaged

    def on_batch_end(self, step: int, logs: dict) -> None:
        if self.every == "step" and self._active():
            self._average().update_parameters(self.model)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if epoch < self.start_epoch:
            return
        averaged = self._average()
        if self.every == "epoch":
            averaged.update_parameters(self.model)
        if self.validation_data is not None and int(averaged.n_averaged) > 0:
            if self.bn_data is not None:
                update_bn([self.bn_data], averaged)
            X, y = self.validation_data
            scores = evaluate(averaged.module, X, y, loss=self.trainer.loss_fn,
                              metrics=self.trainer.metric_specs)
            # the epoch's row of the history is already written: fill in our columns
            history = self.trainer.history
            n = len(history)
            for k, v in scores.items():
                key = f"avg_val_{k}"
                logs[key] = v
                column = history.history.setdefault(key, [])
                column.extend([math.nan] * (n - len(column)))
                column[-1] = float(v)

    def on_train_end(self, logs: dict) -> None:
        if self.swap and self.averaged is not None and int(self.averaged.n_averaged) > 0:
            self.model.load_state_dict(self.averaged.module.state_dict())
