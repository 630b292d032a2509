"""Any chainrule module as a scikit-learn estimator: ``NeuralNetClassifier``, ``NeuralNetRegressor``.

skorch's shape on chainrule's loop.  The estimator holds a module (a class,
built at ``fit`` with the ``module__`` parameters, or an instance, copied
at ``fit``), a loss (``criterion``), an optimiser (a name of the shared
vocabulary, :mod:`chainrule.training.recipes`, or a ``chainrule.optim``
class, with ``lr`` and the ``optimizer__`` parameters) and the loop's
settings (``max_epochs``, ``batch_size``); ``fit`` trains by
:func:`chainrule.training.fit`.

Conventions:

* Sizes from the data: a module *class* whose constructor takes
  ``in_features`` and/or ``out_features``, not given as ``module__``
  parameters, gets the number of features and the number of outputs (the
  classes of a classifier, the targets of a regressor).  So
  ``NeuralNetClassifier(nn.Linear)`` is multinomial logistic regression.
* The module outputs logits (N, n_classes) for a classifier (softmax
  cross-entropy, book §6.2.2.3) and values (N, n_targets) for a regressor
  (mean squared error).  ``predict_proba`` is the softmax of the logits.
* Labels of any kind (strings, integers, ...) are encoded to class ids;
  ``classes_`` holds them sorted, as scikit-learn's classifiers.
* dtypes: the data take the module's dtype
  (:mod:`chainrule.training.dtype_policy`), float32 unless the module
  was made float64.
* Randomness: ``random_state`` seeds the module's initialisation (for a
  class) and the shuffling of every ``fit``; the generator in scope is
  neither read nor disturbed.  Each ``fit`` starts afresh (from a new
  module, or from a copy of the given instance).
"""

from __future__ import annotations

import copy
import inspect
import numbers
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .. import random as cr_random
from ..training import fit as train
from ..training import predict as forward
from ..training.dtype_policy import model_dtype
from ..training.recipes import build_optimizer, resolve_name
from ._compat import validate_data

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

#: prefixes of routed parameters: ``module__hidden=32``, ``optimizer__momentum=0.9``
_PREFIXES = ("module__", "optimizer__")


class _NeuralNet(BaseEstimator):
    """What the classifier and the regressor share (see the module docstring)."""

    _required_parameters: ClassVar[list[str]] = ["module"]
    _default_criterion = "mse"

    def __init__(
        self,
        module,
        *,
        criterion=None,
        optimizer="adam",
        lr: float = 1e-3,
        max_epochs: int = 10,
        batch_size: int = 32,
        shuffle: bool = True,
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.module = module
        self.criterion = criterion
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        for key, value in kwargs.items():  # checked at fit, as scikit-learn validates there
            setattr(self, key, value)

    # --- parameters: the signature's, plus the routed module__/optimizer__ ones ----
    def _routed(self, prefix: str | None = None) -> dict:
        keys = [k for k in vars(self) if k.startswith(_PREFIXES) and not k.endswith("_")]
        if prefix is not None:
            return {k[len(prefix):]: getattr(self, k) for k in keys if k.startswith(prefix)}
        return {k: getattr(self, k) for k in keys}

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=deep)
        params.update(self._routed())
        return params

    def set_params(self, **params):
        """Set parameters; ``module__``/``optimizer__`` ones (and unknown names,
        refused at ``fit`` as ``__init__``'s) are stored as given."""
        known = set(self._get_param_names())
        own = {k: v for k, v in params.items() if k in known}
        for key, value in params.items():
            if key not in known:
                setattr(self, key, value)
        return super().set_params(**own) if own else self

    # --- fitting --------------------------------------------------------------
    def _build_module(self, n_features: int, n_outputs: int):
        kwargs = self._routed("module__")
        module = self.module
        if isinstance(module, type):
            try:
                accepted = set(inspect.signature(module).parameters)
            except (TypeError, ValueError):
                accepted = set()
            for name, size in (("in_features", n_features), ("out_features", n_outputs)):
                if name in accepted and name not in kwargs:
                    kwargs[name] = size
            return module(**kwargs)
        if kwargs:
            raise ValueError(
                "Expected module__ parameters only with a module class (an instance is "
                f"already built). Received: {sorted(kwargs)} with {type(module).__name__}"
            )
        if not (hasattr(module, "parameters") and callable(module)):
            raise TypeError(
                "Expected module to be a chainrule nn.Module class or instance. Received: "
                f"{type(module).__name__}"
            )
        return copy.deepcopy(module)

    def _build_optimizer(self, params):
        extra = self._routed("optimizer__")
        if isinstance(self.optimizer, str):
            return build_optimizer(resolve_name("optimizer", self.optimizer), params,
                                   lr=self.lr, **extra)
        if isinstance(self.optimizer, type):
            return self.optimizer(params, lr=self.lr, **extra)
        raise TypeError(
            "Expected optimizer to be a name (e.g. 'adam', 'sgd') or a chainrule.optim class. "
            f"Received: {type(self.optimizer).__name__}"
        )

    def _check_settings(self) -> None:
        known = set(self._get_param_names())
        _check_routed([k for k in vars(self)
                       if k not in known and not k.startswith("_") and not k.endswith("_")])
        for name in ("max_epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Expected {name} to be a positive integer. Received: {value!r}")
        if not isinstance(self.lr, numbers.Real) or not self.lr > 0:
            raise ValueError(f"Expected lr > 0. Received: {self.lr!r}")

    def _fit(self, X, targets, n_outputs: int):
        self._check_settings()
        seed = check_random_state(self.random_state).randint(2**31 - 1)
        with cr_random.use_generator(int(seed)):
            module = self._build_module(X.shape[1], n_outputs)
            X = X.astype(model_dtype(module), copy=False)
            opt = self._build_optimizer(module.parameters())
            self.history_ = train(
                module,
                X,
                targets,
                loss=self.criterion or self._default_criterion,
                optimizer=opt,
                epochs=int(self.max_epochs),
                batch_size=min(int(self.batch_size), X.shape[0]),
                shuffle=bool(self.shuffle),
                verbose=self.verbose,
            )
        self.module_ = module
        self.optimizer_ = opt
        self.n_iter_ = len(self.history_)
        return self

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "module_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return forward(self.module_, X.astype(model_dtype(self.module_), copy=False))


def _check_routed(keys) -> None:
    for key in keys:
        if not key.startswith(_PREFIXES) or key in _PREFIXES:
            raise TypeError(
                f"Expected keyword arguments routed as module__<name> or optimizer__<name>. "
                f"Received: {key!r}"
            )


class NeuralNetClassifier(ClassifierMixin, _NeuralNet):
    """A chainrule module as a scikit-learn classifier (skorch's ``NeuralNetClassifier``).

    The module maps (N, n_features) inputs to (N, n_classes) logits and is
    trained on the softmax cross-entropy (book §6.2.2.3) by
    :func:`chainrule.training.fit`.

    Args:
        module: an ``nn.Module`` class (built at ``fit`` with the
            ``module__`` parameters; ``in_features`` / ``out_features`` in
            its constructor are filled from the data when not given) or
            instance (copied at ``fit``).
        criterion: a loss name of ``fit`` (Keras's names too) or a callable
            ``(logits Tensor, class ids) -> scalar Tensor``; default
            ``"cross_entropy"``.
        optimizer: a name of :data:`chainrule.training.recipes.OPTIMIZERS`
            (Keras's spellings too) or a ``chainrule.optim`` class; the
            ``optimizer__`` parameters go to it.
        lr: the learning rate.
        max_epochs: epochs of each ``fit``.
        batch_size: minibatch size (at most the number of rows).
        shuffle: reshuffle the rows every epoch.
        random_state: seeds the initialisation and the shuffling (an int,
            a ``RandomState`` or None).
        verbose: ``fit``'s progress display (0: none).
        **kwargs: ``module__<name>`` and ``optimizer__<name>`` parameters.

    Attributes:
        classes_: the sorted labels; n_features_in_; module_: the trained
        module; optimizer_; history_: the training ``History``; n_iter_.

    Example:
        >>> from chainrule import nn
        >>> clf = NeuralNetClassifier(nn.Linear, lr=0.1, max_epochs=20, random_state=0)
        >>> clf.fit(X, y).predict(X[:3])
    """

    _default_criterion = "cross_entropy"

    def fit(self, X, y):
        """Train a fresh module on (X, y); return self."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        y = column_or_1d(y, warn=True)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        ids = encoder.transform(y).astype(np.int64)
        return self._fit(X, ids, len(self.classes_))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, the softmax of the module's logits, (N, n_classes)."""
        logits = np.asarray(self._outputs(X), dtype=np.float64)
        if logits.ndim != 2 or logits.shape[1] != len(self.classes_):
            raise ValueError(
                f"Expected the module to output (N, {len(self.classes_)}) logits, one per "
                f"class. Received: shape {logits.shape}"
            )
        return _softmax(logits)

    def predict(self, X) -> np.ndarray:
        """The most probable label of each row."""
        logits = self._outputs(X)
        return self.classes_[np.asarray(logits).reshape(len(logits), -1).argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class NeuralNetRegressor(RegressorMixin, _NeuralNet):
    """A chainrule module as a scikit-learn regressor (skorch's ``NeuralNetRegressor``).

    The module maps (N, n_features) inputs to (N, n_targets) values and is
    trained on the mean squared error (a Gaussian NLL, book §6.2.2.1) by
    :func:`chainrule.training.fit`.  Arguments as
    :class:`NeuralNetClassifier`; ``criterion`` defaults to ``"mse"``.
    ``predict`` returns (N,) for a 1-D ``y`` and (N, n_targets) otherwise.

    Example:
        >>> reg = NeuralNetRegressor(nn.Linear, lr=0.05, max_epochs=50, random_state=0)
        >>> reg.fit(X, y).score(X, y)
    """

    def fit(self, X, y):
        """Train a fresh module on (X, y); return self."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=True)
        self._y_ndim = y.ndim
        targets = y.reshape(len(y), -1)
        n_outputs = targets.shape[1]
        return self._fit(X, targets, n_outputs)

    def predict(self, X) -> np.ndarray:
        """The module's outputs as float64, as scikit-learn's regressors: (N,) for a
        1-D training ``y``, else (N, n_targets)."""
        out = np.asarray(self._outputs(X), dtype=np.float64)
        return out.reshape(len(out)) if self._y_ndim == 1 and out.size == len(out) else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, the largest logit subtracted first (book §6.2.2.3)."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)

