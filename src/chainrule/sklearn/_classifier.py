"""MLPClassifier: a scikit-learn drop-in multilayer perceptron classifier."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from chainrule.autograd import ops

from ._base import BaseMLP
from ._classes import check_known_classes, first_classes
from ._compat import validate_data
from ._lbfgs import stochastic_solver
from ._params import Interval


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multilayer perceptron classifier trained by minibatch back-propagation.

    A drop-in for ``sklearn.neural_network.MLPClassifier`` computed by
    chainrule (float32 unless X is float64, autodiff, chainrule's optimisers).  Output units
    (book §6.2.2): softmax over k ≥ 3 classes, one sigmoid unit for two
    classes, one sigmoid per label for multilabel indicator targets.  The
    loss is the negative log-likelihood of the targets (cross-entropy,
    computed from logits), averaged over the minibatch, plus the L2 penalty
    α/(2m')·Σ‖W‖² on the weight matrices of a minibatch of m' rows —
    scikit-learn's objective, so ``alpha`` means the same in both.

    As scikit-learn's: X may be dense or CSR/CSC (densified one minibatch
    at a time); float32 X trains float32 weights, any other X float64; the
    same ``random_state`` draws scikit-learn's initial weights (Glorot
    uniform for weights and biases), validation split and row order;
    ``coefs_``/``intercepts_`` are plain lists that may be overwritten
    (``warm_start`` then continues from them).

    Parameters shared with scikit-learn mean what they mean there; these
    differ or are new:

    Args:
        hidden_layer_sizes: width of each hidden layer.
        activation: hidden unit: ``"relu"``, ``"tanh"``, ``"logistic"``,
            ``"identity"`` (as sklearn) or ``"leaky_relu"`` (α = 0.01),
            ``"softplus"``, ``"abs"`` (absolute-value rectification) (book §6.3).
        solver: ``"adam"``, ``"sgd"`` (momentum and Nesterov momentum as
            sklearn; ``learning_rate`` schedules apply to it only),
            ``"rmsprop"`` (ρ = ``beta_2``, δ = ``epsilon``), ``"rmsprop_nesterov"``
            (the book's algorithm 8.6 with α = ``momentum``) or ``"adagrad"``
            (δ = ``epsilon``), or ``"lbfgs"`` (full-batch L-BFGS as sklearn's:
            ``max_iter`` counts its iterations, ``max_fun`` its loss evaluations).
        alpha: L2 penalty strength (see above; biases are not penalised).
        batch_size: rows per minibatch; ``"auto"`` is min(200, n_samples).
        learning_rate: SGD schedule: ``"constant"``, ``"invscaling"``
            (ε = ε₀ / (t+1)^power_t, t the samples seen) or ``"adaptive"``
            (divide ε by 5 instead of stopping, until ε ≤ 1e-6).
        learning_rate_init: ε₀.
        power_t: exponent of ``"invscaling"``.
        max_iter: maximum number of epochs (L-BFGS iterations with ``"lbfgs"``).
        shuffle: reshuffle the rows every epoch.
        random_state: seeds initialisation, dropout, shuffling and the
            validation split.  Each estimator draws from its own generator,
            scoped to the calling thread while it works, so ``cr.manual_seed``'s
            stream is untouched and fits on several threads are independent.
        tol: improvement below which an epoch counts as no improvement.
        verbose: print the loss (and validation score) every epoch.
        warm_start: a new ``fit`` continues from the current weights.
        momentum: momentum α of ``"sgd"`` and ``"rmsprop_nesterov"``.
        nesterovs_momentum: Nesterov momentum for ``"sgd"``.
        early_stopping: hold out ``validation_fraction`` of the rows
            (stratified), stop when the validation accuracy has not improved
            by ``tol`` for ``n_iter_no_change`` epochs and restore the best
            weights (book §7.8).
        validation_fraction: share of rows held out for early stopping.
        beta_1, beta_2, epsilon: Adam's ρ₁, ρ₂, δ.
        n_iter_no_change: epochs without improvement before stopping
            (``np.inf``: never stop before ``max_iter``).
        max_fun: most loss evaluations of ``solver="lbfgs"`` (checked
            here, used by that solver).
        dropout: drop probability of the hidden units (0 = no dropout).
        dropout_mode: ``"inverted"`` (scale by 1/(1-p) while training) or
            ``"weight_scaling"`` (the book's rule: scale by 1-p at inference).
        batch_norm: batch normalisation before each hidden activation.
        label_smoothing: ε in PyTorch's form: the target puts 1-ε+ε/k on the
            true class and ε/k on each other (k classes; k = 2 for each
            sigmoid output).  The book's ε (§7.5.1) is ε·(k-1)/k of this one.

    Attributes:
        classes_: the class labels (sorted), or 0..k-1 for multilabel.
        n_features_in_, feature_names_in_: as in scikit-learn.
        loss_: the objective of the last epoch; loss_curve_ one per epoch.
        best_loss_: lowest training objective (None with early stopping).
        validation_scores_, best_validation_score_: validation accuracy per
            epoch and its best (with early stopping, else None).
        n_iter_: epochs run by the last call; t_: samples seen in total.
        coefs_, intercepts_: the weight and bias arrays, (fan_in, fan_out), in
            the input's dtype; assigned arrays are copied into the network.
        n_layers_, n_outputs_, out_activation_: as in scikit-learn.

    Example:
        >>> clf = cr.sklearn.MLPClassifier((64,), max_iter=50, random_state=0)
        >>> clf.fit(X_train, y_train).score(X_test, y_test)
    """

    _extra_params: ClassVar[dict] = {"label_smoothing": Interval(0, 1)}

    def __init__(
        self,
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
        label_smoothing=0.0,
    ):
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
        self.label_smoothing = label_smoothing

    # --- public API -------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None) -> MLPClassifier:
        """Train on (X, y) for up to ``max_iter`` epochs.

        Args:
            X: (n_samples, n_features) numbers; a DataFrame sets
                ``feature_names_in_``.
            y: (n_samples,) class labels (any sortable type), or a
                (n_samples, k) 0/1 indicator matrix for multilabel.
            sample_weight: (n_samples,) weights w: each minibatch's loss is
                Σ wᵢ·lossᵢ / Σ wᵢ and its L2 term α/(2·Σw)·Σ‖W‖² (scikit-learn's).

        Returns:
            self.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, classes=None, sample_weight=None) -> MLPClassifier:
        """One epoch over (X, y), continuing from the current state.

        Args:
            X: (n_samples, n_features).
            y: labels, all among ``classes``.
            classes: every label that will ever appear; required on the
                first call, optional (and checked) afterwards.
            sample_weight: (n_samples,) weights, as in :meth:`fit`.

        Returns:
            self.
        """
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, (n_samples, n_classes) in the order of ``classes_``, float64.

        Multilabel: (n_samples, k), the probability of each label.
        """
        return self._probabilities(self._logits(X))

    def predict_log_proba(self, X) -> np.ndarray:
        """log of :meth:`predict_proba` itself, as scikit-learn (−inf where one underflows).

        Not a separately "stable" log: independent sigmoids (multilabel) can
        all round to 1.0 and a probability can round to 0.0 for logits beyond
        ±745; a finer log would then rank what ``predict_proba`` ties, or be
        finite where the probability is 0, and the two would disagree.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class of each row (0/1 indicators for multilabel)."""
        proba = self._probabilities(self._logits(X))
        if self._kind == "multilabel":
            return (proba > 0.5).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]

    @property
    def out_activation_(self) -> str:
        """Name of the output unit: ``"softmax"`` or ``"logistic"``."""
        check_is_fitted(self)
        return "softmax" if self._kind == "multiclass" else "logistic"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # --- targets ----------------------------------------------------------------------
    def _prepare_targets(self, X, y, fresh, incremental, classes):
        X, y = validate_data(self, X, y, reset=fresh, dtype=(np.float64, np.float32),
                             accept_sparse=["csr", "csc"], multi_output=True, order="C")
        if sp.issparse(X):
            X = X.tocsr()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"{type(self).__name__}: expected class labels (1-D) or a 0/1 multilabel "
                f"indicator matrix. Received: y of type {kind!r}, shape {y.shape}"
            )
        multilabel = kind == "multilabel-indicator"
        if fresh:
            self.classes_, self._kind = first_classes(type(self).__name__, y, multilabel,
                                                      classes, incremental)
        else:
            check_known_classes(type(self).__name__, self.classes_, self._kind, y,
                                multilabel, classes, incremental)
        if self._kind == "multilabel":
            return X, y.astype(X.dtype)
        if self._kind == "single":
            return X, np.zeros((len(y), 1), dtype=X.dtype)
        if self._kind == "binary":
            return X, (y == self.classes_[1]).astype(X.dtype)[:, None]
        return X, np.searchsorted(self.classes_, y).astype(np.int64)

    def _n_model_outputs(self) -> int:
        if self._kind in ("binary", "single"):
            return 1
        return len(self.classes_)

    def _stratify(self, T):
        # scikit-learn's binarised y, so that its split (and messages) are ours
        if self._kind == "multiclass":
            return np.eye(len(self.classes_), dtype=bool)[T]
        if self._kind in ("binary", "single"):
            return T.astype(bool)  # as scikit-learn: its messages name 'True'/'False'
        return None

    # --- loss, score, outputs ---------------------------------------------------------
    def _batch_loss(self, logits, targets, weights=None, total=None):
        """Mean cross-entropy of the minibatch (Σ wᵢ·lossᵢ / Σ wᵢ with weights)."""
        eps = float(self.label_smoothing)
        if self._kind == "multiclass":
            if weights is None:
                return ops.softmax_cross_entropy(logits, target=targets, smoothing=eps,
                                                reduction="mean")
            losses = ops.softmax_cross_entropy(logits, target=targets, smoothing=eps,
                                              reduction="none")
            return (losses * weights.astype(logits.dtype)).sum() * (1.0 / total)
        if eps:
            targets = targets * (1 - eps) + eps / 2
            targets = targets.astype(logits.dtype)
        losses = ops.bce_with_logits(logits, targets)
        if weights is None:
            return losses.sum() * (1.0 / logits.shape[0])
        return (losses * weights.astype(logits.dtype)[:, None]).sum() * (1.0 / total)

    def _validation_score(self, X_val, T_val, w_val=None) -> float:
        z = self._forward(X_val)
        if not np.all(np.isfinite(z)):  # a diverged network scores NaN, as in sklearn
            return float("nan")
        if self._kind == "multiclass":
            hits = np.argmax(z, axis=1) == T_val
        else:
            hits = np.all((z > 0) == (T_val > 0.5), axis=1)
        return float(np.average(hits, weights=w_val))

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        # float64 logits, whatever the fitted dtype: probabilities within 1e-38 of
        # 0 or 1 keep finite logs (float32 would round them to 0 and log to -inf)
        return self._forward(self._check_X(X, reset=False), fitted_dtype=False)

    def _probabilities(self, z) -> np.ndarray:
        if self._kind == "single":
            return np.ones((z.shape[0], 1), dtype=z.dtype)
        if self._kind == "multiclass":
            return softmax(z, axis=1)
        if self._kind == "binary":
            # expit(-z), not 1 - expit(z): that rounds to 0 in float32 for z > 17,
            # where predict_log_proba's log_expit(-z) is finite
            return np.column_stack([expit(-z[:, 0]), expit(z[:, 0])])
        return expit(z)
