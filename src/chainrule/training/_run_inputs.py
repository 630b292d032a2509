"""Reading a user's file for a saved run: columns matched, labels encoded.

A CSV with a header is matched to the run's feature names (any order; a
missing or unknown column is an error naming it); a headerless file by
position, with the target where it was at training.  Labels must be ones
seen at training (integers count as class ids only when the class names
are words).
"""

from __future__ import annotations

import os

import numpy as np

from ..data.files import csv_columns, read_csv, read_npz
from ..data.validation import check_features

__all__ = []


def _input_columns(path: str, info: dict, need_target: bool):
    """``(target column or None, order of the run's features in the file)`` of a CSV."""
    n = info["n_features"]
    n_cols, names = csv_columns(path)
    trained = info.get("feature_names")
    tname = info.get("target_name")
    if names is not None and info.get("header") and trained:
        # both have a header: match by name, in any order
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise ValueError(f"Expected distinct column names in {path!r}. Received: {dup} twice")
        missing = [c for c in trained if c not in names]
        extra = [c for c in names if c not in trained and c != tname]
        if missing or extra:
            raise ValueError(
                f"Expected the training columns {trained} (and optionally the target "
                f"{tname!r}) in {path!r}. Received: "
                + "; ".join(
                    ([f"missing {missing}"] if missing else [])
                    + ([f"unknown {extra}"] if extra else [])
                )
            )
        t_idx = names.index(tname) if tname in names else None
        if need_target and t_idx is None:
            raise ValueError(
                f"Expected the target column {tname!r} in {path!r}. Received: columns {names}"
            )
        feats = [c for c in names if c != tname]
        return t_idx, [feats.index(c) for c in trained]
    # by position: features only, or features with the target where it was at training
    if n_cols == n and not need_target:
        return None, list(range(n))
    if n_cols == n + 1:
        t_idx = info.get("target_index")
        t_idx = n_cols - 1 if t_idx is None else int(t_idx)
        return t_idx, list(range(n))
    wanted = f"{n + 1}" if need_target else f"{n} (features) or {n + 1} (with the target)"
    raise ValueError(
        f"Expected {wanted} columns in {path!r}, as at training. Received: {n_cols} columns"
    )


def read_input(path: str, info: dict, need_target: bool):
    """Features in the run's order, and the targets with ``need_target`` (else None).

    Without ``need_target`` (predicting) a target column is read past and
    its values are never looked at: an unseen label there is no error.
    """
    path = str(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".csv", ".npz"):
        raise ValueError(f"Expected an input file ending in .csv or .npz. Received: {path!r}")
    if suffix == ".npz":
        raw = read_npz(path, require_target=need_target)
        X = check_features(raw["X"], name=f"X of {path!r}", n_features=info["n_features"])
        return X, _encode_labels(raw.get("y"), info, path) if need_target else None
    t_idx, order = _input_columns(path, info, need_target)
    if t_idx is None:
        raw = read_csv(path, has_target=False)
    else:
        raw = read_csv(path, target=t_idx)
    X = raw["X"][:, order]
    return X, _encode_labels(raw["y"], info, path) if need_target else None


def _label_key(v) -> str:
    """A label as the text the run stored it under ("3" for 3 and 3.0)."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, float) and v == int(v):
        v = int(v)
    return str(v).strip()


def _encode_labels(y, info: dict, path: str):
    """Map a file's labels to the run's class ids; unseen labels are an error."""
    if info["task"] != "classification" or y is None:
        return y
    classes = info["classes"]
    lookup = {c: i for i, c in enumerate(classes)}
    keys = [_label_key(v) for v in np.asarray(y).ravel()]
    unknown = sorted({k for k in keys if k not in lookup})
    named = not any(c.lstrip("-").isdigit() for c in classes)
    if unknown and named and all(k.lstrip("-").isdigit() for k in keys):
        # class names are words (iris's 'setosa'): integers can only be class ids
        ids = np.array([int(k) for k in keys], np.int64)
        bad = sorted({int(i) for i in ids[(ids < 0) | (ids >= len(classes))]})
        if bad:
            raise ValueError(
                f"Expected class ids in 0..{len(classes) - 1} or labels {classes}. "
                f"Received: {bad[:5]} in {path!r}"
            )
        return ids
    if unknown:
        raise ValueError(
            f"Expected labels seen at training {classes}. Received: unseen labels "
            f"{unknown[:5]}{' ...' if len(unknown) > 5 else ''} in {path!r}"
        )
    return np.array([lookup[k] for k in keys], np.int64)
