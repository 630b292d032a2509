"""The kernel table itself: names to per-backend entries, and the lookup cache.

Kept apart from the entries so that every module of entries (``kernels.py``,
``im2col.py``, the lazily loaded ``_cupy.py``) registers into it without
importing another module of entries.
"""

from __future__ import annotations

__all__ = ["register", "registered"]

#: name -> {backend: function}
_TABLE: dict[str, dict[str, object]] = {}
#: (name, id(namespace)) -> function
_CACHE: dict = {}


def register(name: str, backend: str = "generic"):
    """Decorator: make the function the ``backend`` entry of kernel ``name``."""

    def deco(fn):
        _TABLE.setdefault(name, {})[backend] = fn
        _CACHE.clear()
        return fn

    return deco


def registered(name: str) -> dict:
    """The entries of kernel ``name`` (a copy), for tests and docs."""
    return dict(_TABLE.get(name, {}))
