"""Input checks shared by the fit loop, the estimators and the command line.

:func:`check_dataset` is the one check of a training or evaluation set,
run once before the loop: dtypes, shapes, NaN/inf, targets and labels.
The smaller checks are its parts, also used alone (``predict``, run files).

Each check raises an error in the form "Expected X. Received: Y", naming
the offending shape, dtype, row or label, so bad data never reaches the
training loop (where it would surface as a NaN loss many steps later).
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_class_labels", "check_dataset", "check_features", "check_targets"]


def _first_bad_row(mask: np.ndarray) -> int:
    rows = mask.reshape(mask.shape[0], -1).any(axis=1)
    return int(np.flatnonzero(rows)[0])


def check_count(value, name: str, minimum: int, unit: str = "") -> int:
    """``value`` as an int, or a clear error: a whole number (not a bool) >= ``minimum``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        what = f" (a whole number of {unit})" if unit else ""
        raise TypeError(
            f"Expected {name} to be an integer{what}. "
            f"Received: {name}={value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"Expected {name} >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_features(X, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """Return ``X`` as a float32 array of shape (n_samples, ...), or raise.

    Args:
        X: array-like of numbers, 2-D (samples, features) or more.
        name: how the array is called in error messages.
        n_features: if given, the trailing shape the model expects
            (an int for 2-D data).

    Raises:
        ValueError: 1-D or empty input, NaN/inf entries, wrong feature count.
        TypeError: non-numeric entries.
    """
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Expected {name} to hold numbers. Received: dtype={arr.dtype}"
            + (f" (first entry {arr.flat[0]!r})" if arr.size else "")
        )
    if arr.ndim < 2:
        raise ValueError(
            f"Expected {name} of shape (n_samples, n_features). Received: "
            f"{arr.ndim}-D array of shape {arr.shape}. Use {name}.reshape(-1, 1) "
            f"for a single feature or {name}.reshape(1, -1) for a single sample."
        )
    if arr.shape[0] == 0 or arr.size == 0:
        raise ValueError(
            f"Expected at least one sample and one feature in {name}. Received: shape {arr.shape}"
        )
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 4:
        big = np.isfinite(arr) & (np.abs(arr) > np.finfo(np.float32).max)
        if big.any():  # NaN and inf are reported below
            row = _first_bad_row(big)
            raise ValueError(
                f"Expected values within ±{np.finfo(np.float32).max:.3g} (float32) in {name}. "
                f"Received: {arr[big][0]!r} in row {row} (it would become inf)"
            )
    arr = np.asarray(arr, dtype=np.float32)
    # min and max are NaN or ±inf exactly when an entry is: no mask the size of the data
    if not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        finite = np.isfinite(arr)
        row = _first_bad_row(~finite)
        raise ValueError(
            f"Expected finite values in {name}. Received: NaN or inf in row {row} "
            f"({int((~finite).sum())} non-finite entries in all)"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"Expected {name} with {n_features} features (as at training). "
            f"Received: {arr.shape[1]} features (shape {arr.shape})"
        )
    return arr


def check_targets(y, n_samples: int, name: str = "y", integer: bool = False) -> np.ndarray:
    """Return targets as int64 (``integer``) or float32, or raise.

    Float targets that are whole numbers are accepted as class ids.
    """
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Expected numeric {name}. Received: dtype={arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"Expected {name} with one entry per sample. Received: a scalar")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"Expected {name} with {n_samples} entries (one per sample of X). "
            f"Received: {arr.shape[0]} (shape {arr.shape})"
        )
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            row = _first_bad_row(~finite)
            raise ValueError(
                f"Expected finite values in {name}. Received: "
                f"{arr.reshape(arr.shape[0], -1)[row][~finite.reshape(arr.shape[0], -1)[row]][0]}"
                f" in row {row} (NaN and inf are refused as targets and as labels)"
            )
    if integer and arr.ndim == 2 and arr.shape[1] == 1:
        # (n, d) class ids with d > 1 are one id per position, for (N, C, d) logits
        raise ValueError(
            f"Expected {name} of shape (n_samples,): one class id per row. Received: "
            f"shape {arr.shape}; pass {name}.ravel()"
        )
    if not integer:
        return np.asarray(arr, dtype=np.float32)
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        row = _first_bad_row(arr != np.round(arr))
        raise ValueError(
            f"Expected integer class ids in {name}. Received: a fractional "
            f"value {arr[arr != np.round(arr)][0]} in row {row}"
        )
    return np.asarray(arr, dtype=np.int64)


def check_class_labels(y: np.ndarray, n_classes: int, name: str = "y") -> None:
    """Raise unless every label lies in 0..n_classes-1."""
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        row = _first_bad_row(bad)
        raise ValueError(
            f"Expected class ids in 0..{n_classes - 1} (the model has {n_classes} "
            f"outputs). Received: {int(y[bad][0])} in row {row} of {name}"
        )


def check_dataset(
    X,
    y=None,
    *,
    targets: str = "any",
    input_size: tuple | None = None,
    n_classes: int | None = None,
    name: str = "X",
):
    """Check a whole dataset once, before training or scoring; return ``(X, y)`` as arrays.

    X becomes float32 (finite, at least 2-D, non-empty); y becomes int64
    class ids or float32 targets (``y=None``: X itself, for autoencoders).

    Args:
        X: features, (n_samples, ...).
        y: targets with one entry per row, or None.
        targets: ``"int"`` (class ids), ``"binary"`` (0/1), ``"float"``, or
            ``"any"`` (integer dtypes stay int64, others float32).
        input_size: ``(axis, size)`` the model's first layer reads (e.g.
            ``(-1, 4)`` for a Linear of 4 inputs, ``(1, 3)`` for a Conv2d
            of 3 channels); None skips the check.
        n_classes: number of output units for class ids (labels must lie
            in 0..n_classes-1); None skips the check.
        name: how X is called in messages (y's name follows it).

    Raises:
        ValueError / TypeError naming the row, label or shape at fault.
    """
    X = check_features(X, name=name)
    if input_size is not None:
        axis, size = input_size
        if X.ndim <= axis or X.shape[axis] != size:
            raise ValueError(
                f"The model cannot take {name} of shape {X.shape}: its first layer expects "
                f"{size} entries on axis {axis}. Received: {X.shape[axis]}"
            )
    if y is None:
        return X, X
    y_name = name.replace("X", "y")
    if targets == "any":
        targets = "int" if np.asarray(y).dtype.kind in "iu" else "float"
    arr = check_targets(y, X.shape[0], name=y_name, integer=targets == "int")
    if targets == "binary" and not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)][0]
        raise ValueError(f"Expected 0/1 labels in {y_name}. Received: {bad}")
    if targets == "int" and n_classes is not None:
        check_class_labels(arr, n_classes, name=y_name)
    return X, arr
