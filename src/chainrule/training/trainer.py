"""The training loop: minibatch SGD with callbacks (book §5.9, §8.1.3).

One epoch: for each minibatch (xb, yb) drawn by the shuffling
:class:`~chainrule.data.DataLoader`::

    J = loss(model(xb), yb) + Σ regularizer(model)   # book eq. 7.1
        + Σ b.batch_penalty(model, xb, yb, loss, J₀)  # J₀ the data term; e.g. §7.13, §7.14
    optimizer.zero_grad(); J.backward()
    for r in gradient regularizers: r.add_gradient(model, m')   # e.g. MinibatchL2
    optimizer.step()
    for c in constraints: c(model)                    # e.g. max-norm, §7.2
    scheduler.step()                                  # if scheduler_interval="step"

then the validation set is scored in eval mode, the scheduler steps if
``scheduler_interval="epoch"``, and the epoch's logs go to the
:class:`History` and the callbacks.

Conventions (decided once):

* ``loss`` and ``val_loss`` are the data term only (the mean NLL), so the
  two curves are comparable; with regularizers the mean penalty is logged
  as ``penalty`` and their sum as ``objective``.
* A NaN or infinite objective stops training with :class:`NonFiniteLossError`
  before the step that would use it (the divergence check).  Training metrics are running averages over the epoch
  of outputs in training mode (dropout on), as in Keras.
* ``lr`` in the logs is group 0's learning rate at the end of the epoch.
* ``validation_split`` holds out a random share of the rows (its own
  generator, seed 0), so the generator in scope stays untouched.
* Randomness (shuffling, dropout masks, augmentation) comes from
  ``chainrule.random.generator()``.  ``generator=`` (a ``numpy`` Generator
  or an int seed) scopes the Trainer's own generator around each
  :meth:`Trainer.fit` with ``chainrule.random.use_generator``: nothing
  global is swapped, and two Trainers on two threads draw independently.
  Checkpoints store and restore the state of the generator in scope.
* ``y=None`` trains the model to reproduce its input (autoencoders);
  a ``transform`` then corrupts only the input (denoising).
* Devices: the model's array namespace and device are read from its first
  parameter once per ``fit``.  NumPy data stays on the host loader and
  each minibatch is moved to the model's device once; data that already
  is an array of the model's library (CuPy, torch, array_api_strict) stays
  there whole and is cut into minibatches on that device; data of another
  library is refused with a message naming both.  Losses and metrics
  accumulate on the device; the epoch's logs are Python floats (one
  scalar comes to the host per step: the divergence check needs it before
  the step).
* Multi-task (§7.7) and semi-supervised (§7.6) training are this loop with
  a dict of targets and a :class:`~chainrule.training.MultiTaskLoss` (see
  :mod:`chainrule.training.multitask`): minibatches carry a dict of
  targets in the same row order; ``unlabeled`` rows are appended with
  their labels marked missing; per-task losses are logged as ``<task>_loss``.
* X is checked and made float32 once; a ``transform`` may return float64
  minibatches (and targets of any form its loss reads), which then train a
  float64 model in float64 (the scikit-learn estimators gather float64 or
  sparse rows, and sample weights, this way).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext

import numpy as np

from .. import random as _random
from .._backend import namespace_of
from ..autograd.engine import Tensor, no_grad
from ..data.loader import DataLoader, TensorDataset, take_rows, train_val_split
from ..nn.multitask import MultiTask
from . import checkpoint as ckpt
from ._placement import model_place, on_model
from .callbacks import Callback, ModelCheckpoint, _weights_copy
from .evaluation import _output_data, check_data, evaluate, predict
from .fit_arguments import fit_arguments
from .history import History
from .losses import get_loss
from .metrics import get_metric
from .multitask import MultiTaskLoss, task_metrics
from .progress import ProgressBar

__all__ = ["NonFiniteLossError", "Trainer", "evaluate", "fit", "predict"]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stopped.

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


def _reads_batches(cb) -> bool:
    """Whether a callback does anything in ``on_batch_end`` (overridden or set on it)."""
    return "on_batch_end" in vars(cb) or type(cb).on_batch_end is not Callback.on_batch_end


def _input(xb, xp=np) -> Tensor:
    """A minibatch as a Tensor: float64 minibatches (from a ``transform``) stay float64."""
    f64 = getattr(xb, "dtype", None) == (np.float64 if xp is np else xp.float64)
    return Tensor(xb, dtype=np.float64 if f64 else None)


def _lr(optimizer) -> float | None:
    """The first group's learning rate (None for optimisers without one)."""
    lr = optimizer.param_groups[0].get("lr")
    return None if lr is None else float(lr)


class Trainer:
    """Holds what a training run needs and runs it: the one training loop; see :func:`fit`.

    Everything that trains drives this loop (``fit``, the command line, the
    scikit-learn estimators, the meta-algorithms of
    :mod:`chainrule.ensembles`).  What varies is plugged in:

    * ``regularizers``: graph penalties ``model -> Tensor`` (``L2Penalty``),
      gradient-side ones with ``add_gradient`` (``MinibatchL2``), or batch
      ones with ``batch_penalty(model, xb, yb, loss_fn, loss) -> Tensor``
      that read the minibatch (``AdversarialTraining``, ``TangentProp``);
    * ``constraints``: ``model -> None`` after each step (``MaxNorm``);
    * ``callbacks``: epoch/batch hooks (``EarlyStopping``,
      ``ToleranceStopping``, ``InverseScalingLR``, ``EpochScore``,
      ``ModelCheckpoint``...), in the order given;
    * ``scheduler``: a learning-rate schedule per step or per epoch;
    * ``generator``: the run's own random generator (or seed);
    * ``distributed``: data-parallel over MPI (:mod:`chainrule.distributed`):
      None (the default) turns it on when the process was started by an MPI
      launcher with several ranks (``mpiexec -n 4 python train.py``).  Then
      ``batch_size`` is the *global* minibatch, each rank computes its shard,
      gradients are averaged with one all-reduce before each step, epoch
      logs and validation scores are reduced over the ranks, and only rank 0
      prints and writes checkpoints.

    Calling :meth:`fit` again continues with the same model and optimiser
    (its state kept): one epoch at a time is ``fit(X, y, epochs=1)``.

    Attributes (read by callbacks): ``model``, ``optimizer``,
    ``scheduler``, ``history``, ``epoch`` (epochs completed, or the
    current 0-based epoch while it runs), ``global_step`` (optimiser steps
    taken), ``epochs`` (target), ``loader``, ``stop_training``,
    ``is_main_process`` (False on MPI ranks other than 0: they write nothing).
    """

    def __init__(
        self,
        model,
        *,
        loss,
        optimizer,
        metrics: Iterable = (),
        callbacks: Iterable = (),
        scheduler=None,
        scheduler_interval: str = "step",
        regularizers: Iterable = (),
        constraints: Iterable = (),
        verbose="auto",
        generator=None,
        distributed: bool | None = None,
        loss_weights: dict | None = None,
    ):
        if scheduler_interval not in ("step", "epoch"):
            raise ValueError(
                f"Expected scheduler_interval 'step' or 'epoch'. Received: {scheduler_interval!r}"
            )
        self.model = model
        if isinstance(loss, dict):
            loss = MultiTaskLoss(loss, loss_weights)
        elif loss_weights is not None:
            raise ValueError(
                "Expected loss_weights only with a dict of per-task losses. Received: "
                f"loss={loss!r}"
            )
        self.loss_fn, self.loss_name = get_loss(loss)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.metric_specs = task_metrics(metrics)
        for spec in self.metric_specs:
            get_metric(spec)  # validate names early
        self.regularizers = []
        self.gradient_regularizers = []
        self.batch_regularizers = []
        for reg in regularizers:
            if hasattr(reg, "add_gradient"):
                self.gradient_regularizers.append(reg)
            elif hasattr(reg, "batch_penalty"):
                self.batch_regularizers.append(reg)
            elif callable(reg):
                self.regularizers.append(reg)
            else:
                raise TypeError(
                    "Expected regularizers: callables model -> scalar Tensor, or objects "
                    "with add_gradient(model, batch_rows) or batch_penalty(model, xb, yb, "
                    f"loss_fn, loss). Received: {type(reg).__name__}"
                )
        self.constraints = list(constraints)
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Expected Callback instances. Received: {type(cb).__name__}")
        # checkpoints last, so they capture the other callbacks' epoch-end state
        self.callbacks = sorted(callbacks, key=lambda c: isinstance(c, ModelCheckpoint))
        self.verbose = verbose
        if generator is not None and not isinstance(generator, np.random.Generator):
            generator = _random.new_generator(generator)
        self.generator = generator
        if distributed not in (None, True, False):
            raise ValueError(f"Expected distributed None, True or False. Received: {distributed!r}")
        self.distributed = distributed
        self.is_main_process = True
        self._averager = None  # a DistributedOptimizer while data-parallel
        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self.epochs = 0
        self.loader: DataLoader | None = None
        self.stop_training = False
        self._train_metrics: list = []
        self._sums = {"loss": 0.0, "penalty": 0.0, "count": 0, "parts": {}}
        self._xp, self._device = np, "cpu"  # where the model computes, read per fit

    # --- data checks ------------------------------------------------------------
    def _check_data(self, X, y, name: str = "X", transform=None):
        if isinstance(self.loss_fn, MultiTaskLoss):
            return self.loss_fn.check_data(self.model, X, y, name=name, transform=transform)
        if isinstance(self.model, MultiTask):
            raise TypeError(
                f"Expected loss as a dict {{task: loss}} for a MultiTask model (tasks "
                f"{list(self.model.tasks)}). Received: loss={self.loss_name!r}"
            )
        return check_data(self.model, X, y, self.loss_name, name=name, transform=transform)

    def _to_model(self, xb, yb):
        """A host minibatch moved to the model's device (device minibatches stay)."""
        xp = self._xp
        if xp is np:
            return xb, yb
        if isinstance(yb, dict):  # one target array per task
            yb = {k: on_model(v, xp, self._device, f"y[{k!r}]") for k, v in yb.items()}
        else:
            yb = on_model(yb, xp, self._device, "y")
        return on_model(xb, xp, self._device, "X"), yb

    # --- the loop ---------------------------------------------------------------
    def fit(
        self,
        X,
        y=None,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data=None,
        validation_split: float = 0.0,
        transform: Callable | None = None,
        shuffle: bool = True,
        checkpoint=None,
        drop_last: bool = False,
        unlabeled=None,
        sampler=None,
    ) -> History:
        """Train; see :func:`fit` for the arguments."""
        scope = self._rng_scope()
        with scope:
            return self._fit(
                X,
                y,
                epochs=epochs,
                batch_size=batch_size,
                validation_data=validation_data,
                validation_split=validation_split,
                transform=transform,
                shuffle=shuffle,
                checkpoint=checkpoint,
                drop_last=drop_last,
                unlabeled=unlabeled,
                sampler=sampler,
            )

    def _fit(self, X, y, *, epochs, batch_size, validation_data, validation_split, transform,
             shuffle, checkpoint, drop_last, unlabeled=None, sampler=None) -> History:
        if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool):
            raise TypeError(
                f"Expected epochs to be an integer (a whole number of epochs). "
                f"Received: epochs={epochs!r} ({type(epochs).__name__})"
            )
        if epochs < 0:
            raise ValueError(f"Expected epochs >= 0. Received: epochs={epochs!r}")
        if unlabeled is not None and not isinstance(self.loss_fn, MultiTaskLoss):
            raise ValueError(
                "Expected a dict of per-task losses with a task that reconstructs the input "
                "(target None) to learn from unlabeled rows. Received: "
                f"loss={self.loss_name!r}"
            )
        self._xp, self._device = model_place(self.model)
        raw_y = y
        X, y = self._check_data(X, y, transform=transform)
        if validation_data is not None and validation_split:
            raise ValueError("Expected validation_data or validation_split, not both")
        if validation_split:
            X, y, X_val, y_val = train_val_split(X, y, float(validation_split), seed=0)
            validation_data = (X_val, y_val)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "Expected validation_data=(X_val, y_val). Received: "
                    f"{type(validation_data).__name__}"
                )
            validation_data = self._check_data(*validation_data, name="X_val")
        if unlabeled is not None:  # after the split: validation rows keep their labels
            X, y = self.loss_fn.add_unlabeled(X, y, raw_y, unlabeled)
        # each call is a new run; ``checkpoint`` continues a saved one
        self.epochs = int(epochs)
        self.epoch = 0
        self.global_step = 0
        self.stop_training = False
        self.history = History()
        self.loader = DataLoader(
            TensorDataset(X, y),
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            transform=transform,
            sampler=sampler,
        )
        self._train_metrics = [m for m in map(get_metric, self.metric_specs) if m]
        self._reset_sums()
        self._start_data_parallel()
        if checkpoint is not None:
            self.load_checkpoint(checkpoint)
        if self._averager is not None:
            self._sync_replicas()
        for cb in self.callbacks:
            cb.set_trainer(self)
        bar = ProgressBar(self.verbose if self.is_main_process else 0, self.epochs)
        self._call("on_train_begin", {})
        try:
            while self.epoch < self.epochs and not self.stop_training:
                self._run_epoch(self.epoch, bar, validation_data)
        finally:
            bar.close()
        logs = self._last_logs()
        self._call("on_train_end", logs)
        self.model.eval()
        return self.history

    # --- data parallelism (MPI) -----------------------------------------------------
    def _start_data_parallel(self) -> None:
        from .. import distributed as dist

        on = self.distributed
        if on is None:
            on = dist.launched_with_several_ranks()
        self._averager = None
        self.is_main_process = True
        if on:
            dist.init()
            if dist.is_distributed():
                self._averager = dist.DistributedOptimizer(self.optimizer)
                self.is_main_process = dist.rank() == 0

    def _sync_replicas(self) -> None:
        """Every rank starts from rank 0's parameters and random state."""
        from .. import distributed as dist

        dist.broadcast_parameters(self.model, root=0)
        _random.set_rng_state(dist.broadcast_object(_random.get_rng_state(), root=0))

    def _reduce_sums(self) -> None:
        """Add up the epoch's loss and metric sums over all ranks (in place)."""
        from .. import distributed as dist

        values = [self._sums["loss"], self._sums["penalty"], float(self._sums["count"])]
        for m in self._train_metrics:
            m._flush()
            values += [m.total, float(m.count), float(getattr(m, "sq", 0.0))]
        tasks = getattr(self.loss_fn, "tasks", ())
        for t in tasks:
            values += self._sums["parts"].get(t, [0.0, 0])
        total = dist.all_reduce(np.array(values, dtype=np.float64), op="sum")
        k = 3 + 3 * len(self._train_metrics)
        parts = {t: [float(total[k + 2 * i]), int(total[k + 2 * i + 1])]
                 for i, t in enumerate(tasks)}
        self._sums = {"loss": total[0], "penalty": total[1], "count": int(total[2]),
                      "parts": parts}
        for i, m in enumerate(self._train_metrics):
            m.total, m.count = float(total[3 + 3 * i]), int(total[4 + 3 * i])
            if hasattr(m, "sq"):
                m.sq = float(total[5 + 3 * i])

    def _evaluate_shards(self, X, y, batch_size: int) -> dict:
        """Validation scores: each rank scores its shard; example-weighted means."""
        from .. import distributed as dist

        part = dist.shard(X.shape[0])
        n = part.stop - part.start
        scores = self.evaluate(X[part], take_rows(y, part), batch_size=batch_size) if n else {}
        names = sorted(dist.broadcast_object(sorted(scores), root=0))
        local = np.array([scores.get(k, 0.0) * n for k in names] + [n], dtype=np.float64)
        total = dist.all_reduce(local, op="sum")
        return {k: float(v / total[-1]) for k, v in zip(names, total[:-1])}

    def _reset_sums(self) -> None:
        self._sums = {"loss": 0.0, "penalty": 0.0, "count": 0, "parts": {}}
        for m in self._train_metrics:
            m.reset()

    def _running_logs(self) -> dict:
        n = max(self._sums["count"], 1)
        logs = {"loss": self._sums["loss"] / n}
        for task, (total, rows) in self._sums.get("parts", {}).items():
            logs[f"{task}_loss"] = total / rows if rows else float("nan")
        if self.regularizers or self.gradient_regularizers or self.batch_regularizers:
            logs["penalty"] = self._sums["penalty"] / n
            logs["objective"] = logs["loss"] + logs["penalty"]
        for m in self._train_metrics:
            logs[m.name] = m.result()
        return logs

    def _last_logs(self) -> dict:
        return {k: v[-1] for k, v in self.history.history.items()} if len(self.history) else {}

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def _run_epoch(self, epoch: int, bar: ProgressBar, validation_data) -> None:
        loader = self.loader
        if loader.position == 0:
            self._reset_sums()
        self._call("on_epoch_begin", epoch, {})
        snapshot = _weights_copy(self.model)  # last finite parameters (on the device), for NaN recovery
        self.model.train()
        bar.epoch_begin(epoch, len(loader), loader.position)
        # the running logs are built per minibatch only for those who read them
        watchers = [cb for cb in self.callbacks if _reads_batches(cb)]
        for xb, yb in loader:
            xb, yb = self._to_model(xb, yb)
            self._train_step(xb, yb, epoch, snapshot)
            if watchers or bar.active:
                logs = self._running_logs()
                bar.batch_end(logs)
                for cb in watchers:
                    cb.on_batch_end(self.global_step, logs)
            if self.stop_training:  # set by a callback mid-epoch: end the epoch here
                break
        if self.stop_training and loader.position:
            loader.load_state_dict({"order": None, "position": 0})
        if self._averager is not None:
            self._reduce_sums()
        logs = self._running_logs()
        lr = _lr(self.optimizer)
        if lr is not None:
            logs["lr"] = lr
        if validation_data is not None:
            size = max(loader.batch_size, 256)
            if self._averager is not None:
                val = self._evaluate_shards(*validation_data, batch_size=size)
            else:
                val = self.evaluate(*validation_data, batch_size=size)
            logs.update({f"val_{k}": v for k, v in val.items()})
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            self.scheduler.step()
        self.history.append(epoch, logs)
        self.epoch = epoch + 1
        self._reset_sums()
        self._call("on_epoch_end", epoch, logs)
        bar.epoch_end(epoch, logs)

    def _closure_step(self, xb, yb, epoch: int, snapshot: dict) -> tuple:
        """One ``optimizer.step(closure)`` for optimisers that re-evaluate the loss.

        L-BFGS, BFGS, CG and Newton (``needs_closure``) call the closure as
        often as their line searches need; it computes the same objective as
        a plain step (loss, graph penalties, gradient-side penalties).  The
        first evaluation's output, loss and penalty are logged, as a plain
        step logs the values before its update.
        """
        n = xb.shape[0]
        first = {}

        def closure():
            xt = _input(xb, self._xp)
            out = self.model(xt)
            loss = self.loss_fn(out, yb)
            total, penalty = self._graph_penalties(xt, yb, loss)
            if not first:
                value = float(total.data)
                if not math.isfinite(value):
                    self._non_finite(value, epoch, snapshot)
            self.optimizer.zero_grad()
            total.backward()
            for reg in self.gradient_regularizers:
                penalty += reg.add_gradient(self.model, n)
            if not first:
                first.update(out=out, loss=loss, penalty=penalty)
            return total + penalty if penalty else total

        self.optimizer.step(closure)
        return first["out"], first["loss"], first["penalty"]

    def _train_step(self, xb, yb, epoch: int, snapshot: dict) -> None:
        if getattr(self.optimizer, "needs_closure", False):
            if self._averager is not None:
                raise ValueError(
                    "Expected a first-order optimiser for data-parallel training. Received: "
                    f"{type(self.optimizer).__name__}, which re-evaluates the loss in step(closure)"
                )
            out, loss, penalty = self._closure_step(xb, yb, epoch, snapshot)
            self._after_step(xb, yb, out, loss, penalty)
            return
        n_global = xb.shape[0]
        if self._averager is not None:
            from ..distributed import shard

            part = shard(n_global)
            xb, yb = xb[part, ...], take_rows(yb, part)
            if xb.shape[0] == 0:  # fewer rows than ranks: contribute no gradient
                self._empty_step()
                return
        xt = _input(xb, self._xp)
        out = self.model(xt)
        loss = self.loss_fn(out, yb)
        total, penalty = self._graph_penalties(xt, yb, loss)
        value = float(total.data)
        if not math.isfinite(value):
            self._non_finite(value, epoch, snapshot)
        self.optimizer.zero_grad()
        total.backward()
        n = xb.shape[0]
        for reg in self.gradient_regularizers:
            # per-minibatch terms scale with the global minibatch (alpha / m')
            penalty += reg.add_gradient(self.model, n_global)
        if self._averager is not None:
            self._averager.set_share(n, n_global)
            self._averager.synchronize()
        self.optimizer.step()
        # the checked value is the loss itself without graph penalties: no second sync
        self._after_step(xb, yb, out, loss, penalty, value if total is loss else None)

    def _graph_penalties(self, xt: Tensor, yb, loss: Tensor) -> tuple:
        """The objective with the graph penalties added, and their sum as a float.

        Model-only regularizers first (an ``ActivityRegularizer`` reads the
        output of the forward pass just made), then the batch ones, which
        may run the model again on other inputs.
        """
        total = loss
        penalty = 0.0
        for reg in self.regularizers:
            term = reg(self.model)
            penalty += float(term.data)
            total = total + term
        for reg in self.batch_regularizers:
            term = reg.batch_penalty(self.model, xt, yb, self.loss_fn, loss)
            penalty += float(term.data)
            total = total + term
        return total, penalty

    def _advance(self) -> None:
        """After an optimiser step: constraints, the step count, a per-step schedule."""
        if self.constraints:
            with no_grad():
                for c in self.constraints:
                    c(self.model)
        self.global_step += 1
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    def _after_step(self, xb, yb, out, loss, penalty: float, loss_value=None) -> None:
        n = xb.shape[0]
        self._advance()
        self._sums["loss"] += (float(loss.data) if loss_value is None else loss_value) * n
        self._sums["penalty"] += penalty * n
        self._sums["count"] += n
        parts = self.loss_fn.parts if isinstance(self.loss_fn, MultiTaskLoss) else {}
        for task, (value, rows) in parts.items():
            acc = self._sums["parts"].setdefault(task, [0.0, 0])
            acc[0] += value * rows
            acc[1] += rows
        if self._train_metrics:
            o = _output_data(out)
            for m in self._train_metrics:
                m.update(o, yb)

    def _empty_step(self) -> None:
        """A step on a rank whose shard is empty: join the all-reduce with no gradient."""
        self.optimizer.zero_grad()
        self._averager.set_share(0, 1)
        self._averager.synchronize()
        self.optimizer.step()
        self._advance()

    def _non_finite(self, value: float, epoch: int, snapshot: dict) -> None:
        finite = True
        for a in self.model.state_dict().values():
            xp = namespace_of(a)
            if not bool(xp.all(xp.isfinite(a))):
                finite = False
                break
        if not finite:
            self.model.load_state_dict(snapshot)
        where = "the start of this epoch" if not finite else "the last step"
        batch = self.loader.position
        raise NonFiniteLossError(
            f"Loss became {value} at epoch {epoch + 1}/{self.epochs}, batch {batch}/"
            f"{len(self.loader)} (after {self.global_step} optimiser steps). Training stopped; "
            f"the model keeps its parameters from {where} (all finite) and checkpoints "
            "already written are untouched. Try a smaller learning rate, gradient "
            "clipping, or check the data for extreme values.",
            epoch + 1,
            batch,
            self.global_step,
            value,
        )

    # --- scoring ----------------------------------------------------------------
    def evaluate(self, X, y, batch_size: int = 256) -> dict:
        """Mean loss and metrics over (X, y), in eval mode without gradients."""
        return evaluate(
            self.model,
            X,
            y,
            loss=self.loss_fn,
            metrics=self.metric_specs,
            batch_size=batch_size,
            _checked=True,
        )

    # --- checkpoints --------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue this run bit for bit."""
        return {
            "kind": "training",
            "epoch": self.epoch,
            "global_step": self.global_step,
            "epochs": self.epochs,
            "stop_training": bool(self.stop_training),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": self._rng_state(),
            "loader": None if self.loader is None else self.loader.state_dict(),
            "n_samples": None if self.loader is None else len(self.loader.dataset),
            "history": self.history.state_dict(),
            "sums": {**self._sums, "parts": {k: list(v) for k, v in self._sums["parts"].items()}},
            "metrics": [m.state_dict() for m in self._train_metrics],
            "callbacks": [[type(c).__name__, c.state_dict()] for c in self.callbacks],
        }

    def save_checkpoint(self, path) -> None:
        """Write :meth:`state_dict` atomically to ``path`` (safe npz format).

        Data-parallel, only rank 0 writes (the replicas are equal).
        """
        if self.is_main_process:
            ckpt.save_checkpoint(path, self.state_dict())

    def load_checkpoint(self, path) -> None:
        """Restore a run saved by :meth:`save_checkpoint` (call before the loop)."""
        state = ckpt.load_checkpoint(path)
        if not isinstance(state, dict) or state.get("kind") != "training":
            raise ckpt.CheckpointError(
                f"Expected a training checkpoint. Received: {path!r} holds only model weights"
            )
        try:
            self._restore(state, path)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            if isinstance(err, ckpt.CheckpointError):
                raise
            # a valid checksum is no signature: a forged file may lack pieces
            raise ckpt.CheckpointError(
                f"Expected a complete training checkpoint in {str(path)!r}. Received: "
                f"{type(err).__name__}: {err} while restoring it (a forged or foreign file)"
            ) from None

    def _restore(self, state: dict, path) -> None:
        """Put a decoded training checkpoint's pieces back in place."""
        ckpt.check_state_matches(self.model, state["model"], source=repr(str(path)))
        if self.loader is not None and state["n_samples"] != len(self.loader.dataset):
            raise ckpt.CheckpointError(
                f"Expected the training data of the saved run ({state['n_samples']} rows). "
                f"Received: {len(self.loader.dataset)} rows"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.stop_training = bool(state["stop_training"])
        self.history.load_state_dict(state["history"])
        if self.loader is not None and state["loader"] is not None:
            self.loader.load_state_dict(state["loader"])
        sums = dict(state["sums"])
        sums["parts"] = {k: list(v) for k, v in sums.get("parts", {}).items()}
        self._sums = sums
        for m, ms in zip(self._train_metrics, state["metrics"]):
            m.load_state_dict(ms)
        saved = list(state["callbacks"])
        for cb in self.callbacks:
            for i, (name, cstate) in enumerate(saved):
                if name == type(cb).__name__:
                    cb.load_state_dict(cstate)
                    del saved[i]
                    break
        with self._rng_scope():
            _random.set_rng_state(state["rng"])

    def _rng_scope(self):
        """The Trainer's own generator in scope (when it has one): checkpoints save and
        restore that generator, also when called outside :meth:`fit`."""
        return nullcontext() if self.generator is None else _random.use_generator(self.generator)

    def _rng_state(self) -> dict:
        with self._rng_scope():
            return _random.get_rng_state()


def fit(
    model,
    X,
    y=None,
    *,
    loss,
    optimizer,
    lr: float | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data=None,
    validation_split: float = 0.0,
    metrics: Iterable = (),
    callbacks: Iterable = (),
    scheduler=None,
    regularizers: Iterable = (),
    constraints: Iterable = (),
    transform: Callable | None = None,
    shuffle: bool = True,
    verbose="auto",
    checkpoint=None,
    scheduler_interval: str = "step",
    generator=None,
    drop_last: bool = False,
    loss_weights: dict | None = None,
    unlabeled=None,
    sampler=None,
) -> History:
    """Train ``model`` by minibatch gradient descent and return its :class:`History`.

    Args:
        model: an ``nn.Module`` (any callable Tensor -> Tensor with
            ``train()``/``eval()``/``state_dict()``).
        X: inputs, (n_samples, ...), finite numbers, in the model's
            dtype (see "dtypes" below); or a map-style dataset
            (``__len__``, ``__getitem__`` -> ``x`` or ``(x, y)``, as
            ``torch.utils.data.Dataset``), read once into arrays, with ``y=None``.
        y: targets (class ids for "cross_entropy", real values for "mse"),
            or None to reconstruct X; for a multi-task model, a dict
            ``{task: targets or None}`` (None: the task reconstructs X).
        loss: a name ("cross_entropy", "mse", "l1", "bce", "gaussian_nll";
            see :mod:`chainrule.training.losses`; Keras's names too:
            "sparse_categorical_crossentropy", "categorical_crossentropy"
            with one-hot targets, "binary_crossentropy", "mse", "mae";
            every loss takes logits) or a callable
            ``(output Tensor, target ndarray) -> scalar Tensor``; or a dict
            ``{task: loss}`` for a model returning ``{task: output}``
            (:class:`chainrule.nn.MultiTask`): the objective is then
            Σ_t w_t L_t and the history holds ``<task>_loss`` too (book §7.7).
        loss_weights: ``{task: w_t}`` with a dict ``loss`` (default 1 each).
        unlabeled: rows without targets (semi-supervised, book §7.6),
            appended to X with every labelled task's target marked missing:
            they train only the tasks whose target is None (reconstruction),
            through the shared trunk.  Needs a dict ``loss``.
        optimizer: a ``chainrule.optim`` optimiser over the model's
            parameters, or a name ("adam", "sgd", "rmsprop", "adagrad",
            "adamw", "momentum", "nesterov", ...; case ignored) built over
            them with ``lr``.
        lr: the learning rate of an optimiser given by name (default: its
            class's, 0.01 for the SGD family; see
            :mod:`chainrule.training.fit_arguments`).
        epochs: total number of epochs; on resume, training continues up
            to this total.
        batch_size: minibatch size m'.
        validation_data: ``(X_val, y_val)`` (or a map-style dataset)
            scored after every epoch.
        validation_split: or a share of (X, y) held out for validation.
        metrics: names ("accuracy", "mse", "mae", "log_likelihood", "loss";
            Keras's "acc", "sparse_categorical_accuracy", ... too)
            or callables ``(output, target) -> float``; for a multi-task
            model ``{task: [metric, ...]}``, logged as ``<task>_<metric>``.
        callbacks: :class:`Callback` instances (EarlyStopping, ...).
        scheduler: a ``chainrule.optim.lr_scheduler`` scheduler, stepped
            after every optimiser step (``scheduler_interval="step"``, the
            default; the book's linear decay counts iterations) or after
            every epoch (``scheduler_interval="epoch"``).
        regularizers: callables ``model -> scalar Tensor`` added to the
            loss (e.g. ``regularization.L2Penalty(1e-4)``), or gradient-side
            penalties with ``add_gradient(model, batch_rows) -> penalty``
            that add their gradient in place after ``backward`` (e.g.
            ``regularization.MinibatchL2(alpha)``, scikit-learn's L2), or
            batch regularizers with ``batch_penalty(model, xb, yb, loss_fn,
            loss) -> scalar Tensor`` that read the minibatch and its data
            loss (``regularization.AdversarialTraining``,
            ``regularization.TangentProp``).
        constraints: callables ``model -> None`` applied without gradients
            after every step (e.g. ``regularization.MaxNorm(3.0)``).
        transform: ``(xb, yb) -> (xb, yb)`` per training minibatch
            (augmentation); not applied to validation data.
        shuffle: reshuffle the training rows every epoch (on by default,
            as in Keras; the :class:`~chainrule.data.DataLoader` itself
            follows PyTorch: off unless asked).
        drop_last: skip a last minibatch smaller than ``batch_size``.
        sampler: the rows of each epoch, e.g. a
            :class:`~chainrule.data.CurriculumSampler` (easy rows first,
            paced; book §8.7.6); replaces ``shuffle`` (see
            :class:`~chainrule.data.DataLoader`).
        verbose: "auto" (a progress bar only on a terminal), 0, 1 or 2.
        checkpoint: path of a checkpoint written by :class:`ModelCheckpoint`
            (or ``Trainer.save_checkpoint``) to resume from: model,
            optimiser, scheduler, RNG, loader position, history and
            callback states are restored and the run continues exactly.
        generator: a ``numpy.random.Generator`` or an int seed; shuffling,
            dropout and augmentation then draw from it (scoped to this
            call and thread with ``chainrule.random.use_generator``)
            instead of the generator in scope.

    dtypes: the data take the model's dtype
    (:mod:`chainrule.training.dtype_policy`).  A float64 model (e.g.
    ``model.double()``) trains on float64 data; float64 NumPy data given
    to a float32 model are converted to float32 with a
    ``DtypeConversionWarning`` (shown once per call site).

    Returns:
        The :class:`History` of per-epoch logs.

    Raises:
        NonFiniteLossError: the loss became NaN/inf (names epoch and step).
        ValueError / TypeError: bad data, with the row or label at fault.

    Example:
        >>> opt = cr.optim.Adam(model.parameters(), lr=1e-3)
        >>> hist = fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=20,
        ...            validation_split=0.1, metrics=["accuracy"],
        ...            callbacks=[EarlyStopping(patience=3)])
        >>> fit(model, X, y, loss="sparse_categorical_crossentropy", optimizer="adam",
        ...     lr=1e-3, metrics=["accuracy"])
    """
    X, y, loss, optimizer, metrics, validation_data = fit_arguments(
        model, X, y, loss=loss, optimizer=optimizer, lr=lr, metrics=metrics,
        validation_data=validation_data)
    trainer = Trainer(
        model,
        loss=loss,
        optimizer=optimizer,
        metrics=metrics,
        callbacks=callbacks,
        scheduler=scheduler,
        scheduler_interval=scheduler_interval,
        regularizers=regularizers,
        constraints=constraints,
        verbose=verbose,
        generator=generator,
        loss_weights=loss_weights,
    )
    return trainer.fit(
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        validation_split=validation_split,
        transform=transform,
        shuffle=shuffle,
        checkpoint=checkpoint,
        drop_last=drop_last,
        unlabeled=unlabeled,
        sampler=sampler,
    )
