"""Rows without a target: how a task's missing labels are marked and found.

A row without a task's target holds :data:`MISSING_LABEL` (-1) for class
ids or NaN for real targets (see :mod:`chainrule.training.multitask`).
"""

from __future__ import annotations

import numpy as np

from .._backend import namespace_of

__all__ = ["MISSING_LABEL", "present_rows"]


#: marks a row without a class id for a task (real-valued targets use NaN)
MISSING_LABEL = -1


def present_rows(target) -> np.ndarray | None:
    """A boolean mask of the rows that have a target (None: all of them).

    A mask, not indices: indexing a Tensor by a mask has the cheaper vjp.
    """
    xp = namespace_of(target)
    t = target if hasattr(target, "shape") else np.asarray(target)
    n = t.shape[0]
    if xp.isdtype(t.dtype, "integral"):
        missing = xp.any(xp.reshape(t == MISSING_LABEL, (n, -1)), axis=1)
    elif xp.isdtype(t.dtype, "real floating"):
        missing = xp.any(xp.reshape(xp.isnan(t), (n, -1)), axis=1)
    else:
        return None
    if not bool(xp.any(missing)):
        return None
    return xp.logical_not(missing)


def _count(mask) -> int:
    """The number of true entries of a boolean mask of any array library."""
    xp = namespace_of(mask)
    return int(xp.sum(xp.astype(mask, xp.int64)))
