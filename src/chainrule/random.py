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

Devices.  Initialisation and shuffling always draw on the host (the same
initial weights on every backend, then moved).  Dropout and noise masks
are drawn where the activations live, by :func:`rand` and :func:`randn`:

- NumPy: from the generator in scope, as above (the same numbers as
  before devices existed);
- CuPy: from a ``cupy.random.Generator`` per GPU, tied to the generator
  in scope and seeded with 64 bits drawn from it the first time that GPU
  asks, so ``cr.manual_seed(s)`` fixes the GPU's masks too (they differ
  from the NumPy ones: another bit generator);
- any other namespace (array_api_strict, torch through array-api-compat;
  the array API standard has no random numbers): drawn on the host from
  the generator in scope and moved, so the masks are exactly NumPy's.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

import numpy as np

from ._backend import device_of, from_host, namespace_of
from ._backend.kernels import kernel, register

__all__ = [
    "generator",
    "get_rng_state",
    "manual_seed",
    "new_generator",
    "rand",
    "randn",
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
    return dict(generator().bit_generator.state)


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state` into the generator in scope."""
    generator().bit_generator.state = state


def _placement(like):
    """(namespace, device) of array or chainrule Tensor ``like`` (NumPy for None)."""
    if like is None:
        return np, None
    if hasattr(like, "_ctx"):  # a chainrule Tensor (this layer cannot import its class)
        like = like.data
    return namespace_of(like), device_of(like)


def rand(shape, like=None):
    """Uniform [0, 1) float32 numbers of ``shape``, where ``like`` lives.

    Args:
        shape: the shape of the result.
        like: an array (or Tensor) whose namespace and device the numbers
            should have; None for a NumPy array.

    The numbers come from the generator in scope (see the module's notes on
    devices: NumPy and the generic namespaces get the same numbers; CuPy
    draws from a device generator seeded from it).
    """
    xp, device = _placement(like)
    return kernel("random_uniform", xp)(xp, generator(), tuple(shape), None, device)


def randn(shape, like=None):
    """Standard normal float32 numbers of ``shape``, where ``like`` lives (see :func:`rand`)."""
    xp, device = _placement(like)
    return kernel("random_normal", xp)(xp, generator(), tuple(shape), None, device)


@register("random_uniform", "numpy")
def _uniform_numpy(xp, host, shape, dtype, device):
    return host.random(shape, dtype=np.float32)


@register("random_uniform", "generic")
def _uniform_generic(xp, host, shape, dtype, device):
    return from_host(host.random(shape, dtype=np.float32), xp, device)


@register("random_normal", "numpy")
def _normal_numpy(xp, host, shape, dtype, device):
    return host.standard_normal(shape, dtype=np.float32)


@register("random_normal", "generic")
def _normal_generic(xp, host, shape, dtype, device):
    return from_host(host.standard_normal(shape, dtype=np.float32), xp, device)
