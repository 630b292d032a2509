"""Bagging: an ensemble of models trained on bootstrap resamples (book §7.11).

Each of the k members is trained on its own bootstrap sample — n rows
drawn with replacement from the n training rows — so the members make
partly independent errors and their average has a lower variance than any
one of them (book eq. 7.50: with error variance v and covariance c the
average's expected squared error is v/k + (k−1)c/k).

Members can be trained in parallel with joblib (``n_jobs``, ``backend``);
with ``joblib.parallel_config(backend="dask")`` or ``"ray"`` the members
spread over a cluster.  Every member i gets a deterministic seed derived
from ``seed`` and i, used both for its bootstrap sample and for the
member's own generator (``chainrule.random.use_generator``), from which it
is initialised and trained; so the ensemble is the same for any ``n_jobs``
and any joblib backend (threads included: generators are scoped per
thread), and the caller's generator is never drawn from.  ``model_fn`` and ``optimizer_fn`` must be
picklable for ``n_jobs != 1`` (joblib uses cloudpickle: lambdas are fine
when defined in a script or importable module).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import random as _random
from ..autograd.engine import Tensor, no_grad
from ..nn.module import Module
from ..training import fit

__all__ = ["Bagging", "combine_predictions", "inverse_variance_weights"]

_COMBINE = ("mean", "vote", "inverse_variance")


def inverse_variance_weights(variances) -> np.ndarray:
    """Weights w_i = (1/Var_i) / Σ_j (1/Var_j) of an inverse-variance average.

    For k = 2 this is the book's (SPEC §3) combination
    y = Var₂/(Var₁+Var₂) · y₁ + Var₁/(Var₁+Var₂) · y₂.  It is the
    minimum-variance unbiased combination of independent estimates.
    Members with zero variance share all the weight.
    """
    v = np.asarray(variances, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"Expected a 1-D array of variances. Received: shape {v.shape}")
    if np.any(~np.isfinite(v)) or np.any(v < 0):
        raise ValueError(f"Expected finite variances >= 0. Received: {v}")
    if np.any(v == 0):
        w = (v == 0).astype(np.float64)
    else:
        w = 1.0 / v
    return w / w.sum()


def combine_predictions(preds, how: str = "mean", weights=None):
    """Combine member outputs of shape (k, N, ...).

    Args:
        preds: (k, N, ...) member outputs: probabilities (classification)
            or values (regression); for ``"vote"``, (k, N, C) scores or
            (k, N) integer class ids.
        how: ``"mean"`` (arithmetic mean), ``"vote"`` (majority of the
            members' argmax; ties go to the lower class id) or
            ``"inverse_variance"`` (weighted mean with ``weights``).
        weights: (k,) weights summing to 1, for ``"inverse_variance"``.

    Returns:
        (N, ...) combined outputs; class ids (N,) for ``"vote"``.
    """
    preds = np.asarray(preds)
    if how not in _COMBINE:
        raise ValueError(f"Expected how in {_COMBINE}. Received: {how!r}")
    if how == "mean":
        return preds.mean(axis=0)
    if how == "inverse_variance":
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (preds.shape[0],):
            raise ValueError(
                f"Expected {preds.shape[0]} weights. Received: shape {w.shape}")
        return np.tensordot(w, preds, axes=1)
    labels = preds if preds.dtype.kind in "iu" else preds.argmax(axis=-1)
    n_classes = int(labels.max()) + 1 if preds.dtype.kind in "iu" else preds.shape[-1]
    counts = np.zeros((labels.shape[1], n_classes), np.int64)
    rows = np.broadcast_to(np.arange(labels.shape[1]), labels.shape)
    np.add.at(counts, (rows.ravel(), labels.ravel()), 1)
    return counts.argmax(axis=1)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _train_member(model_fn, optimizer_fn, X, y, rows, seed, fit_kwargs):
    """Train one member on X[rows] (runs in a joblib worker); returns its state_dict."""
    rng = _random.new_generator(seed)
    with _random.use_generator(rng):
        model = model_fn()
    opt = optimizer_fn(model.parameters())
    kwargs = {"verbose": 0}
    kwargs.update(fit_kwargs)
    fit(model, X[rows], None if y is None else y[rows], optimizer=opt, generator=rng, **kwargs)
    return model.state_dict()


class Bagging:
    """Bootstrap aggregating of k neural networks (book §7.11).

    Args:
        model_fn: ``() -> Module`` building one (untrained) member; called
            with the member's own generator in scope, so members start from
            different initialisations.
        k: number of members.
        loss: ``training.fit`` loss; "cross_entropy" (or any loss with
            ``task="classification"``) makes outputs softmax probabilities.
        optimizer_fn: ``parameters -> optimiser`` for each member.
        epochs, batch_size: training of each member.
        combine: ``"mean"`` (average of probabilities / values),
            ``"vote"`` (majority vote, classification) or
            ``"inverse_variance"`` (w_i ∝ 1/Var_i, each member's error
            variance estimated on its out-of-bag rows: mean squared residual
            for regression, mean Brier score Σ_c (p_c − 1[y=c])² for
            classification).
        task: ``"classification"``, ``"regression"`` or None to infer from
            ``loss`` (cross-entropy / nll -> classification).
        n_jobs: joblib workers (1: in this process; -1: all cores).
        backend: joblib backend name (None: joblib's default / the active
            ``parallel_config``).
        seed: base seed of the member seeds.
        fit_kwargs: more ``training.fit`` arguments (metrics, regularizers...).

    Attributes:
        members_: the k trained models.
        seeds_: the member seeds.
        bootstrap_indices_: (k, n) rows of each resample.
        oob_variances_: (k,) out-of-bag error variances (NaN if a member
            had no out-of-bag rows).
        weights_: (k,) combination weights.

    Example:
        >>> bag = Bagging(make_net, k=5, loss="cross_entropy",
        ...               optimizer_fn=lambda ps: cr.optim.Adam(ps, lr=1e-3),
        ...               epochs=20, n_jobs=2).fit(X_train, y_train)
        >>> error = (bag.predict(X_test) != y_test).mean()
    """

    def __init__(self, model_fn: Callable[[], Module], k: int = 5, *, loss,
                 optimizer_fn: Callable, epochs: int = 10, batch_size: int = 32,
                 combine: str = "mean", task: str | None = None, n_jobs: int | None = 1,
                 backend: str | None = None, seed: int = 0, fit_kwargs: dict | None = None):
        self.model_fn = model_fn
        self.k = k
        self.loss = loss
        self.optimizer_fn = optimizer_fn
        self.epochs = epochs
        self.batch_size = batch_size
        self.combine = combine
        self.task = task
        self.n_jobs = n_jobs
        self.backend = backend
        self.seed = seed
        self.fit_kwargs = fit_kwargs

    # --- validation -----------------------------------------------------------------
    def _resolve_task(self) -> str:
        if self.task is not None:
            if self.task not in ("classification", "regression"):
                raise ValueError("Expected task 'classification' or 'regression'. "
                                 f"Received: task={self.task!r}")
            return self.task
        name = self.loss if isinstance(self.loss, str) else getattr(self.loss, "__name__", "")
        return "classification" if name in ("cross_entropy", "nll_loss", "nll") \
            else "regression"

    def _check_params(self) -> None:
        if int(self.k) != self.k or self.k < 1:
            raise ValueError(f"Expected k >= 1 members. Received: k={self.k!r}")
        if self.combine not in _COMBINE:
            raise ValueError(f"Expected combine in {_COMBINE}. Received: {self.combine!r}")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"Expected a non-negative integer seed. Received: {self.seed!r}")
        for name in ("loss", "optimizer", "epochs", "batch_size", "validation_split"):
            if self.fit_kwargs and name in self.fit_kwargs:
                raise ValueError(f"Expected fit_kwargs without {name!r}: Bagging sets it")

    # --- training ---------------------------------------------------------------------
    def fit(self, X, y=None) -> Bagging:
        """Train the k members on bootstrap resamples of (X, y); returns self."""
        from joblib import Parallel, delayed

        self._check_params()
        self.task_ = self._resolve_task()
        if self.combine == "vote" and self.task_ != "classification":
            raise ValueError("combine='vote' needs a classification task")
        X = np.asarray(X)
        y = None if y is None else np.asarray(y)
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"Expected at least 2 training rows. Received: {n}")
        children = np.random.SeedSequence(int(self.seed)).spawn(int(self.k))
        self.seeds_ = [int(c.generate_state(1)[0] & 0x7FFFFFFF) for c in children]
        self.bootstrap_indices_ = np.stack(
            [np.random.default_rng(c).integers(0, n, n) for c in children])
        fit_kwargs = dict(self.fit_kwargs or {})
        fit_kwargs.update(loss=self.loss, epochs=self.epochs, batch_size=self.batch_size)
        states = Parallel(n_jobs=self.n_jobs, backend=self.backend)(
            delayed(_train_member)(self.model_fn, self.optimizer_fn, X, y, rows, s, fit_kwargs)
            for rows, s in zip(self.bootstrap_indices_, self.seeds_))
        self.members_ = []
        for sd, s in zip(states, self.seeds_):
            # rebuilt in the member's own generator (the weights are then
            # replaced): the caller's generator is never drawn from
            with _random.use_generator(s):
                model = self.model_fn()
            model.load_state_dict(sd)
            model.eval()
            self.members_.append(model)
        self.oob_variances_ = self._oob_variances(X, y)
        if self.combine == "inverse_variance":
            if np.any(np.isnan(self.oob_variances_)):
                raise ValueError("combine='inverse_variance' needs out-of-bag rows for every "
                                 "member; a bootstrap sample covered all rows. Use more data.")
            self.weights_ = inverse_variance_weights(self.oob_variances_)
        else:
            self.weights_ = np.full(int(self.k), 1.0 / int(self.k))
        return self

    def _oob_variances(self, X, y) -> np.ndarray:
        out = np.full(len(self.members_), np.nan)
        if y is None:
            y = X
        for i, (model, rows) in enumerate(zip(self.members_, self.bootstrap_indices_)):
            oob = np.ones(X.shape[0], bool)
            oob[rows] = False
            if not oob.any():
                continue
            pred = self._member_output(model, X[oob])
            target = y[oob]
            if self.task_ == "classification":
                onehot = np.zeros_like(pred)
                onehot[np.arange(len(target)), target.astype(np.int64)] = 1.0
                err = ((pred - onehot) ** 2).sum(axis=-1)
            else:
                err = (pred - target.reshape(pred.shape)) ** 2
            out[i] = float(err.mean())
        return out

    # --- prediction -------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise RuntimeError("This Bagging ensemble is not fitted yet. Call fit(X, y) first.")

    @no_grad()
    def _member_output(self, model: Module, X, batch_size: int = 1024) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        parts = [np.asarray(model(Tensor(X[i:i + batch_size])).data, dtype=np.float64)
                 for i in range(0, X.shape[0], batch_size)]
        z = np.concatenate(parts)
        return _softmax(z) if self.task_ == "classification" else z

    def member_outputs(self, X) -> np.ndarray:
        """(k, N, ...) outputs of every member: probabilities or values."""
        self._check_fitted()
        return np.stack([self._member_output(m, X) for m in self.members_])

    def predict_proba(self, X) -> np.ndarray:
        """Combined class probabilities (classification; ``"vote"`` gives vote shares)."""
        self._check_fitted()
        if self.task_ != "classification":
            raise ValueError("predict_proba needs a classification task")
        outs = self.member_outputs(X)
        if self.combine == "vote":
            labels = outs.argmax(axis=-1)
            shares = np.zeros(outs.shape[1:])
            for lab in labels:
                shares[np.arange(len(lab)), lab] += 1.0 / len(labels)
            return shares
        how = "inverse_variance" if self.combine == "inverse_variance" else "mean"
        return combine_predictions(outs, how, self.weights_)

    def predict(self, X) -> np.ndarray:
        """Class ids (classification) or combined values (regression)."""
        self._check_fitted()
        outs = self.member_outputs(X)
        if self.combine == "vote":
            return combine_predictions(outs, "vote")
        how = "inverse_variance" if self.combine == "inverse_variance" else "mean"
        combined = combine_predictions(outs, how, self.weights_)
        return combined.argmax(axis=-1) if self.task_ == "classification" else combined
