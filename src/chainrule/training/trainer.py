"""The training loop: minibatch SGD with callbacks (book §5.9, §8.1.3).

One run::

    check the data once; hold out a validation split; start the replicas
    for each epoch:
        for each minibatch (xb, yb) drawn by the DataLoader (this rank's shard of it):
            J = loss(model(xb), yb) + Σ regularizer(model)   # book eq. 7.1
                + Σ b.batch_penalty(model, xb, yb, loss, J₀)  # J₀ the data term; e.g. §7.13, §7.14
            stop if J is not finite                           # the divergence check
            optimizer.zero_grad(); J.backward()
            for r in gradient regularizers: r.add_gradient(model, m')   # e.g. MinibatchL2
            average the gradients over the ranks              # data-parallel only
            optimizer.step()          # optimizer.step(closure) when it re-evaluates J
            for c in constraints: c(model)                    # e.g. max-norm, §7.2
            scheduler.step()                                  # if scheduler_interval="step"
        score the validation set in eval mode; scheduler.step() if "epoch"
        the epoch's logs go to the History and the callbacks

Conventions (decided once):

* ``loss`` and ``val_loss`` are the data term only (the mean NLL), so the
  two curves are comparable; with regularizers the mean penalty is logged
  as ``penalty`` and their sum as ``objective``.  Training metrics are
  running averages over the epoch of outputs in training mode (dropout
  on), as in Keras (:mod:`~chainrule.training.running`).
* A NaN or infinite objective stops training with :class:`NonFiniteLossError`
  before the step that would use it; a step that leaves non-finite
  parameters stops it too, and a training loss that ends far above its
  start warns (:mod:`~chainrule.training.divergence`).
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
  library is refused with a message naming both.  One scalar comes to the
  host per step: the divergence check needs it before the step.
* Multi-task (§7.7) and semi-supervised (§7.6) training are this loop with
  a dict of targets and a :class:`~chainrule.training.MultiTaskLoss`, which
  checks the data and reports its per-task terms (logged as ``<task>_loss``);
  see :mod:`chainrule.training.multitask`.
* Data-parallel training (:mod:`chainrule.distributed`) is one object with
  a few hooks, chosen once per run (:func:`~chainrule.distributed._replicas.data_parallel`).
* X is checked and made float32 once; a ``transform`` may return float64
  minibatches (and targets of any form its loss reads), which then train a
  float64 model in float64 (the scikit-learn estimators gather float64 or
  sparse rows, and sample weights, this way).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Iterable
from contextlib import nullcontext

import numpy as np

from .. import random as _random
from ..autograd.engine import Tensor, no_grad
from ..data.loader import DataLoader, TensorDataset, train_val_split
from ..data.validation import check_count
from . import checkpoint as ckpt
from ._placement import model_place, on_model
from .callbacks import Callback, ModelCheckpoint
from .divergence import DivergenceCheck, EpochStart, NonFiniteLossError, all_finite
from .evaluation import evaluate, predict
from .fit_arguments import fit_arguments
from .history import History
from .losses import get_loss
from .metrics import get_metric
from .multitask import MultiTaskLoss, check_training_data, task_metrics, with_unlabeled
from .progress import ProgressBar
from .resume import restore_training, training_state
from .running import RunningLogs

__all__ = ["NonFiniteLossError", "Trainer", "evaluate", "fit", "predict"]


def _reads_batches(cb) -> bool:
    """Whether a callback does anything in ``on_batch_end`` (overridden or set on it)."""
    return "on_batch_end" in vars(cb) or type(cb).on_batch_end is not Callback.on_batch_end


def _input(xb, xp=np) -> Tensor:
    """A minibatch as a Tensor: float64 minibatches (from a ``transform``) stay float64."""
    f64 = getattr(xb, "dtype", None) == (np.float64 if xp is np else xp.float64)
    return Tensor(xb, dtype=np.float64 if f64 else None)


def _split_regularizers(regularizers: Iterable) -> tuple[list, list, list]:
    """(graph, gradient-side, batch) regularizers, told apart by what they offer."""
    graph, gradient, batch = [], [], []
    for reg in regularizers:
        if hasattr(reg, "add_gradient"):
            gradient.append(reg)
        elif hasattr(reg, "batch_penalty"):
            batch.append(reg)
        elif callable(reg):
            graph.append(reg)
        else:
            raise TypeError(
                "Expected regularizers: callables model -> scalar Tensor, or objects "
                "with add_gradient(model, batch_rows) or batch_penalty(model, xb, yb, "
                f"loss_fn, loss). Received: {type(reg).__name__}"
            )
    return graph, gradient, batch


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
    * ``callbacks``: epoch/batch hooks (``EarlyStopping``, ``ModelCheckpoint``,
      ...), in the order given (checkpoints last); a
      :class:`~chainrule.training.divergence.DivergenceCheck` is added
      unless one is given;
    * ``scheduler``: a learning-rate schedule per step or per epoch;
    * ``generator``: the run's own random generator (or seed);
    * ``distributed``: data-parallel over MPI (:mod:`chainrule.distributed`):
      None (the default) turns it on when the process was started by an MPI
      launcher with several ranks.  Then ``batch_size`` is the *global*
      minibatch, each rank steps on its shard, gradients are averaged with
      one all-reduce before each step, epoch logs and validation scores are
      reduced over the ranks, and only rank 0 prints and writes checkpoints.

    An optimiser that re-evaluates the loss (``needs_closure = True``:
    L-BFGS, BFGS, CG, Newton) is stepped with a closure that computes the
    same objective; its first evaluation is logged.

    Calling :meth:`fit` again continues with the same model and optimiser
    (its state kept): one epoch at a time is ``fit(X, y, epochs=1)``.

    Attributes (read by callbacks): ``model``, ``optimizer``,
    ``scheduler``, ``history``, ``epoch`` (epochs completed, or the
    current 0-based epoch while it runs), ``global_step`` (optimiser steps
    taken), ``epochs`` (target), ``loader``, ``running`` (the epoch's
    running sums), ``stop_training``, ``is_main_process`` (False on MPI
    ranks other than 0: they write nothing).
    """

    def __init__(self, model, *, loss, optimizer, metrics: Iterable = (),
                 callbacks: Iterable = (), scheduler=None, scheduler_interval: str = "step",
                 regularizers: Iterable = (), constraints: Iterable = (), verbose="auto",
                 generator=None, distributed: bool | None = None,
                 loss_weights: dict | None = None):
        if scheduler_interval not in ("step", "epoch"):
            raise ValueError(
                f"Expected scheduler_interval 'step' or 'epoch'. Received: {scheduler_interval!r}"
            )
        if distributed not in (None, True, False):
            raise ValueError(f"Expected distributed None, True or False. Received: {distributed!r}")
        if isinstance(loss, dict):
            loss = MultiTaskLoss(loss, loss_weights)
        elif loss_weights is not None:
            raise ValueError(
                f"Expected loss_weights only with a dict of per-task losses. Received: loss={loss!r}"
            )
        self.model, self.optimizer = model, optimizer
        self.loss_fn, self.loss_name = get_loss(loss)
        self.scheduler, self.scheduler_interval = scheduler, scheduler_interval
        self.metric_specs = task_metrics(metrics)
        for spec in self.metric_specs:
            get_metric(spec)  # validate names early
        self.regularizers, self.gradient_regularizers, self.batch_regularizers = (
            _split_regularizers(regularizers))
        self.constraints = list(constraints)
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Expected Callback instances. Received: {type(cb).__name__}")
        if not any(isinstance(cb, DivergenceCheck) for cb in callbacks):
            callbacks.append(DivergenceCheck())
        # checkpoints last, so they capture the other callbacks' epoch-end state
        self.callbacks = sorted(callbacks, key=lambda c: isinstance(c, ModelCheckpoint))
        self.verbose = verbose
        if generator is not None and not isinstance(generator, np.random.Generator):
            generator = _random.new_generator(generator)
        self.generator = generator
        self.distributed = distributed
        self.is_main_process = True
        self.history = History()
        self.epoch = self.global_step = self.epochs = 0
        self.loader: DataLoader | None = None
        self.stop_training = False
        self.running = RunningLogs([], self.loss_fn, self._penalised)
        self._xp, self._device = np, "cpu"  # where the model computes, read per fit

    @property
    def _penalised(self) -> bool:
        return bool(self.regularizers or self.gradient_regularizers or self.batch_regularizers)

    # --- the loop ---------------------------------------------------------------
    def fit(self, X, y=None, *, epochs: int = 1, batch_size: int = 32, validation_data=None,
            validation_split: float = 0.0, transform: Callable | None = None,
            shuffle: bool = True, checkpoint=None, drop_last: bool = False, unlabeled=None,
            sampler=None) -> History:
        """Train; see :func:`fit` for the arguments."""
        from ..distributed._replicas import data_parallel

        self.epochs = check_count(epochs, "epochs", 0, "epochs")
        with self._rng_scope():
            self._xp, self._device = model_place(self.model)
            X, y, validation_data = self._data(X, y, validation_data, validation_split,
                                               transform, unlabeled)
            # each call is a new run; ``checkpoint`` continues a saved one
            self.epoch = self.global_step = 0
            self.stop_training = False
            self.history = History()
            self.loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                                     drop_last=drop_last, transform=transform, sampler=sampler)
            metrics = [m for m in map(get_metric, self.metric_specs) if m]
            self.running = RunningLogs(metrics, self.loss_fn, self._penalised)
            self._closure = bool(getattr(self.optimizer, "needs_closure", False))
            self._parallel = data_parallel(self.distributed, self.optimizer)
            self.is_main_process = self._parallel.is_main
            if checkpoint is not None:
                self.load_checkpoint(checkpoint)
            self._parallel.start(self.model, len(self.loader.dataset))
            for cb in self.callbacks:
                cb.set_trainer(self)
            bar = ProgressBar(self.verbose if self.is_main_process else 0, self.epochs)
            self._call("on_train_begin", {})
            try:
                while self.epoch < self.epochs and not self.stop_training:
                    self._run_epoch(bar, validation_data)
            finally:
                bar.close()
            self._call("on_train_end", self.history.last())
            self.model.eval()
            return self.history

    def _data(self, X, y, validation_data, validation_split, transform, unlabeled) -> tuple:
        """The training and validation data, checked once (the split held out first)."""
        raw_y = y
        X, y = check_training_data(self.model, self.loss_fn, self.loss_name, X, y,
                                   transform=transform)
        if validation_data is not None and validation_split:
            raise ValueError("Expected validation_data or validation_split, not both")
        if validation_split:
            X, y, X_val, y_val = train_val_split(X, y, float(validation_split), seed=0)
            validation_data = (X_val, y_val)
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "Expected validation_data=(X_val, y_val). Received: "
                    f"{type(validation_data).__name__}"
                )
            X_val, y_val = validation_data
            validation_data = check_training_data(self.model, self.loss_fn, self.loss_name,
                                                  X_val, y_val, name="X_val")
        # after the split: validation rows keep their labels
        X, y = with_unlabeled(self.loss_fn, self.loss_name, X, y, raw_y, unlabeled)
        return X, y, validation_data

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def _run_epoch(self, bar: ProgressBar, validation_data) -> None:
        epoch, loader = self.epoch, self.loader
        assert loader is not None  # made by fit before the first epoch
        if loader.position == 0:
            self.running.reset()
        self._call("on_epoch_begin", epoch, {})
        self._start = EpochStart(self.model)  # parameters to fall back on (see divergence)
        self.model.train()
        bar.epoch_begin(epoch, len(loader), loader.position)
        # the running logs are built per minibatch only for those who read them
        watchers = [cb for cb in self.callbacks if _reads_batches(cb)]
        for xb, yb in loader:
            self._step(*self._to_model(xb, yb))
            if watchers or bar.active:
                logs = self.running.logs()
                bar.batch_end(logs)
                for cb in watchers:
                    cb.on_batch_end(self.global_step, logs)
            if self.stop_training:  # set by a callback mid-epoch: end the epoch here
                break
        if self.stop_training and loader.position:
            loader.load_state_dict({"order": None, "position": 0})
        self._parallel.reduce_logs(self.running)
        logs = self.running.logs()
        lr = self.optimizer.param_groups[0].get("lr")
        if lr is not None:
            logs["lr"] = float(lr)
        if validation_data is not None:
            size = max(loader.batch_size, 256)
            X_val, y_val = validation_data
            val = self._parallel.evaluate(self.evaluate, X_val, y_val, batch_size=size)
            logs.update({f"val_{k}": v for k, v in val.items()})
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            self.scheduler.step()
        self.history.append(epoch, logs)
        self.epoch = epoch + 1
        self.running.reset()
        self._call("on_epoch_end", epoch, logs)
        bar.epoch_end(epoch, logs)

    def _to_model(self, xb, yb) -> tuple:
        """A host minibatch moved to the model's device (device minibatches stay)."""
        xp, device = self._xp, self._device
        if xp is np:
            return xb, yb
        if isinstance(yb, dict):  # one target array per task
            yb = {k: on_model(v, xp, device, f"y[{k!r}]") for k, v in yb.items()}
        else:
            yb = on_model(yb, xp, device, "y")
        return on_model(xb, xp, device, "X"), yb

    # --- one step ---------------------------------------------------------------
    def _step(self, xb, yb) -> None:
        """One optimiser step on a minibatch (data-parallel: on this rank's shard of it)."""
        if self._closure:  # the optimiser re-evaluates the objective; its first call is logged
            n = n_all = xb.shape[0]
            calls: list = []

            def closure():
                calls.append(self._objective(xb, yb, n_all, check=not calls))
                return calls[-1][-1]

            self._start.check_parameters(self, self.optimizer.step(closure))
            out, loss_value, penalty, _ = calls[0]
        else:
            xb, yb, n_all = self._parallel.rows(xb, yb)
            n = xb.shape[0]
            if n:
                out, loss_value, penalty, _ = self._objective(xb, yb, n_all, check=True)
            else:  # fewer rows than ranks: join the average with no gradient
                self.optimizer.zero_grad()
            self._parallel.average_gradients(n, n_all)
            self.optimizer.step()
        if self.constraints:
            with no_grad():
                for c in self.constraints:
                    c(self.model)
        self.global_step += 1
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()
        if n:
            self.running.add(n, loss_value, penalty, out, yb)

    def _objective(self, xb, yb, n_all: int, check: bool) -> tuple:
        """Forward, the divergence check, backward: ``(output, loss value, penalty, J)``.

        Model-only regularizers enter first (an ``ActivityRegularizer`` reads
        the output of the forward pass just made), then the batch ones, which
        may run the model again; gradient-side penalties add their gradient
        after backward, scaled by the global minibatch (alpha / m').
        """
        xt = _input(xb, self._xp)
        out = self.model(xt)
        loss = self.loss_fn(out, yb)
        total, penalty = loss, 0.0
        for reg in self.regularizers:
            term = reg(self.model)
            penalty += float(term.data)
            total = total + term
        for reg in self.batch_regularizers:
            term = reg.batch_penalty(self.model, xt, yb, self.loss_fn, loss)
            penalty += float(term.data)
            total = total + term
        loss_value = None
        if check:
            value = float(total.data)
            if not math.isfinite(value):
                self._start.stop(self, value)
            # without graph penalties the checked value is the loss itself: no second sync
            loss_value = value if total is loss else float(loss.data)
        self.optimizer.zero_grad()
        total.backward()
        for reg in self.gradient_regularizers:
            penalty += reg.add_gradient(self.model, n_all)
        return out, loss_value, penalty, (total + penalty if penalty else total)

    # --- scoring and checkpoints ------------------------------------------------
    def evaluate(self, X, y, batch_size: int = 256) -> dict:
        """Mean loss and metrics over (X, y), in eval mode without gradients."""
        return evaluate(self.model, X, y, loss=self.loss_fn, metrics=self.metric_specs,
                        batch_size=batch_size, _checked=True)

    def state_dict(self) -> dict:
        """Everything needed to continue this run bit for bit (see :mod:`.resume`)."""
        return training_state(self)

    def save_checkpoint(self, path) -> bool:
        """Write :meth:`state_dict` atomically to ``path`` (safe npz format); True if written.

        Only rank 0 writes (the replicas are equal), and never non-finite
        weights: the last good file is kept and a warning says so.
        """
        if not self.is_main_process:
            return False
        if not all_finite(self.model.state_dict()):
            warnings.warn(
                f"Not saving the checkpoint {str(path)!r}: the model's parameters are not "
                "finite (the last checkpoint written is kept)", RuntimeWarning, stacklevel=2)
            return False
        ckpt.save_checkpoint(path, self.state_dict())
        return True

    def load_checkpoint(self, path) -> None:
        """Restore a run saved by :meth:`save_checkpoint` (call before the loop)."""
        restore_training(self, path)

    def _rng_scope(self):
        """The Trainer's own generator in scope (when it has one): checkpoints save and
        restore that generator, also when called outside :meth:`fit`."""
        return nullcontext() if self.generator is None else _random.use_generator(self.generator)

    def _rng_state(self) -> dict:
        with self._rng_scope():
            return _random.get_rng_state()


#: the keywords of ``fit`` that set up the :class:`Trainer` (the rest go to :meth:`Trainer.fit`)
_SETUP = frozenset(inspect.signature(Trainer).parameters) - {"model"}


def fit(model, X, y=None, *, loss, optimizer, lr: float | None = None, metrics=(),
        validation_data=None, **options) -> History:
    """Train ``model`` by minibatch gradient descent and return its :class:`History`.

    ``fit(model, X, y, **options)`` is ``Trainer(model, **setup).fit(X, y, **run)``
    with each keyword sent to the one that takes it; an unknown keyword is
    refused by :meth:`Trainer.fit` with its name.

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
        distributed: data-parallel over MPI: None (detect an MPI launcher),
            True or False (see :class:`Trainer`).

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

    Warns:
        DivergenceWarning: the last epoch's training loss is over 10 times
            the first minibatch's (see :mod:`chainrule.training.divergence`).

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
    options.update(loss=loss, optimizer=optimizer, metrics=metrics,
                   validation_data=validation_data)
    setup = {k: options.pop(k) for k in _SETUP & options.keys()}
    return Trainer(model, **setup).fit(X, y, **options)
