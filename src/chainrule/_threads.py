"""chainrule's thread policy: explicit, scoped, and nothing left running.

Two things run in parallel in chainrule:

* BLAS, inside every matrix product.  chainrule never changes BLAS's
  thread count on its own; :func:`set_num_threads` does, because the user
  asks for it (like ``torch.set_num_threads``), through ``threadpoolctl``.
  Scikit-learn style estimators may limit BLAS inside their ``fit`` and
  restore it on exit (:func:`one_blas_thread`).
* chainrule's own parallel loops (:func:`run_parallel`): a few large
  independent pieces of work (batch parts of a convolution, chunks of an
  optimiser update).  Each call returns only when all its parts are done;
  the helper threads that ran them end themselves after a short idle
  time (:data:`IDLE_SECONDS`), so no thread outlives the work it was made
  for by more than that.

``get_num_threads()`` is chainrule's own worker count: the number of usable
cores unless :func:`set_num_threads` or the environment variable
``CHAINRULE_NUM_THREADS`` says otherwise.
"""

from __future__ import annotations

import os
import queue
import threading
from contextlib import contextmanager

__all__ = ["get_num_threads", "one_blas_thread", "run_parallel", "set_num_threads"]

_num_threads: list = []  # [n] once set or looked up


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """How many threads chainrule's own parallel loops may use (>= 1)."""
    if not _num_threads:
        env = os.environ.get("CHAINRULE_NUM_THREADS", "").strip()
        n = int(env) if env.isdigit() and int(env) > 0 else _cores()
        _num_threads.append(n)
    return _num_threads[0]


def set_num_threads(n: int) -> None:
    """Use ``n`` threads: for chainrule's own loops and for BLAS.

    This is the one place where chainrule changes a process-wide setting
    (BLAS's thread count, through ``threadpoolctl``), and only because the
    caller asks for it.  For a limit that is undone afterwards, use
    ``threadpoolctl.threadpool_limits(n)`` as a context manager instead.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"Expected an integer number of threads >= 1. Received: n={n!r}")
    _num_threads[:] = [n]
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportError(
            "set_num_threads needs threadpoolctl: pip install threadpoolctl"
        ) from None
    threadpool_limits(limits=n, user_api="blas")


#: A helper thread with no work for this many seconds ends itself.
IDLE_SECONDS = 0.5


class _Helpers:
    """Helper threads that end themselves after :data:`IDLE_SECONDS` without work.

    Starting a thread per call costs more than a small parallel
    step saves, so helpers wait for the next task for a moment; once the
    work stops they end, and a program that trains and then does something
    else has no chainrule thread left.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._tasks = queue.SimpleQueue()
        self._idle = 0  # helpers waiting for a task
        self._alive = 0

    def submit(self, task) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            else:
                self._alive += 1
                threading.Thread(target=self._loop, name="chainrule-worker", daemon=True).start()
        self._tasks.put(task)

    def _loop(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    # a task may have been promised to an idle helper meanwhile
                    if self._idle > 0 and self._tasks.empty():
                        self._idle -= 1
                        self._alive -= 1
                        return
                continue
            task()
            with self._lock:
                self._idle += 1


_helpers = _Helpers()


def run_parallel(fn, parts) -> list:
    """Return ``[fn(p) for p in parts]``, computing the parts on up to
    :func:`get_num_threads` threads at once.

    The calling thread works on the last part while helper threads work on
    the others; the call returns only when every part is done (also when
    ``fn`` raises: the first error is re-raised).  ``fn`` must only write
    to its own part of any shared output.  Worth it only for work of a
    fraction of a millisecond or more per part (a hand-off has a cost).
    Helpers end themselves after :data:`IDLE_SECONDS` without work.
    """
    parts = list(parts)
    n = min(len(parts), get_num_threads())
    if n <= 1:
        return [fn(p) for p in parts]
    results = [None] * len(parts)
    errors: list = []
    # the helpers reach fn and the parts only through this list, emptied before
    # returning: a helper thread keeps its finished task (this closure) until its
    # next one, and fn's closure may hold whole arrays (a gradient in the
    # optimiser step), which must not outlive the call
    work = [fn, parts]
    order = iter(range(len(parts)))
    order_lock = threading.Lock()
    done = threading.Semaphore(0)

    def drain():
        # take parts from the shared order until none is left: a helper that
        # gets no core simply takes fewer parts
        while True:
            with order_lock:
                i = next(order, None)
            if i is None:
                return
            try:
                results[i] = work[0](work[1][i])
            except BaseException as exc:  # noqa: BLE001 - re-raised on the caller
                errors.append(exc)

    def helper():
        try:
            drain()
        finally:
            done.release()

    for _ in range(n - 1):
        _helpers.submit(helper)
    drain()
    for _ in range(n - 1):
        done.acquire()
    work.clear()
    if errors:
        raise errors[0]
    return results


_limit_lock = threading.Lock()
_limit_holders = [0, None]  # [blocks inside one_blas_thread, threadpoolctl limiter]


@contextmanager
def one_blas_thread():
    """BLAS on one thread inside the block; the previous setting is restored after.

    Overlapping blocks (two estimators fitting on two threads) share one
    limit: the first block to enter sets it and the last one to leave
    restores what was there before, so the process never ends up with the
    limit of a block that has finished.  Nesting ``threadpoolctl``'s own
    ``threadpool_limits`` from two threads would not guarantee that.
    """
    with _limit_lock:
        if _limit_holders[0] == 0:
            from threadpoolctl import threadpool_limits

            _limit_holders[1] = threadpool_limits(limits=1, user_api="blas")
        _limit_holders[0] += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_holders[0] -= 1
            if _limit_holders[0] == 0:
                _limit_holders[1].restore_original_limits()
                _limit_holders[1] = None
