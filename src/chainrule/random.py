"""Random numbers: one default generator, and scoped generators per thread.

Every random draw in chainrule (initialisation, dropout and noise masks,
shuffling, splits, augmentation) comes from :func:`generator`.  That is the
*default generator*, reset by ``cr.manual_seed(s)``, unless a generator was
put in scope with :func:`use_generator`::

    rng = np.random.default_rng(7)
    with cr.random.use_generator(rng):
        model = nn.Linear(4, 3)         # drawn from rng
        fit(model, X, y, ...)           # shuffling and dropout from rng too

The scope is a ``contextvars`` variable: it belongs to the thread (and
asyncio task) that entered it, so two estimators fitting on two threads
each draw from their own generator, and nothing global is swapped in and
out.  ``get_rng_state``/``set_rng_state`` read and write the generator in
scope (checkpoints use them to make a resumed run bit-identical).
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

import numpy as np

__all__ = [
    "generator",
    "get_rng_state",
    "manual_seed",
    "new_generator",
    "set_rng_state",
    "use_generator",
]

_default = np.random.Generator(np.random.PCG64(0))
_scoped: contextvars.ContextVar = contextvars.ContextVar("chainrule_generator", default=None)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Expected a non-negative integer seed. Received: seed={seed!r}")
    return int(seed)


def new_generator(seed) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` (PCG64) for ``seed``, chainrule's kind."""
    return np.random.Generator(np.random.PCG64(_check_seed(seed)))


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the default generator to ``seed`` and return it.

    Inside a :func:`use_generator` block the scoped generator is left
    alone: only the default one (used outside any scope) is reset.
    """
    global _default
    _default = new_generator(seed)
    return _default


def generator() -> np.random.Generator:
    """The generator in scope: the innermost :func:`use_generator`'s, else the default."""
    scoped = _scoped.get()
    return _default if scoped is None else scoped


@contextmanager
def use_generator(rng):
    """Draw every random number from ``rng`` inside the block (this thread only).

    Args:
        rng: a ``numpy.random.Generator``, or a non-negative int seed for a
            new one.  Yields the generator in use.
    """
    if not isinstance(rng, np.random.Generator):
        rng = new_generator(rng)
    token = _scoped.set(rng)
    try:
        yield rng
    finally:
        _scoped.reset(token)


def get_rng_state() -> dict:
    """State of the generator in scope, as a JSON-serialisable dict."""
    return generator().bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state` into the generator in scope."""
    generator().bit_generator.state = state
