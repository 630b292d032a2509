"""Bundled datasets and users' CSV / ``.npz`` files, split and standardised.

:func:`load_dataset` returns ``(X_train, y_train, X_test, y_test)`` with
float32 features standardised by the *training* statistics (so nothing
about the test set leaks into training) and int64 class ids for
classification.  :func:`load_split` returns the same plus what is needed
to treat new data the same way later (mean, scale, classes, task).

Bundled names: scikit-learn's ``digits``, ``breast_cancer``, ``wine``,
``iris`` (classification) and ``diabetes`` (regression), and ``mnist1d``
(generated locally by the ``mnist1d`` package; it has its own fixed
4000/1000 train/test split, so ``test_size`` does not apply).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .files import check_file, read_csv, read_npz
from .loader import standardize
from .validation import check_features, check_targets

__all__ = ["BUNDLED", "SplitDataset", "load_dataset", "load_raw", "load_split"]

BUNDLED = ("digits", "breast_cancer", "wine", "iris", "diabetes", "mnist1d")


@dataclass
class SplitDataset:
    """A train/test split plus the preprocessing that produced it.

    Attributes:
        X_train, y_train, X_test, y_test: the arrays (X standardised).
        task: ``"classification"`` or ``"regression"``.
        mean, scale: per-feature statistics of the raw training features;
            new data is standardised as ``(X - mean) / scale``.
        classes: original label of each class id (classification), e.g.
            the strings of a CSV's label column; None for regression.
        feature_names: column names when the source has them.
        name: dataset name or file path.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    task: str
    mean: np.ndarray
    scale: np.ndarray
    classes: list | None = None
    feature_names: list | None = None
    target_name: str | None = None
    name: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def n_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def as_tuple(self):
        return self.X_train, self.y_train, self.X_test, self.y_test


def _sklearn_loader(name: str):
    try:
        from sklearn import datasets as skd
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            f"Dataset {name!r} comes with scikit-learn, which is not installed. "
            "Install it with: pip install 'chainrule[data]'"
        ) from err
    return getattr(skd, f"load_{name}")


def load_raw(name: str, target: str | None = None, task: str = "auto") -> dict:
    """Unsplit, unscaled data: a dict with X, y, task, classes, names.

    ``name`` is a bundled name or a path to a ``.csv`` / ``.npz`` file.
    mnist1d also returns X_test/y_test (its own split).
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"Expected a dataset name or file path. Received: {type(name).__name__}")
    key = str(name)
    if key in BUNDLED:
        if target is not None:
            raise ValueError(
                f"Expected no target column for bundled dataset {key!r}. "
                f"Received: target={target!r}"
            )
        if key == "mnist1d":
            return _with_task(_mnist1d(), task, key)
        bunch = _sklearn_loader(key)()
        is_clf = key != "diabetes"
        y = bunch.target.astype(np.int64 if is_clf else np.float32)
        classes = None
        if is_clf:
            names = getattr(bunch, "target_names", None)
            classes = [str(c) for c in names] if names is not None else None
            if classes is None or len(classes) != int(y.max()) + 1:
                classes = [str(c) for c in range(int(y.max()) + 1)]
        raw = {
            "X": bunch.data.astype(np.float32),
            "y": y,
            "task": "classification" if is_clf else "regression",
            "classes": classes,
            "feature_names": [str(f) for f in getattr(bunch, "feature_names", [])] or None,
            "target_name": "target",
        }
        return _with_task(raw, task, key)
    suffix = os.path.splitext(key)[1].lower()
    if suffix not in (".csv", ".npz"):
        raise ValueError(
            f"Expected a bundled dataset name {BUNDLED} or a path ending in .csv or .npz. "
            f"Received: {key!r}"
        )
    check_file(key)
    raw = read_csv(key, target=target) if suffix == ".csv" else read_npz(key)
    raw["source"] = suffix[1:]
    return _infer_task(raw, task)


def _mnist1d() -> dict:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "Dataset 'mnist1d' needs the mnist1d package: pip install 'chainrule[data]'"
        ) from err
    # make_dataset generates the data locally from fixed templates and a
    # fixed seed; get_dataset would download, so it is never used here
    d = make_dataset(get_dataset_args())
    return {
        "X": np.asarray(d["x"], np.float32),
        "y": np.asarray(d["y"], np.int64),
        "X_test": np.asarray(d["x_test"], np.float32),
        "y_test": np.asarray(d["y_test"], np.int64),
        "task": "classification",
        "classes": [str(c) for c in range(10)],
        "feature_names": None,
        "target_name": "digit",
    }


#: more distinct integer targets than this is ambiguous: classes, or counts to regress?
MAX_AUTO_CLASSES = 50

_TASKS = ("auto", "classification", "regression")


def _check_task(task) -> None:
    if task not in _TASKS:
        raise ValueError(
            f"Expected task 'auto', 'classification' or 'regression'. Received: {task!r}"
        )


def _with_task(raw: dict, task: str, name: str) -> dict:
    """A bundled dataset under the task asked for (its own task for "auto")."""
    _check_task(task)
    if task == "auto" or task == raw["task"]:
        return raw
    if task == "regression":
        raw["y"] = raw["y"].astype(np.float32)
        if raw.get("y_test") is not None:
            raw["y_test"] = raw["y_test"].astype(np.float32)
        raw["task"], raw["classes"] = "regression", None
        return raw
    return _infer_task(raw, task)


def _auto_task(y: np.ndarray, float_labels: bool) -> str:
    """Classes for labels and integers, regression for real values; ask when unclear.

    A CSV target written as an integer ("3") arrives as int64, one written
    as a real number ("151.0") as float32 (see :func:`read_csv`): reals are
    regressed.  With ``float_labels`` (``.npz`` files, where labels are
    often saved as floats) whole-valued floats with at most
    :data:`MAX_AUTO_CLASSES` distinct values are class ids.  More distinct
    integers than that is ambiguous: the user is asked for the task.
    """
    if y.dtype.kind not in "biuf":
        return "classification"
    integral = bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))
    if y.dtype.kind == "f" and not (integral and float_labels):
        return "regression"
    n_distinct = len(np.unique(y))
    if n_distinct <= MAX_AUTO_CLASSES:
        return "classification"
    raise ValueError(
        f"Expected a target whose task is clear. Received: {n_distinct} distinct whole-number "
        f"targets (more than {MAX_AUTO_CLASSES}): class ids or values to regress? "
        "Pass --task classification or --task regression (task= in Python)"
    )


def _infer_task(raw: dict, task: str) -> dict:
    """Decide classification vs regression for a user's file and encode labels."""
    _check_task(task)
    y = raw["y"]
    ys = [y] + ([raw["y_test"]] if raw.get("y_test") is not None else [])
    numeric = y.dtype.kind in "biuf"
    if task == "auto":
        y_all = y if raw.get("y_test") is None else np.concatenate(ys)
        task = _auto_task(y_all, float_labels=raw.get("source") == "npz")
    raw["task"] = task
    if task == "regression":
        if not numeric:
            raise ValueError(
                "Expected a numeric target for regression. Received: "
                f"non-numeric value {y[0]!r} in the target column"
            )
        raw["classes"] = None
        return raw
    labels = np.unique(
        np.concatenate([np.asarray(v).astype(str if not numeric else v.dtype) for v in ys])
    )
    if numeric:
        check_targets(labels, len(labels), name="the target column", integer=True)
        labels = labels.astype(np.int64)
    lookup = {lab.item() if hasattr(lab, "item") else lab: i for i, lab in enumerate(labels)}
    raw["y"] = np.array([lookup[v.item() if hasattr(v, "item") else v] for v in y], np.int64)
    if raw.get("y_test") is not None:
        raw["y_test"] = np.array(
            [lookup[v.item() if hasattr(v, "item") else v] for v in raw["y_test"]], np.int64
        )
    raw["classes"] = [str(v) for v in labels]
    return raw


def load_split(
    name: str,
    test_size: float = 0.25,
    seed: int = 0,
    *,
    target: str | None = None,
    task: str = "auto",
    standardize_features: bool = True,
) -> SplitDataset:
    """Load, split (stratified for classification) and standardise a dataset.

    Args:
        name: a bundled name (see :data:`BUNDLED`) or a ``.csv``/``.npz`` path.
        test_size: share of rows held out for testing, in (0, 1). Ignored
            where the source has its own test split (mnist1d; npz files
            with ``X_test``/``y_test``).
        seed: seed of the split (its own generator, not the global one).
        target: CSV only: name (or 0-based index) of the target column;
            default: the last column.
        task: "auto", "classification" or "regression" (user files).
        standardize_features: scale X by the training mean and std.

    Returns:
        A :class:`SplitDataset`.
    """
    from .loader import train_val_split

    raw = load_raw(name, target=target, task=task)
    is_clf = raw["task"] == "classification"
    X = check_features(raw["X"], name="X")
    y = check_targets(raw["y"], X.shape[0], integer=is_clf)
    if raw.get("X_test") is not None:
        X_tr, y_tr = X, y
        X_te = check_features(raw["X_test"], name="X_test", n_features=X.shape[1])
        y_te = check_targets(raw["y_test"], X_te.shape[0], name="y_test", integer=is_clf)
    else:
        can_stratify = is_clf and len(y) > 0 and np.bincount(y).min() >= 2
        X_tr, y_tr, X_te, y_te = train_val_split(
            X, y, test_size, seed=seed, stratify=bool(can_stratify)
        )
    if standardize_features:
        mean, scale, X_tr, X_te = standardize(X_tr, X_te)
    else:
        mean = np.zeros(X.shape[1:], np.float32)
        scale = np.ones(X.shape[1:], np.float32)
    return SplitDataset(
        X_tr,
        y_tr,
        X_te,
        y_te,
        raw["task"],
        mean,
        scale,
        classes=raw.get("classes"),
        feature_names=raw.get("feature_names"),
        target_name=raw.get("target_name"),
        name=str(name),
        extra={k: raw[k] for k in ("target_index", "header") if k in raw},
    )


def load_dataset(name: str, test_size: float = 0.25, seed: int = 0, **kwargs):
    """Load a dataset as ``(X_train, y_train, X_test, y_test)``.

    Features are float32, standardised with the training statistics;
    targets are int64 class ids (classification) or float32 (regression).
    The split is stratified for classification and depends only on
    ``seed``.  See :func:`load_split` for the arguments.

    Example:
        >>> X_train, y_train, X_test, y_test = load_dataset("digits")
        >>> X_train.shape, X_test.shape
        ((1348, 64), (449, 64))
    """
    return load_split(name, test_size=test_size, seed=seed, **kwargs).as_tuple()
