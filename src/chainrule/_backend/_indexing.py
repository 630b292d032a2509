"""Facts about an index (integer or boolean array parts) that kernel entries share."""

from __future__ import annotations


def _int_array(part) -> bool:
    """Whether an index part is an integer (or boolean) array, not an int/slice/None/...."""
    return getattr(part, "ndim", 0) >= 1 and hasattr(part, "dtype")


def _is_bool(part) -> bool:
    dt = part.dtype
    return str(dt).split(".")[-1] in ("bool", "bool_")


def _may_repeat(index) -> bool:
    """Whether an index may name an element twice (it holds a non-boolean array)."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, (int, slice, type(None), type(Ellipsis))):
            continue
        if _int_array(part) and _is_bool(part):
            continue
        if not _int_array(part) and not isinstance(part, list):
            continue
        return True
    return False
