"""The per-backend kernel table: what the array API standard cannot say.

A *kernel* is a named operation with one entry per backend:

- ``"numpy"``: the reference entry, free to use NumPy's extras (``out=``,
  ``np.add.at``, stride tricks) for speed;
- ``"cupy"``: the CuPy entry (``ElementwiseKernel``s, ``cupyx.scatter_add``),
  registered lazily from ``_cupy.py`` the first time a CuPy namespace asks;
- ``"generic"``: the standard-only entry that serves every other library
  (array_api_strict, torch through array-api-compat), and NumPy/CuPy too
  when they have no entry of their own;
- optionally ``"numpy-compiled"`` entries (e.g. numba), registered only by an
  optional extra and used only where a benchmark shows them faster.

Every entry takes the namespace first: ``kernel("scatter_add", xp)(xp, ...)``.
Lookups are cached per (name, namespace), so a hot path pays one dict lookup.
"""

from __future__ import annotations

from . import backend_name

__all__ = ["kernel", "register", "registered"]

#: name -> {backend: function}
_TABLE: dict[str, dict[str, object]] = {}
#: (name, id(namespace)) -> function
_CACHE: dict = {}
_cupy_loaded = False


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


def _load_cupy():
    global _cupy_loaded
    if not _cupy_loaded:
        _cupy_loaded = True
        from . import _cupy  # noqa: F401  (registers the CuPy entries)


def kernel(name: str, xp):
    """The entry of kernel ``name`` that serves namespace ``xp``."""
    key = (name, id(xp))
    try:
        return _CACHE[key]
    except KeyError:
        pass
    backend = backend_name(xp)
    if backend == "cupy":
        _load_cupy()
    entries = _TABLE.get(name)
    if not entries:
        raise KeyError(f"no kernel named {name!r}")
    fn = entries.get(backend) or entries.get("generic")
    if fn is None:
        raise NotImplementedError(
            f"kernel {name!r} has no entry for the {backend} backend and no generic entry"
        )
    _CACHE[key] = fn
    return fn
