"""MLPRegressor: a scikit-learn drop-in multilayer perceptron regressor."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d

from chainrule.autograd import ops

from ._base import BaseMLP
from ._compat import validate_data
from ._lbfgs import stochastic_solver
from ._params import Options


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multilayer perceptron regressor trained by minibatch back-propagation.

    A drop-in for ``sklearn.neural_network.MLPRegressor`` computed by
    chainrule.  Linear output units, the mean of a Gaussian (book §6.2.2.1);
    the loss of a minibatch of m' rows is the book's squared error
    ½‖y − f(x)‖² averaged over the rows, plus the L2 penalty α/(2m')·Σ‖W‖²
    on the weight matrices — scikit-learn's objective and gradient.  (For
    several outputs sklearn *reports* the loss averaged over outputs too,
    while its gradient is that of the sum; here loss and gradient agree.)

    With ``loss="poisson"`` the output unit is exp (a log link, for counts
    and rates y ≥ 0) and the loss is half the Poisson deviance,
    Σ_outputs [y log(y/ŷ) − y + ŷ] averaged over the rows, as scikit-learn's.

    Args: as :class:`chainrule.sklearn.MLPClassifier` (without
        ``label_smoothing``), plus ``loss``: ``"squared_error"`` or
        ``"poisson"``.  With ``early_stopping`` the validation score is R²
        (sklearn's ``score``).

    Attributes: as the classifier's, without ``classes_``;
        ``out_activation_`` is ``"identity"`` (``"exp"`` for Poisson).  ``predict`` returns
        (n_samples,) when y had one column, else (n_samples, n_outputs).

    Example:
        >>> reg = cr.sklearn.MLPRegressor(hidden_layer_sizes=(64,), max_iter=200, random_state=0)
        >>> reg.fit(X_train, y_train).score(X_test, y_test)
    """

    _extra_params: ClassVar[dict] = {"loss": Options("squared_error", "poisson")}

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        dropout_mode="inverted",
        batch_norm=False,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.dropout_mode = dropout_mode
        self.batch_norm = batch_norm

    # --- public API -------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None) -> MLPRegressor:
        """Train on (X, y) for up to ``max_iter`` epochs.

        Args:
            X: (n_samples, n_features) numbers; a DataFrame sets
                ``feature_names_in_``.
            y: (n_samples,) or (n_samples, n_outputs) real targets.
            sample_weight: (n_samples,) weights w: each minibatch's loss is
                Σ wᵢ·lossᵢ / Σ wᵢ and its L2 term α/(2·Σw)·Σ‖W‖² (scikit-learn's).

        Returns:
            self.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None) -> MLPRegressor:
        """One epoch over (X, y), continuing from the current state."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, (n_samples,) or (n_samples, n_outputs), in X's dtype."""
        check_is_fitted(self)
        out = self._forward(self._check_X(X, reset=False))
        if self.loss == "poisson":
            out = np.exp(out)
        return out[:, 0] if self.n_outputs_ == 1 else out

    @property
    def out_activation_(self) -> str:
        """Name of the output unit: ``"identity"`` (``"exp"`` with ``loss="poisson"``)."""
        check_is_fitted(self)
        return "exp" if self.loss == "poisson" else "identity"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    # --- targets, loss, score ---------------------------------------------------------
    def _prepare_targets(self, X, y, fresh, incremental, classes):
        X, y = validate_data(self, X, y, reset=fresh, dtype=(np.float64, np.float32),
                             accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             order="C")
        if sp.issparse(X):
            X = X.tocsr()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                f"{type(self).__name__}: expected targets y >= 0 with loss='poisson'. "
                f"Received: min(y)={np.min(y)}"
            )
        T = np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=X.dtype)
        if fresh:
            self._n_targets = T.shape[1]
        elif T.shape[1] != self._n_targets:
            raise ValueError(
                f"{type(self).__name__}: expected y with {self._n_targets} output(s), as "
                f"in the first fit. Received: {T.shape[1]}"
            )
        return X, T

    def _n_model_outputs(self) -> int:
        return self._n_targets

    def _batch_loss(self, outputs, targets, weights=None, total=None):
        """½‖y − f(x)‖² (or half the Poisson deviance) per row, averaged over the minibatch.

        With weights: Σ wᵢ·lossᵢ / Σ wᵢ.
        """
        if self.loss == "poisson":
            # ŷ = exp(z): ŷ − y·z, plus the constant y·log y − y of the deviance
            losses = ops.exp(outputs) - outputs * targets
            constant = xlogy(targets, targets) - targets
        else:
            diff = outputs - targets
            losses = diff * diff * 0.5
            constant = None
        if weights is None:
            scale, rows = 1.0 / outputs.shape[0], None
        else:
            scale, rows = 1.0 / total, weights.astype(outputs.dtype)[:, None]
        loss = (losses if rows is None else losses * rows).sum() * scale
        if constant is not None:
            loss = loss + float((constant if rows is None else constant * rows).sum() * scale)
        return loss

    def _validation_score(self, X_val, T_val, w_val=None) -> float:
        out = self._forward(X_val)
        if self.loss == "poisson":
            out = np.exp(out)
        if not np.all(np.isfinite(out)):  # a diverged network scores NaN, as in sklearn
            return float("nan")
        return float(r2_score(T_val, out, sample_weight=w_val))
