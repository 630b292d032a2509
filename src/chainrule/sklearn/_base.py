"""What MLPClassifier and MLPRegressor share: parameter translation onto the Trainer.

The estimators have no training loop of their own.  A ``fit`` translates
scikit-learn's parameters into a :class:`chainrule.training.Trainer` run:

* the network and the optimiser come from the shared vocabulary,
  :mod:`chainrule.training.recipes` (a ``Sequential`` of ``Linear`` layers,
  weights of shape (in, out) as scikit-learn's ``coefs_``, each hidden one
  followed by optional batch normalisation, the activation and optional
  dropout; book §6.1, §7.12, §8.7.1);
* the L2 term α/(2m')·Σ‖W‖² of each minibatch of m' rows is the
  gradient-side regulariser :class:`chainrule.regularization.MinibatchL2`;
* scikit-learn's ``tol``/``n_iter_no_change`` stopping on the training
  objective or the validation score, and ``learning_rate="adaptive"``
  (divide by 5 instead of stopping), are a
  :class:`chainrule.training.ToleranceStopping` callback; the validation
  score is an :class:`~chainrule.training.EpochScore` on rows held out with
  ``validation_fraction``; ``learning_rate="invscaling"`` is an
  :class:`~chainrule.training.InverseScalingLR` callback;
* ``partial_fit`` is one Trainer epoch with the optimiser (and its state)
  kept; ``warm_start`` starts from the current weights with a new optimiser;
* divergence is the Trainer's non-finite loss check.

The callbacks are kept on the estimator, so their counters (samples seen,
epochs without improvement, best value) continue across ``partial_fit``
and ``warm_start`` calls, as in scikit-learn.

Randomness: each estimator owns a generator, seeded from ``random_state``
when a fresh fit starts; initialisation, dropout masks, shuffling and the
validation split draw from it inside ``chainrule.random.use_generator``
(scoped to the calling thread).  Nothing global is swapped: fitting neither
depends on nor disturbs ``cr.manual_seed``'s stream, two estimators fit on
two threads as they would in sequence, and ``partial_fit`` continues the
estimator's own stream.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from chainrule import random as cr_random
from chainrule.autograd.engine import Tensor, no_grad
from chainrule.nn import Linear
from chainrule.regularization import MinibatchL2
from chainrule.training import (
    Callback,
    EpochScore,
    InverseScalingLR,
    NonFiniteLossError,
    ToleranceStopping,
    Trainer,
    recipes,
)

from . import _lbfgs
from ._params import (
    AnyOf,
    Boolean,
    HiddenSizes,
    Interval,
    Options,
    RandomState,
    check_params,
    hidden_sizes,
)
from ._threads import blas_scope

#: scikit-learn's activation names (a subset of the shared vocabulary)
ACTIVATIONS = ("relu", "tanh", "logistic", "identity", "leaky_relu", "softplus", "abs")

SOLVERS = ("adam", "sgd", "rmsprop", "rmsprop_nesterov", "adagrad", "lbfgs")

PARAMS = {
    "hidden_layer_sizes": HiddenSizes(),
    "activation": Options(*ACTIVATIONS),
    "solver": Options(*SOLVERS),
    "alpha": Interval(0, None),
    "batch_size": AnyOf(Options("auto"), Interval(1, None, integer=True)),
    "learning_rate": Options("constant", "invscaling", "adaptive"),
    "learning_rate_init": Interval(0, None, closed="neither"),
    "power_t": Interval(0, None),
    "max_iter": Interval(1, None, integer=True),
    "max_fun": Interval(1, None, integer=True),
    "shuffle": Boolean(),
    "random_state": RandomState(),
    "tol": Interval(0, None),
    "verbose": AnyOf(Boolean(), Interval(0, None, integer=True)),
    "warm_start": Boolean(),
    "momentum": Interval(0, 1, closed="left"),
    "nesterovs_momentum": Boolean(),
    "early_stopping": Boolean(),
    "validation_fraction": Interval(0, 1, closed="neither"),
    "beta_1": Interval(0, 1, closed="left"),
    "beta_2": Interval(0, 1, closed="left"),
    "epsilon": Interval(0, None, closed="neither"),
    "n_iter_no_change": Interval(1, None, integer=True),
    "dropout": Interval(0, 1, closed="left"),
    "dropout_mode": Options("inverted", "weight_scaling"),
    "batch_norm": Boolean(),
}


class _Record(Callback):
    """Copies each epoch's objective (and validation score) into the estimator's attributes."""

    def __init__(self, estimator):
        super().__init__()
        self.estimator = estimator

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        est = self.estimator
        loss = float(logs["objective"])
        est.n_iter_ += 1
        est.t_ += len(self.trainer.loader.dataset)
        est.loss_ = loss
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if "val_score" in logs:
            est.validation_scores_.append(float(logs["val_score"]))
            if est.verbose:
                print(f"Validation score: {logs['val_score']:f}")


class BaseMLP(BaseEstimator):
    """Base class of the estimators; not for direct use.

    Subclasses define ``__init__`` (storing the arguments), the target
    handling ``_prepare_targets``, the loss ``_batch_loss`` and the
    validation score ``_validation_score``.
    """

    _extra_params: ClassVar[dict] = {}

    # --- hyperparameters -------------------------------------------------------
    def _check_params(self) -> None:
        check_params(self, {**PARAMS, **self._extra_params})
        if self.solver == "rmsprop_nesterov" and self.momentum == 0:
            raise ValueError(
                f"{type(self).__name__}: expected momentum > 0 with "
                "solver='rmsprop_nesterov'. Received: momentum=0"
            )

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"Got batch_size={self.batch_size} larger than the {n_samples} "
                "training samples; it is clipped to the sample size."
            )
        return int(min(self.batch_size, n_samples))

    # --- the network and the optimiser ------------------------------------------
    def _build_model(self, n_in: int, n_out: int):
        return recipes.build_mlp(
            self._layer_sizes(n_in, n_out),
            self.activation,
            dropout=float(self.dropout),
            dropout_mode=self.dropout_mode,
            batch_norm=bool(self.batch_norm),
        )

    def _make_optimizer(self):
        """scikit-learn's solver names translated to the shared vocabulary."""
        solver = self.solver
        if solver == "lbfgs":  # full-batch, see _lbfgs.py
            return _lbfgs.make_lbfgs(self)
        if solver == "sgd":
            solver = "nesterov" if self.nesterovs_momentum else "momentum"
        return recipes.build_optimizer(
            solver,
            self._model.parameters(),
            lr=float(self.learning_rate_init),
            momentum=float(self.momentum),
            betas=(float(self.beta_1), float(self.beta_2)),
            eps=float(self.epsilon),
            rho=float(self.beta_2),
        )

    def _linears(self) -> list:
        return [m for m in self._model if isinstance(m, Linear)]

    @property
    def coefs_(self) -> list:
        """Weight matrices, layer by layer, shape (fan_in, fan_out) (live arrays)."""
        return [layer.weight.data for layer in self._linears()]

    @property
    def intercepts_(self) -> list:
        """Bias vectors, layer by layer, shape (fan_out,) (live arrays)."""
        return [layer.bias.data for layer in self._linears()]

    # --- fitting --------------------------------------------------------------------
    def _fit(self, X, y, incremental: bool, classes=None):
        self._check_params()
        if self.early_stopping and incremental:
            raise ValueError(
                f"{type(self).__name__}: partial_fit runs one epoch and cannot stop "
                "early. Expected early_stopping=False. Received: early_stopping=True"
            )
        fresh = not hasattr(self, "_model") or (not incremental and not self.warm_start)
        X, T = self._prepare_targets(X, y, fresh, incremental, classes)
        if fresh:
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            self._rng = cr_random.new_generator(int(seed))
        sizes = self._layer_sizes(X.shape[1], self._n_model_outputs())
        rows = min(X.shape[0], 200 if self.batch_size == "auto" else self.batch_size)
        with cr_random.use_generator(self._rng), blas_scope(rows, sizes):
            if fresh:
                self._initialize(X.shape[1], self._n_model_outputs())
            if not incremental or self._optimizer is None:
                self._optimizer = self._make_optimizer()
            self._train(X, T, incremental)
        return self

    def _layer_sizes(self, n_in: int, n_out: int) -> tuple:
        return (n_in,) + hidden_sizes(self.hidden_layer_sizes) + (n_out,)

    def _initialize(self, n_features: int, n_outputs: int) -> None:
        self._model = self._build_model(n_features, n_outputs)
        self._optimizer = None
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(hidden_sizes(self.hidden_layer_sizes)) + 2
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        early = bool(self.early_stopping)
        self._stopper = ToleranceStopping(
            monitor="val_score" if early else "objective",
            mode="max" if early else "min",
            tol=float(self.tol),
            n_iter_no_change=int(self.n_iter_no_change),
            reduce_lr_by=5.0 if self._adaptive() else None,
            min_lr=1e-6,
            restore_best_weights=early,
            verbose=bool(self.verbose),
        )
        self._invscaling = None
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._invscaling = InverseScalingLR(self.learning_rate_init, self.power_t)
        self.validation_scores_ = [] if early else None

    def _adaptive(self) -> bool:
        return self.solver == "sgd" and self.learning_rate == "adaptive"

    @property
    def best_loss_(self):
        """Lowest training objective so far (None with early stopping)."""
        stopper = self.__dict__.get("_stopper")
        if stopper is None or self.early_stopping:
            return None
        return stopper.best

    @property
    def best_validation_score_(self):
        """Best validation score so far (None without early stopping)."""
        stopper = self.__dict__.get("_stopper")
        if stopper is None or not self.early_stopping:
            return None
        return stopper.best

    def _train(self, X, T, incremental: bool) -> None:
        """One Trainer run: one epoch for ``partial_fit``, else up to ``max_iter``."""
        if self.solver == "lbfgs":
            _lbfgs.train_lbfgs(self, X, T, incremental)
            return
        callbacks = [_Record(self)]
        if self.early_stopping:
            X, T, X_val, T_val = self._split_validation(X, T)
            score = EpochScore(lambda model: self._validation_score(X_val, T_val))
            callbacks.insert(0, score)
        n = X.shape[0]
        batch_size = self._batch_size(n)
        if self.batch_norm and n < 2:
            raise ValueError(
                f"{type(self).__name__}: batch_norm=True needs minibatches of at least 2 "
                f"rows to estimate a variance. Received: n_samples={n}"
            )
        if self._invscaling is not None:
            callbacks.append(self._invscaling)
        callbacks.append(self._stopper)
        trainer = Trainer(
            self._model,
            loss=self._batch_loss,
            optimizer=self._optimizer,
            regularizers=[MinibatchL2(float(self.alpha))],
            callbacks=callbacks,
            verbose=0,
        )
        epochs = 1 if incremental else int(self.max_iter)
        self.n_iter_ = 0
        try:
            trainer.fit(
                X,
                T,
                epochs=epochs,
                batch_size=batch_size,
                shuffle=bool(self.shuffle),
                # batch norm cannot use a trailing minibatch of one row: skip it
                drop_last=bool(self.batch_norm) and n % batch_size == 1,
            )
        except NonFiniteLossError as err:
            raise FloatingPointError(
                f"{type(self).__name__}: the training loss became {err.value} in epoch "
                f"{self.n_iter_ + 1}, minibatch {err.batch}; training diverged and stopped "
                "before updating the weights with it. Lower learning_rate_init (now "
                f"{self.learning_rate_init}) or scale the inputs."
            ) from err
        finally:
            for cb in callbacks:  # the estimator keeps no reference to the run
                cb.trainer = cb.model = None
            self._optimizer.zero_grad()
        if not incremental and not trainer.stop_training and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    def _split_validation(self, X, T):
        """Hold out ``validation_fraction`` of the rows (stratified for classes)."""
        seed = int(cr_random.generator().integers(np.iinfo(np.int32).max))
        X_train, X_val, T_train, T_val = train_test_split(
            X, T, test_size=self.validation_fraction, random_state=seed,
            stratify=self._stratify(T),
        )
        if X_val.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__}: expected a validation set of at least 2 rows "
                f"with early_stopping=True. Received: {X_val.shape[0]} row(s) from "
                f"{X.shape[0]} samples and validation_fraction={self.validation_fraction}"
                "; increase validation_fraction or the data."
            )
        return X_train, T_train, X_val, T_val

    def _stratify(self, T):
        return None

    # --- predicting -----------------------------------------------------------------
    def _forward(self, X: np.ndarray) -> np.ndarray:
        """Network outputs (logits / predictions) in float64, inference mode.

        The float32 weights are promoted to float64 here, so a row's output
        does not depend on which other rows share its batch.
        """
        model = self._model
        model.eval()
        sizes = [layer.in_features for layer in self._linears()] + [self.n_outputs_]
        with no_grad(), blas_scope(X.shape[0], sizes):
            out = model(Tensor(np.asarray(X, dtype=np.float64), dtype=np.float64))
        return out.data

    # --- pickling -------------------------------------------------------------------
    def __getstate__(self):
        # The optimiser keeps parameters as views into one flat buffer; a
        # pickle would copy the views apart.  Save its state_dict instead
        # and rebuild it on load.
        state = dict(super().__getstate__())  # a copy: never edit the live __dict__
        opt = state.pop("_optimizer", None)
        if opt is not None:
            state["_optimizer_state"] = opt.state_dict()
        return state

    def __setstate__(self, state):
        opt_state = state.pop("_optimizer_state", None)
        super().__setstate__(state)
        if "_model" in state:
            self._optimizer = None
            if opt_state is not None:
                self._optimizer = self._make_optimizer()
                self._optimizer.load_state_dict(opt_state)
