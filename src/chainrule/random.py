"""Global random state: one seeded generator for init, dropout, noise, shuffling.

``manual_seed(s)`` resets it, so the same seed gives the same numbers.
``get_rng_state``/``set_rng_state`` save and restore it (JSON-serialisable),
which checkpoints use to make a resumed run bit-identical.
"""

import numpy as np

_generator = np.random.Generator(np.random.PCG64(0))


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator used by every random operation."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"Expected a non-negative integer seed. Received: seed={seed!r}"
        )
    _generator = np.random.Generator(np.random.PCG64(int(seed)))
    return _generator


def generator() -> np.random.Generator:
    """The global ``numpy.random.Generator`` (use it, don't keep it)."""
    return _generator


def get_rng_state() -> dict:
    """State of the global generator as a JSON-serialisable dict."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = state
