"""Reading users' data files: CSV and ``.npz`` (no pickle).

A CSV has one sample per line; the first line is taken as a header when
it holds a non-number in a column whose next line is numeric (or pass
``header=``).  The target is the last column unless ``target`` names
another one.  Feature columns must be numeric: a non-numeric or empty
entry, or a value beyond float32's range, is reported with its column
name, line and value; a folder or a non-UTF-8 file with the file's name.
A numeric target written as integers ("3") comes back as int64 class ids,
one written as reals ("151.0") as float32 values, except class ids written
as reals: whole values that are exactly 0, 1, ..., K-1 (K ≤
:data:`MAX_REAL_CLASSES`; "0.0"/"1.0", or iris saved by ``np.savetxt``)
come back as int64 class ids, with a ``"target_note"`` saying so (pass
``task="regression"`` to regress them).  A NaN or infinite target is
refused with its line.  Leading ``# comment`` lines are skipped, and a
column that is empty on every line (a trailing comma on each) is dropped.

Speed: a well-formed CSV is parsed by ``np.loadtxt`` (all-numeric files)
or by pandas when it is installed (a text target column); any file those
readers refuse is read again by the exact stdlib ``csv`` path, which finds
the first problem and names its column, line and value.  A bad file costs
two reads; a good one is read once, in C, at float64 column arrays.

An ``.npz`` holds ``X`` and ``y`` (or ``x``/``y``), optionally ``X_test``
and ``y_test``; it is opened with ``allow_pickle=False``, so a file from
a stranger cannot run code.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections.abc import Sequence

import numpy as np

__all__ = ["csv_columns", "read_csv", "read_npz"]


_F32_MAX = float(np.finfo(np.float32).max)


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


def check_file(path: str) -> None:
    """Raise a clear error unless ``path`` is an existing regular file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Expected an existing file. Received: {path!r} (no such file)")
    if not os.path.isfile(path):
        raise ValueError(f"Expected a data file. Received: {path!r} is a folder, not a file")


def _csv_rows(path: str):
    """The rows of a CSV as stripped strings, after any leading ``#`` comment lines;
    a non-UTF-8 or malformed file names itself."""
    check_file(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            leading = True
            for row in csv.reader(f):
                if leading and row and row[0].lstrip().startswith("#"):
                    continue
                leading = False
                yield [v.strip() for v in row]
    except UnicodeDecodeError as err:
        raise ValueError(
            f"Expected a UTF-8 text file. Received: {path!r} has the byte "
            f"0x{err.object[err.start]:02x} at offset {err.start}, which is not UTF-8 "
            "(save the file as UTF-8, e.g. from Latin-1)"
        ) from None
    except csv.Error as err:
        raise ValueError(f"Expected a well-formed CSV. Received: {path!r}: {err}") from None


def _read_rows(path: str) -> list:
    rows = [r for r in _csv_rows(path) if any(v != "" for v in r)]
    if len(rows) > 0 and all(len(r) > 1 and r[-1] == "" for r in rows):
        rows = [r[:-1] for r in rows]  # a trailing comma on every line: no column there
    return rows


def _leading_comments(path: str) -> int:
    """The number of ``#`` comment lines at the top of the file (skipped by the readers)."""
    n = 0
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            if not line.lstrip().startswith("#"):
                break
            n += 1
    return n


def _plain_start(path: str) -> bool:
    """Whether the file starts with neither a ``#`` comment line nor a trailing comma
    (the fast readers take it as it is)."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        first = f.readline().rstrip("\r\n")
    return not first.lstrip().startswith("#") and not first.rstrip().endswith(",")


def _to_float_column(values: Sequence[str], name: str, first_line: int) -> np.ndarray:
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
    big = np.isfinite(out) & (np.abs(out) > _F32_MAX)  # NaN/inf: check_features names them
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise ValueError(
            f"Expected numbers within ±{_F32_MAX:.3g} (float32) in feature column "
            f"{name}. Received: {values[i]!r} on line {first_line + i} (it would become inf)"
        )
    return out


def csv_columns(path: str) -> tuple[int, list | None]:
    """``(number of columns, header names or None)`` of a CSV file."""
    rows, _ = _peek_rows(str(path))  # the first two rows decide; no need to read the rest
    if not rows:
        raise ValueError(f"Expected a CSV with at least one data row. Received: {path!r} is empty")
    if all(len(r) > 1 and r[-1] == "" for r in rows):
        rows = [r[:-1] for r in rows]
    return len(rows[0]), (rows[0] if _has_header(rows) else None)


def _peek_rows(path: str, n: int = 2) -> tuple[list, bool]:
    """The first ``n`` non-empty rows, and whether the file's first line is one."""
    rows: list = []
    first_line_used = False
    for i, row in enumerate(_csv_rows(path)):
        if any(v != "" for v in row):
            first_line_used = first_line_used or i == 0
            rows.append(row)
            if len(rows) == n:
                break
    return rows, first_line_used


def _fast_numeric(path: str, skip: int, n_cols: int) -> np.ndarray | None:
    """All columns as float64 with ``np.loadtxt``, or None if it refuses the file."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty body warns: let the exact path decide
            data = np.loadtxt(path, dtype=np.float64, delimiter=",", skiprows=skip,
                              comments=None, quotechar='"', encoding="utf-8-sig", ndmin=2)
    except (ValueError, UserWarning):
        return None
    if data.shape[1] != n_cols or data.shape[0] == 0 or not _within_float32(data):
        return None  # NaN, inf, or beyond float32: the exact path names the entry
    return data


def _within_float32(a: np.ndarray) -> bool:
    """All entries finite and within float32's range (two reductions, no temporary)."""
    return bool(a.max() <= _F32_MAX and a.min() >= -_F32_MAX)  # NaN fails both


def _fast_mixed(path: str, skip: int, n_cols: int, t_idx: int):
    """(float64 features, str target) with pandas, or None (no pandas, or refused)."""
    try:
        import pandas as pd
    except ImportError:
        return None
    dtypes = {j: (str if j == t_idx else np.float64) for j in range(n_cols)}
    try:
        frame = pd.read_csv(path, header=None, skiprows=skip, dtype=dtypes,
                            skipinitialspace=True, encoding="utf-8-sig", quotechar='"',
                            skip_blank_lines=True, engine="c")
    except (ValueError, pd.errors.ParserError, OverflowError):
        return None
    if frame.shape[1] != n_cols or len(frame) == 0 or frame.isna().to_numpy().any():
        return None
    feats = frame.drop(columns=[t_idx]).to_numpy(dtype=np.float64)
    if not _within_float32(feats):
        return None
    y = np.array([v.strip() for v in frame[t_idx]])
    if (y == "").any() or all(_is_number(v) for v in y[:TARGET_TEXT_ROWS]):
        return None  # numbers with NaN/inf: the exact path refuses them by line
    return feats, y


def _columns_float32(data: np.ndarray, cols: list) -> np.ndarray:
    """``data[:, cols]`` as float32, without a float64 copy when cols are a range."""
    if cols and cols == list(range(cols[0], cols[-1] + 1)):
        return data[:, cols[0]:cols[-1] + 1].astype(np.float32)
    return data[:, cols].astype(np.float32)


def _is_integer_text(text: str) -> bool:
    return text.lstrip("+-").isdigit()


#: rows whose target text decides "3" (class id) vs "3.0" (a real value) on the fast path
TARGET_TEXT_ROWS = 1000

#: whole reals 0.0 .. K-1 with K up to this are class ids written as reals
MAX_REAL_CLASSES = 50

REAL_CLASSES_NOTE = (
    "the target column holds the class ids 0..{k} written as real numbers: read as "
    "{n} classes (pass task='regression', or --task regression, to regress them)"
)


def _real_class_ids(y: np.ndarray) -> bool:
    """Whole reals that are exactly 0, 1, ..., K-1 with 2 <= K <= MAX_REAL_CLASSES."""
    if y.size == 0 or not np.all(y == np.round(y)):
        return False
    values = np.unique(y)
    k = len(values)
    return 2 <= k <= MAX_REAL_CLASSES and k < y.size and bool(
        np.array_equal(values, np.arange(k)))


def _target_array(raw: np.ndarray, path: str, t_idx: int) -> np.ndarray:
    """Numeric targets: int64 when written as integers ("3"), else float32.

    A target written as a real number ("151.0") stays real even when its
    value is whole: the file says it is a measurement, not a class id.
    The text of the first :data:`TARGET_TEXT_ROWS` data rows decides (a
    second full parse would cost as much as the first).
    """
    if not (np.all(raw == np.round(raw)) and np.all(np.isfinite(raw))):
        return raw.astype(np.float32)
    rows, _ = _peek_rows(path, TARGET_TEXT_ROWS + 1)
    texts = [r[t_idx] for r in rows if len(r) > t_idx and _is_number(r[t_idx])]
    if all(_is_integer_text(v) for v in texts) or _real_class_ids(raw):
        return raw.astype(np.int64)
    return raw.astype(np.float32)


def _note(out: dict, integer_text: bool) -> dict:
    """Add the ``target_note`` of class ids written as reals."""
    y = out.get("y")
    if not integer_text and y is not None and y.dtype == np.int64:
        k = int(y.max()) + 1
        out["target_note"] = REAL_CLASSES_NOTE.format(k=k - 1, n=k)
    return out


def _naming_file(err: Exception, path: str) -> Exception:
    """``err`` with the file named in its message (itself if it names it already)."""
    text = str(err)
    if path in text or repr(path) in text:
        return err
    try:
        return type(err)(f"{text} (file {path!r})")
    except TypeError:  # pragma: no cover - an exception class with other arguments
        return ValueError(f"{text} (file {path!r})")


def read_csv(path: str, target=None, header: bool | None = None, has_target: bool = True) -> dict:
    """Read a CSV into ``{"X", "y", "feature_names", "target_name", "target_index", "header"}``
    (plus ``"target_note"`` for class ids written as reals).

    Args:
        path: the file.
        target: target column name (needs a header) or 0-based index;
            default the last column.
        header: whether the first line holds names; None guesses.
        has_target: False for feature-only files (prediction input).

    Raises:
        FileNotFoundError: no such file.
        ValueError, TypeError: an unreadable or malformed file; the message
            names the file and the problem (column, line, value).
    """
    path = str(path)
    try:
        return _read_csv(path, target, header, has_target)
    except (ValueError, TypeError) as err:
        raise _naming_file(err, path) from None


def _read_csv(path: str, target, header: bool | None, has_target: bool) -> dict:
    head, first_line_used = _peek_rows(path)
    if head and first_line_used and _plain_start(path):
        guessed = _has_header(head) if header is None else bool(header)
        names = head[0] if guessed else [f"column {i}" for i in range(len(head[0]))]
        n_cols = len(names)
        min_cols = 2 if has_target else 1
        data = _fast_numeric(path, int(guessed), n_cols) if n_cols >= min_cols else None
        fast = None
        if data is not None:
            t_idx = _column_index(target, names, n_cols, path) if has_target else None
            feats = [j for j in range(n_cols) if j != t_idx]
            y = None if t_idx is None else _target_array(data[:, t_idx], path, t_idx)
            fast = (_columns_float32(data, feats), y, feats, t_idx)
        elif has_target and n_cols >= min_cols:
            try:
                t_idx = _column_index(target, names, n_cols, path)
            except ValueError:
                t_idx = None  # the exact path reports it, after the checks that come first
            mixed = None if t_idx is None else _fast_mixed(path, int(guessed), n_cols, t_idx)
            if mixed is not None:
                feats = [j for j in range(n_cols) if j != t_idx]
                fast = (mixed[0], mixed[1], feats, t_idx)
        if fast is not None:
            X, y, feats, t_idx = fast
            integer_text = y is None or y.dtype != np.int64 or not _real_class_ids(
                np.asarray(y, np.float64)) or _integer_texts(path, t_idx)
            return _note({
                "X": X if X.dtype == np.float32 else X.astype(np.float32),
                "feature_names": [names[j] for j in feats],
                "target_name": None if t_idx is None else names[t_idx],
                "target_index": t_idx,
                "header": bool(guessed),
                "y": y,
            }, integer_text)
    return _read_csv_exact(path, target, header, has_target)


def _integer_texts(path: str, t_idx) -> bool:
    """Whether the first target entries are written as integers ("3", not "3.0")."""
    rows, _ = _peek_rows(path, TARGET_TEXT_ROWS + 1)
    texts = [r[t_idx] for r in rows if len(r) > t_idx and _is_number(r[t_idx])]
    return all(_is_integer_text(v) for v in texts)


def _read_csv_exact(path: str, target, header: bool | None, has_target: bool) -> dict:
    """The stdlib ``csv`` reader: slower, and names the first problem precisely (and the file)."""
    try:
        return _read_csv_rows(path, target, header, has_target)
    except (ValueError, TypeError) as err:
        raise _naming_file(err, path) from None


def _read_csv_rows(path: str, target, header: bool | None, has_target: bool) -> dict:
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
    first_line = (2 if header else 1) + _leading_comments(path)
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
        "target_index": t_idx,
        "header": bool(header),
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
            bad = ~np.isfinite(y)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"Expected a finite target on every line of {path!r}. Received: "
                    f"{raw[i]!r} in column {names[t_idx]!r} on line {first_line + i} "
                    "(NaN and inf are refused as targets and as labels)"
                )
            integer_text = all(_is_integer_text(v) for v in raw)
            out["y"] = (y.astype(np.int64) if integer_text or _real_class_ids(y)
                        else y.astype(np.float32))
            _note(out, integer_text)
        else:
            out["y"] = np.array(raw)
    return out


def check_npz_magic(path: str) -> None:
    """Raise a clear error unless ``path`` starts like a zip archive (an ``.npz``)."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"PK"):
        return
    what = "a .npy array file" if magic == b"\x93NUMPY" else "not a zip archive"
    raise ValueError(
        f"Expected an .npz archive (np.savez). Received: {path!r} is {what}"
        + (" renamed to .npz; save it with np.savez(path, X=..., y=...)" if "npy" in what else "")
    )


def read_npz(path: str, require_target: bool = True) -> dict:
    """Read ``X``/``y`` (or ``x``/``y``, plus optional ``*_test``) from an npz.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unreadable file or missing arrays (the message names the file).
    """
    path = str(path)
    try:
        return _read_npz(path, require_target)
    except (ValueError, TypeError) as err:
        raise _naming_file(err, path) from None


def _read_npz(path: str, require_target: bool) -> dict:
    check_file(path)
    check_npz_magic(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError, RuntimeError) as err:
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
