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
* the data reach the Trainer in one of two ways: dense float32 rows
  without sample weights go in as they are (the fast path); otherwise the
  Trainer's loader shuffles and batches *row numbers* and a per-minibatch
  ``transform`` gathers the rows: float64 rows stay float64 (a float64
  network, as scikit-learn keeps the input's dtype), sparse rows are
  densified one minibatch at a time, and sample weights travel with the
  targets;
* divergence is the Trainer's non-finite loss check: with
  ``early_stopping`` the run stops, warns and keeps the best weights (the
  diverged epoch's validation score is NaN); without it ``fit`` raises
  ValueError, as scikit-learn does.

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

import numbers
import warnings
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight

from chainrule import random as cr_random
from chainrule.autograd.engine import Tensor, no_grad
from chainrule.nn import Linear
from chainrule.training import (
    Callback,
    EpochScore,
    InverseScalingLR,
    NonFiniteLossError,
    ToleranceStopping,
    Trainer,
    recipes,
)

from ._compat import validate_data
from ._lbfgs import make_lbfgs, train_lbfgs
from ._params import (
    AnyOf,
    Boolean,
    HiddenSizes,
    Infinity,
    Interval,
    Options,
    RandomState,
    check_params,
    hidden_sizes,
)
from ._rows import RowOrder, WeightedL2, glorot_weights, split_validation
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
    "n_iter_no_change": AnyOf(Interval(1, None, integer=True), Infinity()),
    "max_fun": Interval(1, None, integer=True),
    "dropout": Interval(0, 1, closed="left"),
    "dropout_mode": Options("inverted", "weight_scaling"),
    "batch_norm": Boolean(),
}


class DivergedError(ValueError, FloatingPointError):
    """The training loss became NaN or infinite (scikit-learn raises ValueError here)."""


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
    _optimizer: Any  # built in fit (None until then, or to be rebuilt)
    _l2: Any  # the L2 term of a running fit (None outside one)
    loss_curve_: list
    validation_scores_: Any  # a list with early stopping, else None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR/CSC rows, densified one minibatch at a time
        return tags

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
            return make_lbfgs(self)
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

    # --- coefs_ / intercepts_: plain attributes the user may overwrite --------------
    def _publish_params(self) -> None:
        """Point ``coefs_``/``intercepts_`` at the network's live weight arrays."""
        layers = self._linears()
        self.coefs_ = [layer.weight.data for layer in layers]
        self.intercepts_ = [layer.bias.data for layer in layers]

    def _sync_params(self) -> None:
        """Copy weights the user assigned to ``coefs_``/``intercepts_`` into the network.

        scikit-learn's weights are plain lists of arrays; a user may replace
        them (to warm-start from given weights).  Any entry that is no longer
        the network's own array is copied into it (in place: the parameter
        and its optimiser state stay the same objects), then the attributes
        point at the network's arrays again.
        """
        name = type(self).__name__
        layers = self._linears()
        for attr, kind in (("coefs_", "weight"), ("intercepts_", "bias")):
            given = getattr(self, attr, None)
            if given is None:
                continue
            if len(given) != len(layers):
                raise ValueError(
                    f"{name}: expected {attr} to hold {len(layers)} arrays, one per layer. "
                    f"Received: {len(given)}"
                )
            for layer, value in zip(layers, given):
                live = getattr(layer, kind).data
                if value is live:
                    continue
                value = np.asarray(value)
                if value.shape != live.shape:
                    raise ValueError(
                        f"{name}: expected {attr} entries of shapes "
                        f"{[getattr(la, kind).data.shape for la in layers]}. "
                        f"Received: shape {value.shape} for a {live.shape} layer"
                    )
                if np.array_equal(value, live):
                    continue  # e.g. the same weights, copied apart
                if live.flags.writeable:
                    live[...] = value
                else:  # read-only (a memory-mapped load): a fresh array and optimiser
                    getattr(layer, kind).data = value.astype(live.dtype)
                    self._optimizer = None
        self._publish_params()

    # --- fitting --------------------------------------------------------------------
    def _fit(self, X, y, incremental: bool, classes=None, sample_weight=None):
        self._check_params()
        if self.early_stopping and incremental:
            raise ValueError(
                "partial_fit does not support early_stopping=True "
                f"({type(self).__name__}: partial_fit runs one epoch and cannot stop early)"
            )
        fresh = not hasattr(self, "_model") or (not incremental and not self.warm_start)
        X, T = self._prepare_targets(X, y, fresh, incremental, classes)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        sizes = self._layer_sizes(X.shape[1], self._n_model_outputs())
        # as scikit-learn: a RandomState from random_state at every call draws
        # the initial weights, the validation split and the epochs' row order
        state = check_random_state(self.random_state)
        if fresh:
            start = glorot_weights(state, sizes, self.activation)  # scikit-learn's draws, first
            # dropout masks draw from the estimator's own generator
            seed = self.random_state if isinstance(self.random_state, numbers.Integral) \
                else state.randint(np.iinfo(np.int32).max)
            self._rng = cr_random.new_generator(int(seed))
            self._dtype = np.dtype(X.dtype)
        elif X.dtype != self._dtype:
            X = X.astype(self._dtype)
        rows = min(X.shape[0], 200 if self.batch_size == "auto" else self.batch_size)
        with cr_random.use_generator(self._rng), blas_scope(rows, sizes):
            if fresh:
                self._initialize(X.shape[1], self._n_model_outputs(), start)
            else:
                self._sync_params()
            if not incremental or self._optimizer is None:
                self._optimizer = self._make_optimizer()
            self._publish_params()
            try:
                self._train(X, T, sample_weight, incremental, state)
            finally:
                self._publish_params()
        return self

    def _check_X(self, X, reset: bool):
        """X as scikit-learn reads it: float32 stays float32, else float64; CSR kept sparse."""
        X = validate_data(self, X, reset=reset, dtype=(np.float64, np.float32),
                          accept_sparse=["csr", "csc"], order="C")
        return X.tocsr() if sp.issparse(X) else X

    def _layer_sizes(self, n_in: int, n_out: int) -> tuple:
        return (n_in,) + hidden_sizes(self.hidden_layer_sizes) + (n_out,)

    def _initialize(self, n_features: int, n_outputs: int, start: list) -> None:
        self._model = self._build_model(n_features, n_outputs)
        for layer, (W, b) in zip(self._linears(), start, strict=True):
            layer.weight.data = W.astype(self._dtype)  # before any optimiser is built
            layer.bias.data = b.astype(self._dtype)
        if self._dtype != np.float32:  # batch norm's parameters too
            for p in self._model.parameters():
                if p.data.dtype != self._dtype:
                    p.data = p.data.astype(self._dtype)
        self._optimizer = None
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(hidden_sizes(self.hidden_layer_sizes)) + 2
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        early = bool(self.early_stopping)
        patience = self.n_iter_no_change
        self._stopper = ToleranceStopping(
            monitor="val_score" if early else "objective",
            mode="max" if early else "min",
            tol=float(self.tol),
            n_iter_no_change=patience if patience == np.inf else int(patience),
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

    def _train(self, X, T, weights, incremental: bool, state) -> None:
        """One Trainer run: one epoch for ``partial_fit``, else up to ``max_iter``."""
        if self.solver == "lbfgs":
            train_lbfgs(self, X, T, weights, incremental)
            return
        callbacks: list[Callback] = [_Record(self)]
        if self.early_stopping:
            X, T, weights, X_val, T_val, w_val = split_validation(
                type(self).__name__, X, T, weights, self.validation_fraction, state,
                self._stratify(T))
            score = EpochScore(lambda model: self._validation_score(X_val, T_val, w_val))
            callbacks.insert(0, score)
        n = X.shape[0]
        batch_size = self._batch_size(n)
        if self.batch_norm and n < 2:
            raise ValueError(
                f"{type(self).__name__}: batch_norm=True needs minibatches of at least 2 "
                f"rows to estimate a variance. Received: n_samples={n}"
            )
        rows = RowOrder(X, T, weights, state, bool(self.shuffle))
        callbacks.insert(0, rows)
        if self._invscaling is not None:
            callbacks.append(self._invscaling)
        callbacks.append(self._stopper)
        self._l2 = WeightedL2(float(self.alpha))
        trainer = Trainer(
            self._model,
            loss=self._weighted_loss if weights is not None else self._batch_loss,
            optimizer=self._optimizer,
            regularizers=[self._l2],
            callbacks=callbacks,
            verbose=0,
        )
        epochs = 1 if incremental else int(self.max_iter)
        self.n_iter_ = 0
        try:
            trainer.fit(
                rows.placeholder,
                rows.placeholder,  # the real targets come from rows.gather
                epochs=epochs,
                batch_size=batch_size,
                shuffle=False,  # RowOrder shuffles, as scikit-learn
                transform=rows.gather,
                # batch norm cannot use a trailing minibatch of one row: skip it
                drop_last=bool(self.batch_norm) and n % batch_size == 1,
            )
        except NonFiniteLossError as err:
            self._diverged(err)
            return
        finally:
            for cb in callbacks:  # the estimator keeps no reference to the run
                cb.trainer = cb.model = None
            self._optimizer.zero_grad()
            self._l2 = None
        if not incremental and not trainer.stop_training and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    def _diverged(self, err) -> None:
        """The loss became NaN/inf: stop as scikit-learn does (see the module doc)."""
        where = (f"the training loss became {err.value} in epoch {self.n_iter_ + 1}, "
                 f"minibatch {err.batch}")
        if not self.early_stopping:
            raise DivergedError(
                "Solver produced non-finite parameter weights. The input data may contain "
                f"large values and need to be preprocessed. ({type(self).__name__}: {where}; "
                "training stopped before updating the weights with it. Lower "
                f"learning_rate_init (now {self.learning_rate_init}) or scale the inputs.)"
            ) from err
        # the diverged epoch counts, with a NaN validation score, as in scikit-learn
        self.n_iter_ += 1
        self.loss_ = float(err.value)
        self.loss_curve_.append(self.loss_)
        self.validation_scores_.append(float("nan"))
        if self._stopper.best_state is not None:
            self._model.load_state_dict(self._stopper.best_state)
        warnings.warn(
            f"{type(self).__name__}: {where}; training stopped and the weights of the best "
            f"validation score ({self._stopper.best}) were restored. Lower "
            f"learning_rate_init (now {self.learning_rate_init}) or scale the inputs.",
            ConvergenceWarning,
        )

    def _weighted_loss(self, outputs, targets):
        """The loss of a minibatch with sample weights: Σ wᵢ·lossᵢ / Σ wᵢ."""
        T, w = targets
        total = float(w.sum())
        self._l2.rows = total
        return self._batch_loss(outputs, T, w, total)

    def _stratify(self, T):
        return None

    # --- predicting -----------------------------------------------------------------
    def _forward(self, X, fitted_dtype: bool = True) -> np.ndarray:
        """Network outputs (logits / predictions), inference mode.

        They are computed in float64 (float32 weights promoted), so a row's
        output does not depend on which other rows share its batch, and
        returned in the fitted dtype (float64 with ``fitted_dtype=False``);
        sparse X is densified 1024 rows at a time.
        """
        self._sync_params()
        model = self._model
        model.eval()
        sizes = [layer.in_features for layer in self._linears()] + [self.n_outputs_]
        with no_grad(), blas_scope(min(X.shape[0], 1024), sizes):
            if sp.issparse(X):
                parts = [X[i:i + 1024].toarray() for i in range(0, X.shape[0], 1024)]
            else:
                parts = [X]
            outs = [model(Tensor(np.asarray(p, dtype=np.float64), dtype=np.float64)).data
                    for p in parts]
        out = outs[0] if len(outs) == 1 else np.concatenate(outs)
        if not fitted_dtype:
            return out
        return out.astype(self.__dict__.get("_dtype", np.float32), copy=False)
