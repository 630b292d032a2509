"""What MLPClassifier and MLPRegressor share: the network, the optimiser, the epoch loop.

The network is a ``chainrule.nn.Sequential`` of ``Linear`` layers (weights
of shape (in, out), as scikit-learn's ``coefs_``), each hidden one followed
by optional batch normalisation, the activation and optional dropout (book
§6.1, §7.12, §8.7.1).  Gradients come from chainrule's autodiff, updates
from ``chainrule.optim``; minibatches are drawn as ``chainrule.data.DataLoader``
draws them (one permutation per epoch from ``chainrule.random``, cut into
consecutive slices).

Why a loop of its own rather than ``chainrule.training.fit``: scikit-learn's
semantics are per epoch and per minibatch in ways ``fit`` does not model —
the L2 penalty is divided by the size of each minibatch, ``partial_fit``
runs exactly one epoch with the optimiser state kept, the stopping rule is
sklearn's ``tol``/``n_iter_no_change`` test on the training loss or on the
validation *score*, and the SGD learning rate may be divided by 5 instead
of stopping (``learning_rate="adaptive"``).  The loop is the few lines of
:meth:`BaseMLP._run_epoch`; everything else is shared pieces.

Randomness: each estimator owns a generator state seeded from
``random_state`` when a fresh fit starts.  While it trains, that state is
swapped into ``chainrule.random`` (initialisation, dropout masks and
shuffling all draw from it) and swapped out again afterwards, so fitting an
estimator neither depends on nor disturbs the global ``cr.manual_seed``
state, and ``partial_fit`` continues the estimator's own random stream.
"""

from __future__ import annotations

import itertools
import math
import warnings
from contextlib import contextmanager
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from chainrule import nn, optim
from chainrule import random as cr_random
from chainrule.autograd.engine import Tensor, no_grad

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

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
    "abs": nn.Abs,
}

SOLVERS = ("adam", "sgd", "rmsprop", "rmsprop_nesterov", "adagrad")

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
    "n_iter_no_change": Interval(1, None, integer=True),
    "dropout": Interval(0, 1, closed="left"),
    "dropout_mode": Options("inverted", "weight_scaling"),
    "batch_norm": Boolean(),
}


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
    def _build_model(self, n_in: int, n_out: int) -> nn.Sequential:
        sizes = self._layer_sizes(n_in, n_out)[:-1]
        layers = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            layers.append(nn.Linear(fan_in, fan_out))
            if self.batch_norm:
                layers.append(nn.BatchNorm1d(fan_out))
            layers.append(ACTIVATIONS[self.activation]())
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout, mode=self.dropout_mode))
        layers.append(nn.Linear(sizes[-1], n_out))
        return nn.Sequential(*layers)

    def _make_optimizer(self) -> optim.Optimizer:
        params = list(self._model.parameters())
        lr = float(self.learning_rate_init)
        solver = self.solver
        if solver == "sgd":
            nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
            return optim.SGD(params, lr=lr, momentum=float(self.momentum), nesterov=nesterov)
        if solver == "adam":
            return optim.Adam(params, lr=lr, betas=(self.beta_1, self.beta_2),
                              eps=float(self.epsilon))
        if solver == "rmsprop":
            return optim.RMSprop(params, lr=lr, alpha=float(self.beta_2),
                                 eps=float(self.epsilon))
        if solver == "rmsprop_nesterov":
            return optim.RMSprop(params, lr=lr, alpha=float(self.beta_2),
                                 eps=float(self.epsilon), momentum=float(self.momentum),
                                 nesterov=True)
        return optim.Adagrad(params, lr=lr, eps=float(self.epsilon))

    def _linears(self) -> list:
        return [m for m in self._model if isinstance(m, nn.Linear)]

    @property
    def coefs_(self) -> list:
        """Weight matrices, layer by layer, shape (fan_in, fan_out) (live arrays)."""
        return [layer.weight.data for layer in self._linears()]

    @property
    def intercepts_(self) -> list:
        """Bias vectors, layer by layer, shape (fan_out,) (live arrays)."""
        return [layer.bias.data for layer in self._linears()]

    # --- randomness ---------------------------------------------------------------
    @contextmanager
    def _own_random_state(self):
        """Swap this estimator's generator state into ``chainrule.random``."""
        saved = cr_random.get_rng_state()
        cr_random.set_rng_state(self._rng_state)
        try:
            yield
        finally:
            self._rng_state = cr_random.get_rng_state()
            cr_random.set_rng_state(saved)

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
            self._rng_state = np.random.PCG64(seed).state
        sizes = self._layer_sizes(X.shape[1], self._n_model_outputs())
        rows = min(X.shape[0], 200 if self.batch_size == "auto" else self.batch_size)
        with self._own_random_state(), blas_scope(rows, sizes):
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
        self._no_improvement_count = 0
        self._best_state = None
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _train(self, X, T, incremental: bool) -> None:
        early = self.early_stopping
        X_val = T_val = None
        if early:
            X, T, X_val, T_val = self._split_validation(X, T)
        n = X.shape[0]
        batch_size = self._batch_size(n)
        if self.batch_norm and n < 2:
            raise ValueError(
                f"{type(self).__name__}: batch_norm=True needs minibatches of at least 2 "
                f"rows to estimate a variance. Received: n_samples={n}"
            )
        # batch norm cannot use a trailing minibatch of one row: skip it (the
        # row left out changes from epoch to epoch when shuffling)
        drop_last = bool(self.batch_norm) and n % batch_size == 1
        self._weights = [layer.weight for layer in self._linears()]
        self._model.train()
        self.n_iter_ = 0
        for _ in range(1 if incremental else self.max_iter):
            loss = self._run_epoch(X, T, batch_size, drop_last)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = loss
            self.loss_curve_.append(loss)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
            if early:
                if self._record_validation(X_val, T_val):
                    self._best_state = self._model.state_dict()
            else:
                self._record_loss(loss)
            self._schedule_learning_rate()
            if self._no_improvement_count > self.n_iter_no_change:
                if self._stop_or_slow_down(early):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                    "and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                )
        if early and self._best_state is not None:
            # in place, so the optimiser's flat buffers stay shared
            self._model.load_state_dict(self._best_state)
        self._optimizer.zero_grad()

    def _run_epoch(self, X, T, batch_size: int, drop_last: bool) -> float:
        """One pass over the data; returns the mean minibatch objective.

        The rows are permuted once (when shuffling, with the draw
        ``DataLoader`` makes) and the minibatches are consecutive slices of
        the permuted copy, i.e. views: the same batches as the loader's,
        without a gather per minibatch.

        For a minibatch of m' rows the objective is the mean loss plus
        sklearn's L2 penalty α/(2m')·Σ‖W‖² over the weight matrices (not
        the biases); its gradient (α/m')W is added to the weight gradients
        after backward rather than differentiated through the graph.
        """
        n = X.shape[0]
        if self.shuffle:
            order = cr_random.generator().permutation(n)
            X, T = X[order], T[order]
        stop = n - n % batch_size if drop_last else n
        model, opt, weights = self._model, self._optimizer, self._weights
        alpha = float(self.alpha)
        total = 0.0
        for step, start in enumerate(range(0, stop, batch_size), 1):
            end = min(start + batch_size, stop)
            m = end - start
            opt.zero_grad()
            loss = self._batch_loss(model(Tensor(X[start:end])), T[start:end])
            value = float(loss.data)
            if not math.isfinite(value):
                self._diverged(value, step)
            loss.backward()
            if alpha:
                scale = alpha / m
                squares = 0.0
                for w in weights:
                    flat = w.data.reshape(-1)
                    squares += float(np.dot(flat, flat))
                    w.grad += scale * w.data
                value += 0.5 * scale * squares
            opt.step()
            total += value * m
        return total / stop

    def _diverged(self, value: float, step: int) -> None:
        raise FloatingPointError(
            f"{type(self).__name__}: the training loss became {value} in epoch "
            f"{self.n_iter_ + 1}, minibatch {step}; training diverged and stopped before "
            "updating the weights with it. Lower learning_rate_init (now "
            f"{self.learning_rate_init}) or scale the inputs."
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

    def _record_loss(self, loss: float) -> None:
        """sklearn's stopping rule on the training loss."""
        if loss > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, loss)

    def _record_validation(self, X_val, T_val) -> bool:
        """sklearn's stopping rule on the validation score; True on a new best."""
        score = self._validation_score(X_val, T_val)
        self._model.train()
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _schedule_learning_rate(self) -> None:
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
            for group in self._optimizer.param_groups:
                group["lr"] = lr

    def _stop_or_slow_down(self, early: bool) -> bool:
        what = "Validation score" if early else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        groups = self._optimizer.param_groups
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if groups[0]["lr"] <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        for group in groups:
            group["lr"] /= 5.0
        if self.verbose:
            print(msg + f" Setting learning rate to {groups[0]['lr']:f}")
        return False

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
        state.pop("_weights", None)
        return state

    def __setstate__(self, state):
        opt_state = state.pop("_optimizer_state", None)
        super().__setstate__(state)
        if "_model" in state:
            self._optimizer = None
            if opt_state is not None:
                self._optimizer = self._make_optimizer()
                self._optimizer.load_state_dict(opt_state)
