"""Reading users' data files: CSV (stdlib ``csv``) and ``.npz`` (no pickle).

A CSV has one sample per line; the first line is taken as a header when
it holds a non-number in a column whose next line is numeric (or pass
``header=``).  The target is the last column unless ``target`` names
another one.  Feature columns must be numeric: a non-numeric or empty
entry is reported with its column name, line and value.

An ``.npz`` holds ``X`` and ``y`` (or ``x``/``y``), optionally ``X_test``
and ``y_test``; it is opened with ``allow_pickle=False``, so a file from
a stranger cannot run code.
"""

from __future__ import annotations

import csv
import os
import zipfile

import numpy as np

__all__ = ["csv_columns", "read_csv", "read_npz"]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _has_header(rows: list) -> bool:
    first = rows[0]
    if all(_is_number(v) for v in first):
        return False
    if len(rows) == 1:
        return True
    second = rows[1]
    return any(not _is_number(a) and _is_number(b) for a, b in zip(first, second))


def _column_index(target, names: list, n_cols: int, path: str) -> int:
    if target is None:
        return n_cols - 1
    if isinstance(target, (int, np.integer)) or (
        isinstance(target, str) and target.isdigit() and target not in names
    ):
        idx = int(target)
        if not -n_cols <= idx < n_cols:
            raise ValueError(
                f"Expected a target column index in 0..{n_cols - 1}. "
                f"Received: {target} ({path} has {n_cols} columns)"
            )
        return idx % n_cols
    if target not in names:
        raise ValueError(
            f"Expected a target column among {names}. Received: target={target!r} "
            f"(columns of {path})"
        )
    return names.index(target)


def _read_rows(path: str) -> list:
    if not os.path.exists(path):
        raise FileNotFoundError(f"Expected an existing file. Received: {path!r} (no such file)")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [[v.strip() for v in row] for row in csv.reader(f)]
    return [r for r in rows if any(v != "" for v in r)]


def _to_float_column(values: list, name: str, first_line: int) -> np.ndarray:
    out = np.empty(len(values), np.float64)
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except ValueError:
            what = "an empty (missing) entry" if v == "" else f"the non-numeric value {v!r}"
            raise ValueError(
                f"Expected numeric values in feature column {name}. Received: {what} "
                f"on line {first_line + i}. Encode categories as numbers (e.g. one-hot) "
                "and fill missing values before training."
            ) from None
    return out


def csv_columns(path: str) -> tuple[int, list | None]:
    """``(number of columns, header names or None)`` of a CSV file."""
    rows = _read_rows(str(path))
    if not rows:
        raise ValueError(f"Expected a CSV with at least one data row. Received: {path!r} is empty")
    return len(rows[0]), (rows[0] if _has_header(rows) else None)


def read_csv(path: str, target=None, header: bool | None = None, has_target: bool = True) -> dict:
    """Read a CSV into ``{"X", "y", "feature_names", "target_name"}``.

    Args:
        path: the file.
        target: target column name (needs a header) or 0-based index;
            default the last column.
        header: whether the first line holds names; None guesses.
        has_target: False for feature-only files (prediction input).
    """
    path = str(path)
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"Expected a CSV with at least one data row. Received: {path!r} is empty")
    if header is None:
        header = _has_header(rows)
    names = rows[0] if header else [f"column {i}" for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    if not body:
        raise ValueError(
            f"Expected at least one data row after the header. Received: {path!r} "
            "has only a header"
        )
    n_cols = len(names)
    first_line = 2 if header else 1
    for i, row in enumerate(body):
        if len(row) != n_cols:
            raise ValueError(
                f"Expected {n_cols} columns on every line of {path!r}. "
                f"Received: {len(row)} on line {first_line + i}"
            )
    min_cols = 2 if has_target else 1
    if n_cols < min_cols:
        raise ValueError(
            f"Expected at least {min_cols} columns (features"
            f"{' and a target' if has_target else ''}). Received: {n_cols}"
        )
    t_idx = _column_index(target, names, n_cols, path) if has_target else None
    columns = list(zip(*body))
    feats = [j for j in range(n_cols) if j != t_idx]
    X = np.stack([_to_float_column(columns[j], repr(names[j]), first_line) for j in feats], 1)
    out = {
        "X": X.astype(np.float32),
        "feature_names": [names[j] for j in feats],
        "target_name": None if t_idx is None else names[t_idx],
        "y": None,
    }
    if t_idx is not None:
        raw = list(columns[t_idx])
        if any(v == "" for v in raw):
            line = first_line + raw.index("")
            raise ValueError(
                f"Expected a target on every line. Received: an empty entry in "
                f"column {names[t_idx]!r} on line {line}"
            )
        if all(_is_number(v) for v in raw):
            y = np.array([float(v) for v in raw])
            out["y"] = (
                y.astype(np.int64)
                if np.all(y == np.round(y)) and np.all(np.isfinite(y))
                else y.astype(np.float32)
            )
        else:
            out["y"] = np.array(raw)
    return out


def read_npz(path: str, require_target: bool = True) -> dict:
    """Read ``X``/``y`` (or ``x``/``y``, plus optional ``*_test``) from an npz."""
    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Expected an existing file. Received: {path!r} (no such file)")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(
            f"Expected a readable .npz of numeric arrays (no pickled objects). Received: "
            f"{path!r}: {err}"
        ) from None
    out = {"feature_names": None, "target_name": "y", "y": None}
    for suffix in ("", "_test"):
        xk = next((k for k in (f"X{suffix}", f"x{suffix}") if k in arrays), None)
        yk = f"y{suffix}" if f"y{suffix}" in arrays else None
        if suffix == "" and xk is None:
            raise ValueError(
                f"Expected arrays named 'X' (or 'x') and 'y' in {path!r}. "
                f"Received: {sorted(arrays)}"
            )
        if suffix == "" and yk is None and require_target:
            raise ValueError(
                f"Expected a target array 'y' in {path!r}. Received: {sorted(arrays)}"
            )
        out[f"X{suffix}"] = None if xk is None else arrays[xk]
        if yk is not None:
            out[f"y{suffix}"] = arrays[yk]
    if (out["X_test"] is None) != (out.get("y_test") is None) and require_target:
        raise ValueError(
            f"Expected both X_test and y_test in {path!r}, or neither. Received: {sorted(arrays)}"
        )
    return out
