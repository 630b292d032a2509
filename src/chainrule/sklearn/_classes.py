"""An MLPClassifier's classes: those of the first fit, and the checks of later fits."""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import unique_labels

__all__ = ["check_known_classes", "check_subset", "first_classes"]


def first_classes(name: str, y, multilabel: bool, classes, incremental: bool) -> tuple:
    """``(classes_, kind)`` of a first fit: the labels (``classes=`` or those of ``y``)
    and ``"multilabel"``, ``"single"``, ``"binary"`` or ``"multiclass"``."""
    if incremental and classes is None:
        raise ValueError(
            f"{name}: the first call to partial_fit needs classes=, every label "
            "that may appear. Received: classes=None"
        )
    if multilabel:
        k = y.shape[1]
        if classes is not None and len(classes) != k:
            raise ValueError(
                f"{name}: expected {k} classes for a {k}-column multilabel y. "
                f"Received: classes={np.asarray(classes).tolist()}"
            )
        return np.arange(k), "multilabel"
    found = unique_labels(y if classes is None else classes)
    check_subset(name, found, y)
    # one class: predict it always (scikit-learn's behaviour), still fitting a network
    kinds = {1: "single", 2: "binary"}
    return found, kinds.get(len(found), "multiclass")


def check_known_classes(name: str, known, kind: str, y, multilabel: bool, classes,
                        incremental: bool) -> None:
    """Refuse labels of a later fit that differ from the first fit's ``known`` classes."""
    if multilabel != (kind == "multilabel"):
        raise ValueError(
            f"{name}: expected y of the same kind as in the first fit "
            f"({kind}). Received: {'multilabel' if multilabel else 'labels'}"
        )
    if multilabel:
        if y.shape[1] != len(known):
            raise ValueError(
                f"{name}: expected a multilabel y with {len(known)} columns. "
                f"Received: {y.shape[1]}"
            )
        return
    if classes is not None and not np.array_equal(unique_labels(classes), known):
        raise ValueError(
            f"{name}: expected classes= to equal classes_ {known.tolist()} of "
            f"the first call. Received: classes={np.asarray(classes).tolist()}"
        )
    if not incremental and not np.array_equal(unique_labels(y), known):
        raise ValueError(
            "warm_start can only be used where `y` has the same classes as in the "
            f"previous call to fit. Previously got {known}, `y` has "
            f"{unique_labels(y)} ({name}: expected the same classes)"
        )
    check_subset(name, known, y)


def check_subset(name: str, known, y) -> None:
    """Refuse labels of ``y`` outside ``known``."""
    seen = unique_labels(y)
    unseen = np.setdiff1d(seen, known)
    if len(unseen):
        raise ValueError(
            f"{name}: expected labels among classes_ "
            f"{known.tolist()}. Received: unseen labels {unseen.tolist()}"
        )
