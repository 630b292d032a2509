"""Using the validation data after early stopping: book algorithms 7.2 and 7.3.

Early stopping itself (algorithm 7.1) is the ``training.EarlyStopping``
callback: it watches a validation score, and restores the parameters with
the best score at the end.  The validation rows are then unused for
fitting.  The book (§7.8) gives two ways to put them back to work:

- :func:`retrain_on_all_data` (algorithm 7.2): note the best number of
  steps i*, initialise the model again and train on *all* the data for i*
  steps (or, as the book also discusses, for the same number of epochs);
- :func:`continue_on_all_data` (algorithm 7.3): keep the early-stopped
  parameters, note the training loss ε they reached on the training
  subset, then continue training on all the data until the loss on the
  validation rows falls below ε — with a cap, since it may never do so.

Both take a ``model_fn`` (builds a fresh model) and an ``optimizer_fn``
(parameters -> optimiser), because algorithm 7.2 needs a second, freshly
initialised model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from .. import random as _random
from ..nn.module import Module
from ..training import Callback, EarlyStopping, History, evaluate, fit

__all__ = ["EarlyStoppingResult", "continue_on_all_data", "retrain_on_all_data"]


@dataclass
class EarlyStoppingResult:
    """What algorithms 7.2 and 7.3 return.

    Attributes:
        model: the final model, trained with all the data.
        best_step: i*, optimiser steps to the best validation score.
        best_epoch: number of epochs to the best validation score (1-based).
        best_score: the best monitored validation value.
        search_history: History of the early-stopping run on the subset.
        final_history: History of the run on all the data.
        final_steps: optimiser steps taken on all the data.
        threshold: ε of algorithm 7.3 (None for 7.2).
        reached_threshold: whether 7.3 got the validation loss below ε
            (False when it stopped at the cap; None for 7.2).
    """

    model: Module
    best_step: int
    best_epoch: int
    best_score: float
    search_history: History
    final_history: History | None
    final_steps: int
    threshold: float | None = None
    reached_threshold: bool | None = None
    extra: dict = field(default_factory=dict)


class _StepLimitReached(Exception):
    """Raised by :class:`_StepLimit` to end training in the middle of an epoch."""


class _StepLimit(Callback):
    """Stop training after exactly ``max_steps`` optimiser steps (None: no limit).

    ``fit`` only looks at ``stop_training`` between epochs, so a limit in
    the middle of an epoch ends the run with an exception that
    :func:`retrain_on_all_data` catches; on an epoch's last batch the
    epoch is left to finish (and be logged) normally.
    """

    def __init__(self, max_steps: int | None):
        super().__init__()
        self.max_steps = max_steps

    def on_batch_end(self, step, logs):
        if self.max_steps is None or step < self.max_steps:
            return
        self.trainer.stop_training = True
        loader = self.trainer.loader
        if loader.position < len(loader):
            raise _StepLimitReached


class _StopBelow(Callback):
    """Algorithm 7.3's loop test: stop once the loss on (X, y) is ≤ ε."""

    def __init__(self, X, y, loss, threshold: float, batch_size: int):
        super().__init__()
        self.X, self.y, self.loss = X, y, loss
        self.threshold = threshold
        self.batch_size = batch_size
        self.reached = False
        self.values: list[float] = []

    def on_epoch_end(self, epoch, logs):
        value = evaluate(self.model, self.X, self.y, loss=self.loss,
                         batch_size=self.batch_size)["loss"]
        self.values.append(value)
        if value <= self.threshold:
            self.reached = True
            self.trainer.stop_training = True


def _check_counts(**counts):
    for name, value in counts.items():
        if int(value) != value or value < 1:
            raise ValueError(f"Expected {name} >= 1. Received: {name}={value!r}")


def _split_kwargs(fit_kwargs):
    """fit arguments without callbacks (quiet by default), and the user's callbacks."""
    kwargs = {"verbose": 0}
    kwargs.update(fit_kwargs or {})
    for name in ("epochs", "validation_data", "validation_split"):
        if name in kwargs:
            raise ValueError(f"Expected fit_kwargs without {name!r}: the algorithm sets it")
    return kwargs, list(kwargs.pop("callbacks", ()))


def _run_generator(seed):
    """A run's own generator for ``seed`` (None: the generator in scope is used)."""
    return None if seed is None else _random.new_generator(seed)


def _scope(rng):
    """Put a run's own generator in scope (nothing to do for None)."""
    return nullcontext() if rng is None else _random.use_generator(rng)


def _search(model_fn, optimizer_fn, X_train, y_train, X_val, y_val, loss, max_epochs,
            patience, monitor, min_delta, batch_size, seed, kwargs, callbacks):
    """Algorithm 7.1 on the training subset: (model, callback, history, optimiser, generator)."""
    rng = _run_generator(seed)
    with _scope(rng):
        model = model_fn()
    opt = optimizer_fn(model.parameters())
    stopper = EarlyStopping(monitor=monitor, min_delta=min_delta, patience=patience,
                            restore_best_weights=True)
    history = fit(model, X_train, y_train, loss=loss, optimizer=opt, epochs=max_epochs,
                  batch_size=batch_size, validation_data=(X_val, y_val),
                  callbacks=callbacks + [stopper], generator=rng, **kwargs)
    if stopper.best_step is None:
        raise RuntimeError(
            f"Early stopping found no best epoch: {monitor!r} was never finite. "
            f"Received: {history.history.get(monitor)}"
        )
    return model, stopper, history, opt, rng


def retrain_on_all_data(model_fn: Callable[[], Module], X_train, y_train, X_val, y_val, *,
                        loss, optimizer_fn: Callable, max_epochs: int = 100,
                        patience: int = 5, monitor: str = "val_loss",
                        min_delta: float = 0.0, batch_size: int = 32,
                        count: str = "steps", seed: int | None = 0,
                        fit_kwargs: dict | None = None) -> EarlyStoppingResult:
    """Book algorithm 7.2: early-stop to find i*, then retrain from scratch on all data.

    1. Train a model from ``model_fn()`` on (X_train, y_train) with
       early stopping on (X_val, y_val); i* = optimiser steps at the best
       validation score (``EarlyStopping.best_step``).
    2. Initialise a new model (``model_fn()`` again; with ``seed`` given,
       from the same seed) and a new optimiser, and train on the union of
       the training and validation rows for i* steps (``count="steps"``,
       the book's algorithm) or for the best number of epochs
       (``count="epochs"``: with more data an epoch has more steps; the
       book notes it is not clear which of the two is better).

    Args:
        model_fn: builds a freshly initialised model.
        X_train, y_train: the training subset.
        X_val, y_val: the validation rows (added to the data in step 2).
        loss: loss name or callable, as in ``training.fit``.
        optimizer_fn: ``parameters -> optimiser``, e.g.
            ``lambda ps: cr.optim.SGD(ps, lr=0.1)``.
        max_epochs: cap on the early-stopping run.
        patience, monitor, min_delta: passed to ``EarlyStopping``.
        batch_size: minibatch size for both runs.
        count: ``"steps"`` or ``"epochs"``.
        seed: each run (initialisation and training) draws from its own
            generator seeded with ``seed``, in scope only for that run, so
            the caller's generator is untouched; None: draw from the
            generator in scope.
        fit_kwargs: more ``training.fit`` arguments for both runs
            (metrics, regularizers, constraints, transform...).

    Returns:
        An :class:`EarlyStoppingResult` whose ``model`` is the retrained one.

    Example:
        >>> res = retrain_on_all_data(lambda: make_net(), X_tr, y_tr, X_va, y_va,
        ...                           loss="cross_entropy",
        ...                           optimizer_fn=lambda ps: cr.optim.Adam(ps, 1e-3))
        >>> res.best_step, res.final_steps   # equal with count="steps"
    """
    if count not in ("steps", "epochs"):
        raise ValueError(f"Expected count 'steps' or 'epochs'. Received: count={count!r}")
    _check_counts(max_epochs=max_epochs, batch_size=batch_size)
    kwargs, callbacks = _split_kwargs(fit_kwargs)
    _, stopper, search_history, _, _ = _search(
        model_fn, optimizer_fn, X_train, y_train, X_val, y_val, loss, max_epochs, patience,
        monitor, min_delta, batch_size, seed, kwargs, callbacks)
    best_step = int(stopper.best_step)
    best_epoch = int(stopper.best_epoch) + 1
    X_all = np.concatenate([np.asarray(X_train), np.asarray(X_val)])
    y_all = None if y_train is None else np.concatenate([np.asarray(y_train),
                                                         np.asarray(y_val)])
    rng = _run_generator(seed)
    with _scope(rng):
        model = model_fn()
    opt = optimizer_fn(model.parameters())
    if count == "steps":
        epochs = math.ceil(best_step / math.ceil(len(X_all) / batch_size))
    else:
        epochs = best_epoch
    limiter = _StepLimit(best_step if count == "steps" else None)
    try:
        fit(model, X_all, y_all, loss=loss, optimizer=opt, epochs=epochs,
            batch_size=batch_size, callbacks=callbacks + [limiter], generator=rng, **kwargs)
    except _StepLimitReached:
        model.eval()  # as fit leaves it
    history = limiter.trainer.history
    steps = limiter.trainer.global_step
    return EarlyStoppingResult(
        model=model, best_step=best_step, best_epoch=best_epoch,
        best_score=float(stopper.best), search_history=search_history,
        final_history=history, final_steps=int(steps),
    )


def continue_on_all_data(model_fn: Callable[[], Module], X_train, y_train, X_val, y_val, *,
                         loss, optimizer_fn: Callable, max_epochs: int = 100,
                         patience: int = 5, monitor: str = "val_loss",
                         min_delta: float = 0.0, batch_size: int = 32,
                         max_extra_epochs: int = 50, seed: int | None = 0,
                         fit_kwargs: dict | None = None) -> EarlyStoppingResult:
    """Book algorithm 7.3: early-stop, then keep training on all data down to ε.

    1. Train on (X_train, y_train) with early stopping on (X_val, y_val);
       the best parameters θ* are restored.
    2. ε ← J(θ*, X_train, y_train), the mean training loss there.
    3. While J(θ, X_val, y_val) > ε: train one more epoch on the union
       of the training and validation rows (continuing with the same
       optimiser and its state).  The loop also ends after
       ``max_extra_epochs`` epochs, since the validation loss may never
       reach ε; ``reached_threshold`` says which happened.

    The book monitors the loss on the *validation* rows in step 3 (they
    are now part of the training data); J is the data loss without
    penalty terms.

    Args:
        model_fn: ``() -> Module``, as in :func:`retrain_on_all_data`.
        X_train: training inputs.
        y_train: training targets.
        X_val: validation inputs (joined to the training rows in step 3).
        y_val: validation targets.
        loss: the ``fit`` loss.
        optimizer_fn: ``parameters -> optimiser``.
        max_epochs: cap on the epochs of step 1.
        patience: early-stopping patience of step 1.
        monitor: the logged value early stopping watches.
        min_delta: smallest change that counts as an improvement.
        batch_size: minibatch size.
        max_extra_epochs: cap on the epochs of step 3.
        seed: the run's own generator (None: the generator in scope).
        fit_kwargs: more ``fit`` arguments.

    Returns:
        An :class:`EarlyStoppingResult` with ``threshold`` = ε and
        ``extra["val_losses"]`` the validation losses after each extra epoch.
    """
    _check_counts(max_epochs=max_epochs, batch_size=batch_size,
                  max_extra_epochs=max_extra_epochs)
    kwargs, callbacks = _split_kwargs(fit_kwargs)
    model, stopper, search_history, opt, rng = _search(
        model_fn, optimizer_fn, X_train, y_train, X_val, y_val, loss, max_epochs, patience,
        monitor, min_delta, batch_size, seed, kwargs, callbacks)
    eval_batch = max(batch_size, 256)
    threshold = evaluate(model, X_train, y_train, loss=loss, batch_size=eval_batch)["loss"]
    start = evaluate(model, X_val, y_val, loss=loss, batch_size=eval_batch)["loss"]
    X_all = np.concatenate([np.asarray(X_train), np.asarray(X_val)])
    y_all = None if y_train is None else np.concatenate([np.asarray(y_train),
                                                         np.asarray(y_val)])
    watcher = _StopBelow(X_val, y_val, loss, threshold, eval_batch)
    history = None
    steps = 0
    if start > threshold:
        history = fit(model, X_all, y_all, loss=loss, optimizer=opt, epochs=max_extra_epochs,
                      batch_size=batch_size, callbacks=callbacks + [watcher], generator=rng,
                      **kwargs)
        steps = watcher.trainer.global_step
    else:
        watcher.reached = True
    return EarlyStoppingResult(
        model=model, best_step=int(stopper.best_step), best_epoch=int(stopper.best_epoch) + 1,
        best_score=float(stopper.best), search_history=search_history,
        final_history=history, final_steps=int(steps), threshold=float(threshold),
        reached_threshold=watcher.reached,
        extra={"val_losses": [start] + watcher.values},
    )
