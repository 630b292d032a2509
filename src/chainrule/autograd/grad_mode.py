"""Whether operations are recorded for backward: one flag per thread.

``no_grad`` and ``enable_grad`` set it for a block or a function, as
PyTorch's do; the primitive wrapper (``engine.py``) reads ``_mode.enabled``
once per op.
"""

from __future__ import annotations

import functools
import threading

__all__ = ["enable_grad", "is_grad_enabled", "no_grad"]


class _GradModeState(threading.local):
    """Whether ops are recorded, one flag per thread (True on a new thread)."""

    enabled = True


_mode = _GradModeState()


def is_grad_enabled() -> bool:
    """Whether operations on the calling thread are being recorded for backward."""
    return _mode.enabled


class _GradMode:
    """Context manager / decorator that sets whether ops are recorded.

    The setting is per thread (like PyTorch's): ``no_grad()`` on one thread
    leaves every other thread recording.  A new thread starts recording.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.prev: list[bool] = []

    def __enter__(self):
        self.prev.append(_mode.enabled)
        _mode.enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def no_grad(fn=None):
    """Record nothing inside: ``with cr.no_grad(): ...`` (on this thread only).

    Also a decorator, written ``@cr.no_grad()`` or ``@cr.no_grad``.  Results
    computed inside have ``requires_grad=False`` and no graph.
    """
    mode = _GradMode(False)
    return mode if fn is None else mode(fn)


def enable_grad(fn=None):
    """Record ops again inside a ``no_grad`` block (context or decorator)."""
    mode = _GradMode(True)
    return mode if fn is None else mode(fn)
