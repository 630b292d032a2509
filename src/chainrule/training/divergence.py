"""Divergence: a non-finite loss or parameters stop training; a loss that grew warns.

Two rules, decided here once for ``fit``, the estimators and the command line:

* **Non-finite** (NaN or inf) objective before a step, or parameters left
  non-finite by a step: training stops with :class:`NonFiniteLossError`.
  The model falls back to its parameters at the start of the epoch when
  those are finite (:class:`EpochStart`), and the message says which
  parameters it holds.
* **Divergence**: the last epoch's training loss above
  ``DIVERGENCE_FACTOR`` (10) times the loss at the start of the run
  (:func:`divergence_message`).  :class:`DivergenceCheck`, which every
  Trainer runs unless given its own, warns with :class:`DivergenceWarning`
  (or, with ``stop=True``, stops at the first such epoch).
"""

from __future__ import annotations

import math
import warnings

from .._backend import namespace_of
from .callbacks import Callback, _weights_copy

__all__ = [
    "DIVERGENCE_FACTOR",
    "DivergenceCheck",
    "DivergenceWarning",
    "NonFiniteLossError",
    "divergence_message",
]

#: a training loss this many times its start is reported as divergence
DIVERGENCE_FACTOR = 10.0


class NonFiniteLossError(FloatingPointError):
    """The loss (or the parameters) became NaN or infinite; training stopped.

    Attributes:
        epoch: 1-based epoch; batch: 1-based minibatch within it;
        global_step: optimiser steps completed before the failure;
        value: the offending loss value.
    """

    def __init__(self, message: str, epoch: int, batch: int, global_step: int, value: float):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.global_step = global_step
        self.value = value


class DivergenceWarning(RuntimeWarning):
    """The training loss grew far above its start (see :data:`DIVERGENCE_FACTOR`)."""


def all_finite(state: dict) -> bool:
    """Whether every array of a state dict (parameters and buffers) is finite."""
    for a in state.values():
        xp = namespace_of(a)
        if not bool(xp.all(xp.isfinite(a))):
            return False
    return True


def divergence_message(start: float | None, last: float, hint: str = "learning rate",
                       factor: float = DIVERGENCE_FACTOR) -> str | None:
    """A warning text when ``last`` is above ``factor`` times ``start`` (None otherwise)."""
    if start is None or not start > 0 or not last > factor * start:
        return None
    return (
        f"training diverged: the training loss grew from {start:.4g} at the start to "
        f"{last:.4g} in the last epoch (over {factor:g} times); the model is "
        f"unlikely to be useful: try a smaller {hint}"
    )


class EpochStart:
    """The model's parameters at the start of an epoch, to fall back on.

    :meth:`stop` raises :class:`NonFiniteLossError` for a non-finite value
    met at the trainer's current step; when the model's parameters are no
    longer finite it first loads these (if they are finite themselves).
    """

    def __init__(self, model):
        self.model = model
        self.weights = _weights_copy(model)

    def stop(self, trainer, value: float, cause: str | None = None) -> None:
        where: str | None = "the last step"
        if not all_finite(self.model.state_dict()):
            if all_finite(self.weights):
                self.model.load_state_dict(self.weights)
                where = "the start of this epoch"
            else:
                where = None
        kept = (f"the model keeps its parameters from {where} (all finite)" if where else
                "the model's parameters are not finite (they were not at the start of this "
                "epoch either)")
        epoch, batch = trainer.epoch + 1, trainer.loader.position
        raise NonFiniteLossError(
            f"{cause or f'Loss became {value}'} at epoch {epoch}/{trainer.epochs}, batch {batch}/"
            f"{len(trainer.loader)} (after {trainer.global_step} optimiser steps). Training "
            f"stopped; {kept} and checkpoints already written are untouched. Try a smaller "
            "learning rate, gradient clipping, or check the data for extreme values.",
            epoch,
            batch,
            trainer.global_step,
            value,
        )

    def check_parameters(self, trainer, loss) -> None:
        """Stop when the optimiser's last step wrote non-finite parameters."""
        if not all_finite(self.model.state_dict()):
            name = type(trainer.optimizer).__name__
            self.stop(trainer, math.nan, f"{name}.step(closure) wrote non-finite parameters "
                      f"(the loss before the step was {loss})")


class DivergenceCheck(Callback):
    """Warn (or stop) when the training loss ends far above its start.

    The start is the loss of the run's first minibatch before any step;
    after each epoch its ``loss`` is compared with ``factor`` times it.

    Args:
        factor: how many times the start counts as divergence.
        stop: stop training at the first diverged epoch (default: warn
            once, at the end, if the last epoch diverged).
    """

    def __init__(self, factor: float = DIVERGENCE_FACTOR, stop: bool = False):
        super().__init__()
        if not factor > 0:
            raise ValueError(f"Expected factor > 0. Received: factor={factor!r}")
        self.factor = float(factor)
        self.stop = bool(stop)
        self.message: str | None = None

    def on_train_begin(self, logs):
        self.message = None

    def on_epoch_end(self, epoch, logs):
        start = self.trainer.running.first_loss
        self.message = divergence_message(start, float(logs.get("loss", math.nan)),
                                          factor=self.factor)
        if self.message and self.stop:
            self.trainer.stop_training = True

    def on_train_end(self, logs):
        if self.message and self.trainer.is_main_process:
            warnings.warn(self.message, DivergenceWarning, stacklevel=2)
