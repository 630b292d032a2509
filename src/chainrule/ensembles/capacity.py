"""Capacity sweeps: training and test error as capacity grows (book §5.2).

A model's *capacity* is its ability to fit a wide variety of functions.
Sweeping it (hidden width, depth, polynomial degree, or the number of
training examples) and recording the training error and the test error
draws the book's figure 5.3: the training error falls as capacity grows,
the test error falls and then rises again — a U-shaped curve whose bottom
is the optimal capacity.  The book names the two failure modes by two
criteria:

* **underfitting**: the model cannot reach a low enough error on the
  training set (training error > ``underfit_threshold``);
* **overfitting**: the gap between training and test error is too large
  (test error - training error > ``gap_threshold``).

By default both thresholds are the lowest test error seen in the sweep: a
setting underfits when it does worse *on its own training data* than the
best setting does on unseen data, and overfits when its generalisation gap
alone exceeds that best test error.  The best setting therefore never
counts as either (whenever its training error is at most its test error).
Pass explicit thresholds when the task has a target error.

Example:
    >>> result = capacity_sweep(
    ...     build=lambda width: make_mlp(width),
    ...     values=[1, 4, 16, 64, 256],
    ...     X_train=X, y_train=y, X_test=Xt, y_test=yt,
    ...     train=lambda model, X, y: fit(model, X, y, loss="cross_entropy",
    ...                                   optimizer=cr.optim.Adam(model.parameters()),
    ...                                   epochs=50, verbose=0),
    ...     param_name="hidden width")
    >>> print(result.summary()); result.plot("capacity.png")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..random import use_generator

__all__ = [
    "CapacityResult",
    "capacity_sweep",
    "classification_error",
    "mean_squared_error",
    "sweep",
    "training_size_sweep",
]


def classification_error(model, X, y) -> float:
    """Error rate 1 - accuracy of the arg-max of ``model(X)`` (eval mode)."""
    out = _outputs(model, X)
    return float(np.mean(out.argmax(axis=1) != np.asarray(y)))


def mean_squared_error(model, X, y) -> float:
    """Mean of (y - f(x))² over all entries (eval mode)."""
    out = _outputs(model, X)
    target = np.asarray(y, dtype=out.dtype).reshape(out.shape)
    return float(np.mean((out - target) ** 2))


def _outputs(model, X) -> np.ndarray:
    from ..autograd import no_grad, tensor

    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    with no_grad():
        out = model(tensor(np.asarray(X, dtype=np.float32))).data
    if was_training:
        model.train()
    return out


@dataclass
class CapacityResult:
    """Training and test error per capacity setting, with the book's verdicts.

    Attributes:
        param_name: what was swept ("hidden width", "degree", ...).
        values: the settings, in sweep order.
        train_error: training error per setting.
        test_error: test error per setting.
        underfit_threshold: training error above which a setting underfits.
        gap_threshold: test - train gap above which a setting overfits.
        verdicts: per setting, "underfit", "overfit", "underfit and overfit"
            or "good fit".
        best_index: index of the setting with the lowest test error.
        extras: anything else recorded per setting (e.g. training time).
    """

    param_name: str
    values: list
    train_error: list
    test_error: list
    underfit_threshold: float
    gap_threshold: float
    verdicts: list = field(default_factory=list)
    best_index: int = 0
    extras: list = field(default_factory=list)

    @property
    def best_value(self) -> Any:
        """The setting with the lowest test error (the optimal capacity)."""
        return self.values[self.best_index]

    @property
    def gap(self) -> list:
        """Generalisation gap, test error - training error, per setting."""
        return [te - tr for tr, te in zip(self.train_error, self.test_error)]

    def underfitting(self) -> list:
        """Settings whose training error exceeds ``underfit_threshold``."""
        return [v for v, d in zip(self.values, self.verdicts) if "underfit" in d]

    def overfitting(self) -> list:
        """Settings whose gap exceeds ``gap_threshold``."""
        return [v for v, d in zip(self.values, self.verdicts) if "overfit" in d]

    def is_u_shaped(self) -> bool:
        """Whether the test error's minimum is strictly inside the sweep,
        with higher test error on both ends."""
        te = self.test_error
        i = self.best_index
        return 0 < i < len(te) - 1 and te[0] > te[i] and te[-1] > te[i]

    def to_dict(self) -> dict:
        """Plain-Python form (JSON-serialisable when the values are)."""
        return {
            "param_name": self.param_name,
            "values": list(self.values),
            "train_error": [float(e) for e in self.train_error],
            "test_error": [float(e) for e in self.test_error],
            "gap": [float(g) for g in self.gap],
            "verdicts": list(self.verdicts),
            "underfit_threshold": float(self.underfit_threshold),
            "gap_threshold": float(self.gap_threshold),
            "best_value": self.best_value,
            "underfitting": self.underfitting(),
            "overfitting": self.overfitting(),
        }

    def summary(self) -> str:
        """A table of the sweep and one line per verdict, as text."""
        name = self.param_name
        width = max(len(name), 8)
        lines = [f"{name:>{width}}  train err   test err        gap  verdict"]
        for v, tr, te, d in zip(self.values, self.train_error, self.test_error,
                                self.verdicts):
            lines.append(f"{v!s:>{width}}  {tr:9.4f}  {te:9.4f}  {te - tr:9.4f}  {d}")
        under, over = self.underfitting(), self.overfitting()
        lines.append(
            f"underfitting (training error > {self.underfit_threshold:.4g}): "
            + (", ".join(f"{name}={v}" for v in under) if under else "none")
        )
        lines.append(
            f"overfitting (test - train gap > {self.gap_threshold:.4g}): "
            + (", ".join(f"{name}={v}" for v in over) if over else "none")
        )
        lines.append(
            f"lowest test error {self.test_error[self.best_index]:.4g} at "
            f"{name}={self.best_value}"
            + (" (U-shaped test curve)" if self.is_u_shaped() else "")
        )
        return "\n".join(lines)

    def plot(self, path, logx: bool | None = None, logy: bool | None = None,
             title: str | None = None):
        """Draw training and test error against capacity to a PNG file.

        Underfitting settings are circled, the gap of overfitting ones drawn
        as a dotted line, the optimum marked by a vertical line (book
        figure 5.3).
        Needs matplotlib (``pip install chainrule[plot]``); uses the Agg
        backend, so no display is required.

        Args:
            path: output file name (``.png``).
            logx: log-scale x axis; default when the values span > 20x.
            logy: log-scale error axis; default when the errors span > 50x
                (training errors far below every test error are then drawn
                at a floor, 0.2 x the lowest test error).
            title: figure title.

        Returns:
            ``path``.
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as err:  # pragma: no cover - optional dependency
            raise ImportError(
                "CapacityResult.plot needs matplotlib: pip install 'chainrule[plot]'"
            ) from err
        numeric = all(isinstance(v, (int, float, np.integer, np.floating))
                      for v in self.values)
        x = np.asarray(self.values, dtype=float) if numeric else np.arange(len(self.values))
        if logx is None:
            logx = numeric and x.min() > 0 and x.max() / x.min() > 20
        train = np.asarray(self.train_error, dtype=float)
        test = np.asarray(self.test_error, dtype=float)
        positive = np.concatenate([train, test])
        positive = positive[positive > 0]
        if logy is None:
            logy = positive.size > 0 and positive.max() / positive.min() > 50
        if logy:
            # near-zero training errors (interpolation) would stretch the axis
            # over many decades: draw them at a floor below the test errors
            floor = 0.2 * test[test > 0].min() if np.any(test > 0) else positive.min()
            train = np.maximum(train, floor)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(x, train, "o-", label="training error")
        ax.plot(x, test, "s-", label="test error")
        for xi, tr, te, d in zip(x, train, test, self.verdicts):
            if "underfit" in d:
                ax.plot(xi, tr, "o", ms=13, mfc="none", color="tab:purple")
            if "overfit" in d:
                ax.plot([xi, xi], [tr, te], ":", color="tab:red")
        ax.plot([], [], "o", ms=13, mfc="none", color="tab:purple",
                label="underfit (training error too high)")
        ax.plot([], [], ":", color="tab:red", label="overfit (gap too large)")
        ax.axvline(x[self.best_index], color="gray", ls="--", label="optimal capacity")
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        if not numeric:
            ax.set_xticks(x, [str(v) for v in self.values])
        ax.set_xlabel(self.param_name)
        ax.set_ylabel("error")
        ax.set_title(title or f"capacity sweep over {self.param_name}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def _verdict(train: float, test: float, under: float, gap: float) -> str:
    is_under = train > under
    is_over = test - train > gap
    if is_under and is_over:
        return "underfit and overfit"
    if is_under:
        return "underfit"
    if is_over:
        return "overfit"
    return "good fit"


def sweep(values: Sequence, trial: Callable[[Any], tuple], *, param_name: str = "capacity",
          underfit_threshold: float | None = None,
          gap_threshold: float | None = None, n_jobs: int | None = 1,
          backend: str | None = None) -> CapacityResult:
    """Run ``trial(value) -> (train_error, test_error[, extra])`` per setting.

    The general form behind :func:`capacity_sweep` and
    :func:`training_size_sweep`: anything that can report a training and a
    test error for a setting can be swept.

    Args:
        values: settings to try, in order of increasing capacity.
        trial: callable returning ``(train_error, test_error)`` or
            ``(train_error, test_error, extra)`` for one setting.
        param_name: name of the swept quantity, for the text and plot.
        underfit_threshold: training error above which a setting underfits;
            default: the lowest test error in the sweep.
        gap_threshold: test - train gap above which it overfits; default:
            the lowest test error in the sweep.
        n_jobs: trials run at once through joblib (1: one after another in
            this process; -1: all cores).  ``joblib.parallel_config(
            backend="dask")`` (or ``"ray"``) sends them to a cluster.
        backend: joblib backend name (None: joblib's default, or the one
            set by ``joblib.parallel_config``).

    Returns:
        A :class:`CapacityResult`.
    """
    values = list(values)
    if not values:
        raise ValueError("Expected at least one setting to sweep. Received: values=[]")
    train_err, test_err, extras = [], [], []
    for v, res in zip(values, _run_trials(trial, values, n_jobs, backend)):
        if not isinstance(res, tuple) or len(res) not in (2, 3):
            raise ValueError(
                "Expected trial(value) to return (train_error, test_error) or "
                f"(train_error, test_error, extra). Received: {res!r}"
            )
        tr, te = float(res[0]), float(res[1])
        if not (np.isfinite(tr) and np.isfinite(te)):
            raise ValueError(
                f"Expected finite errors. Received: train={tr}, test={te} at "
                f"{param_name}={v}"
            )
        train_err.append(tr)
        test_err.append(te)
        extras.append(res[2] if len(res) == 3 else None)
    best = int(np.argmin(test_err))
    under = test_err[best] if underfit_threshold is None else float(underfit_threshold)
    gap = test_err[best] if gap_threshold is None else float(gap_threshold)
    verdicts = [_verdict(tr, te, under, gap) for tr, te in zip(train_err, test_err)]
    return CapacityResult(param_name, values, train_err, test_err, under, gap,
                          verdicts, best, extras)


def _run_trials(trial: Callable, values: list, n_jobs, backend) -> list:
    """``[trial(v) for v in values]``, on joblib workers unless ``n_jobs == 1``."""
    if n_jobs == 1:
        return [trial(v) for v in values]
    try:
        from joblib import Parallel, delayed
    except ImportError:  # pragma: no cover - joblib comes with the data extra
        raise ImportError(
            'Parallel sweeps need joblib: pip install "chainrule[data]"'
        ) from None
    return Parallel(n_jobs=n_jobs, backend=backend)(delayed(trial)(v) for v in values)


def _check_jobs(n_jobs, seed) -> None:
    if n_jobs != 1 and seed is None:
        raise ValueError(
            "Expected seed= (an int) with n_jobs != 1: each trial then draws from its own "
            "generator, so the results equal n_jobs=1's. Received: seed=None"
        )


def _scope(seed):
    """A fresh generator for ``seed`` in scope, or nothing for None."""
    return nullcontext() if seed is None else use_generator(seed)


def _check_split(X_train, y_train, X_test, y_test):
    for a, b, name in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        if y_train is None:
            continue
        if len(a) != len(b):
            raise ValueError(
                f"Expected as many {name} targets as {name} samples. "
                f"Received: {len(a)} samples and {len(b)} targets"
            )


def _default_error(y):
    if y is not None and np.asarray(y).dtype.kind in "iu":
        return classification_error
    return mean_squared_error


def capacity_sweep(build: Callable[[Any], Any], values: Sequence, X_train, y_train,
                   X_test, y_test, *, train: Callable, error: Callable | None = None,
                   param_name: str = "capacity", underfit_threshold: float | None = None,
                   gap_threshold: float | None = None, seed: int | None = 0,
                   n_jobs: int | None = 1, backend: str | None = None) -> CapacityResult:
    """Train one model per capacity setting; record training and test error.

    For each value: ``model = build(value)``; ``train(model, X_train,
    y_train)``; then ``error(model, X, y)`` on both sets.  See the module
    docstring for the underfitting/overfitting criteria.

    Args:
        build: ``value -> model``, e.g. an MLP with ``value`` hidden units.
        values: settings, in order of increasing capacity.
        X_train, y_train, X_test, y_test: the data (``y_*`` may be ``None``
            for unsupervised models whose ``error`` ignores it).
        train: ``(model, X, y) -> None`` trains the model in place (e.g. a
            call to ``chainrule.training.fit``).
        error: ``(model, X, y) -> float``; default: :func:`classification_error`
            for integer targets, :func:`mean_squared_error` otherwise.
        param_name: name of the swept quantity.
        underfit_threshold, gap_threshold: see :func:`sweep`.
        seed: each setting is built and trained with its own generator
            seeded with ``seed`` in scope (reproducible, comparable
            initialisations; the caller's generator is untouched);
            ``None`` draws from the generator in scope.
        n_jobs, backend: settings trained at once through joblib (see
            :func:`sweep`); the results equal ``n_jobs=1``'s.  ``build``,
            ``train`` and ``error`` must then be picklable (joblib uses
            cloudpickle, so lambdas and local functions are fine).

    Returns:
        A :class:`CapacityResult`; ``.summary()`` gives the text,
        ``.plot(path)`` the U-shaped curve.
    """
    _check_split(X_train, y_train, X_test, y_test)
    _check_jobs(n_jobs, seed)
    err = error or _default_error(y_train)

    def trial(value):
        with _scope(seed):
            model = build(value)
            train(model, X_train, y_train)
        return err(model, X_train, y_train), err(model, X_test, y_test)

    return sweep(values, trial, param_name=param_name,
                 underfit_threshold=underfit_threshold, gap_threshold=gap_threshold,
                 n_jobs=n_jobs, backend=backend)


def training_size_sweep(build: Callable[[], Any], sizes: Sequence[int], X_train, y_train,
                        X_test, y_test, *, train: Callable, error: Callable | None = None,
                        underfit_threshold: float | None = None,
                        gap_threshold: float | None = None, seed: int | None = 0,
                        n_jobs: int | None = 1, backend: str | None = None
                        ) -> CapacityResult:
    """Train the same model on the first n training examples, for each n.

    Book figure 5.4: with more data the training error of a fixed model
    rises and the test error falls towards the Bayes error, so the gap
    (overfitting) shrinks.  The training set is used in its given order;
    shuffle it first.

    Args:
        build: ``() -> model``, called afresh for each size.
        sizes: numbers of training examples, each <= ``len(X_train)``.
        X_train: training inputs, used in their given order.
        y_train: training targets (or None).
        X_test: test inputs.
        y_test: test targets (or None).
        train: ``(model, X, y) -> None`` trains the model in place.
        error: ``(model, X, y) -> float``, as in :func:`capacity_sweep`.
        underfit_threshold: see :func:`sweep`.
        gap_threshold: see :func:`sweep`.
        seed: each size trains in its own generator seeded with ``seed``.
        n_jobs: sizes trained at once through joblib (see :func:`sweep`).
        backend: joblib backend name (see :func:`sweep`).

    Returns:
        A :class:`CapacityResult` with ``param_name="training examples"``;
        training error is measured on the n examples used.
    """
    _check_split(X_train, y_train, X_test, y_test)
    _check_jobs(n_jobs, seed)
    n_max = len(X_train)
    bad = [n for n in sizes if not 1 <= int(n) <= n_max]
    if bad:
        raise ValueError(
            f"Expected sizes between 1 and {n_max} (the training set). Received: {bad}"
        )
    err = error or _default_error(y_train)

    def trial(n):
        Xn = X_train[:n]
        yn = None if y_train is None else y_train[:n]
        with _scope(seed):
            model = build()
            train(model, Xn, yn)
        return err(model, Xn, yn), err(model, X_test, y_test)

    return sweep([int(n) for n in sizes], trial, param_name="training examples",
                 underfit_threshold=underfit_threshold, gap_threshold=gap_threshold,
                 n_jobs=n_jobs, backend=backend)
