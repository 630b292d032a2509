"""Scratch buffers that convolution and pooling reuse from step to step.

A training step of a conv net allocates the same large temporaries every
time: padded copies of an input, im2col matrices, padded gradients.  Fresh
megabyte-sized arrays come from new pages, and the kernel faults every
page in again.  A :class:`Workspace` keeps a few such buffers, keyed by
(shape, dtype), and hands them out again.

Only arrays that never leave an op go through it: an op *takes* a buffer,
uses it, and *gives* it back once nothing can read it any more, either
right away (a temporary of one call) or when the op's backward closure is
freed (:class:`Lease`, for the im2col matrix the vjp reads).  Results
handed to the caller are never taken from here.

The cache is bounded (:attr:`Workspace.max_bytes` in all, a few buffers a
key, none larger than :attr:`Workspace.max_buffer`), guarded by a lock (the batch parts of one op run on several threads
at once), holds plain NumPy arrays only, and can be emptied with
:meth:`Workspace.clear`.  Nothing process-wide is changed.
"""

from __future__ import annotations

import threading

from .._backend import xp

__all__ = ["Lease", "Workspace", "workspace"]


class Workspace:
    """A bounded cache of free scratch arrays keyed by (shape, dtype).

    Args:
        max_bytes: most bytes the free buffers may hold in all; a buffer
            given back beyond that is dropped.
        per_key: most free buffers kept for one (shape, dtype).
        max_buffer: a buffer larger than this many bytes is not kept (it is
            freed as usual when given back).
    """

    def __init__(self, max_bytes: int = 64 << 20, per_key: int = 4,
                 max_buffer: int = 4 << 20):
        self.max_bytes = max_bytes
        self.per_key = per_key
        self.max_buffer = max_buffer
        self._lock = threading.Lock()
        self._free: dict = {}
        self._bytes = 0

    def take(self, shape, dtype):
        """An uninitialised C-contiguous array of ``shape`` and ``dtype``, owned by the caller."""
        shape = tuple(shape)
        dtype = xp.dtype(dtype)
        with self._lock:
            bufs = self._free.get((shape, dtype.str))
            if bufs:
                buf = bufs.pop()
                self._bytes -= buf.nbytes
                return buf
        return xp.empty(shape, dtype=dtype)

    def give(self, buf) -> None:
        """Return a buffer from :meth:`take`; the caller must not use it (or a view of it) again."""
        if buf is None or buf.nbytes > self.max_buffer:
            return
        key = (buf.shape, buf.dtype.str)
        with self._lock:
            bufs = self._free.setdefault(key, [])
            if len(bufs) < self.per_key and self._bytes + buf.nbytes <= self.max_bytes:
                bufs.append(buf)
                self._bytes += buf.nbytes

    def clear(self) -> None:
        """Drop every free buffer."""
        with self._lock:
            self._free.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the free buffers."""
        return self._bytes


class Lease:
    """Buffers held for as long as this object lives, then given back.

    A backward closure keeps the Lease; when the graph that holds the
    closure is freed, the buffers go back to their :class:`Workspace`.
    """

    __slots__ = ("_bufs", "_space")

    def __init__(self, space: Workspace, bufs):
        self._space = space
        self._bufs = list(bufs)

    def __del__(self):
        space, bufs = self._space, self._bufs
        self._bufs = []
        for buf in bufs:
            space.give(buf)


#: The workspace shared by ``conv_ops`` and ``pool_ops``.
workspace = Workspace()
