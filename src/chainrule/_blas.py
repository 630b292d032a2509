"""Threads for the convolution kernels: one BLAS thread, two batch halves.

OpenBLAS splits every product over all its threads, and its idle threads
spin while they wait.  For a small product the hand-off costs more than
the second thread saves, and on a machine whose cores are busy with other
work a spinning thread can make each product ten times slower.  So
:func:`matmul` runs products below ``SMALL_GEMM`` multiply-adds on one
BLAS thread.

Large convolution and pooling steps are instead split by the batch axis:
:func:`run_split` runs the two halves at once, one on a worker thread and
one on the calling thread, each with one BLAS thread.  NumPy releases the
GIL in copies, ufuncs and BLAS calls, so the halves run in parallel, and
whoever waits blocks instead of spinning.  Results do not depend on
timing: the split depends only on the sizes.

The BLAS thread count is switched through ``threadpoolctl`` (a
scikit-learn dependency).  Without it, products use BLAS's own setting
and nothing is split.  Nothing is split either on one core or with the
environment variable ``CHAINRULE_NUM_THREADS=1``.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from ._backend import xp

#: Products with fewer multiply-adds than this run on one BLAS thread.
SMALL_GEMM = 1 << 23
#: OpenBLAS itself runs a product of at most this many multiply-adds on one
#: thread (its SMP threshold, 65536 x GEMM_MULTITHREAD_THRESHOLD = 4), so
#: switching the thread count for it would only cost time (~1.5 us a switch).
BLAS_SINGLE = 1 << 18
#: Steps touching fewer array elements than this are not split in two
#: (a split costs about 20 us: a thread hand-off and a BLAS thread switch).
SPLIT_MIN = 1 << 19

_blas = []  # [controllers] once looked up (an empty list inside: none found)
_pool = []  # [executor or None]
_lock = threading.Lock()  # one thread count change at a time


def _controllers():
    if not _blas:
        try:
            from threadpoolctl import ThreadpoolController

            found = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # noqa: BLE001 - no threadpoolctl, or it failed: do nothing
            found = []
        _blas.append(list(found))
    return _blas[0]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _worker():
    """The one worker thread (created on first use), or None."""
    if not _pool:
        wanted = os.environ.get("CHAINRULE_NUM_THREADS", "") != "1"
        usable = wanted and _cores() >= 2 and bool(_controllers())
        _pool.append(ThreadPoolExecutor(1, thread_name_prefix="chainrule-conv")
                     if usable else None)
    return _pool[0]


_single = [0]  # how many one_blas_thread() bodies are running (any thread)


@contextmanager
def one_blas_thread():
    """Run the body with BLAS limited to one thread (when it can be switched).

    While any such body runs, :func:`matmul` calls NumPy directly: BLAS is
    on one thread already, and checking costs more than a small product.
    """
    libs = _controllers()
    with _lock:
        saved = [lib.get_num_threads() for lib in libs]
        change = any(n != 1 for n in saved)
        if change:
            for lib in libs:
                lib.set_num_threads(1)
        _single[0] += 1
    try:
        yield
    finally:
        with _lock:
            _single[0] -= 1
            if change:
                for lib, n in zip(libs, saved):
                    lib.set_num_threads(n)


class _InSplit(threading.local):
    active = False  # True on the calling thread while run_split runs


_in_split = _InSplit()


def _inside_split() -> bool:
    """Whether this thread is running one half (BLAS is on one thread already)."""
    return _in_split.active or threading.current_thread().name.startswith("chainrule-conv")


def _fast_switches():
    """[(get, set)] OpenBLAS's own thread-count functions, or [] if unusable.

    threadpoolctl's controllers cost ~1.6 µs a call; the library functions
    called through ctypes ~0.25 µs, so a switch to one thread and back is
    cheaper than the hand-off of a small two-thread product.  Only NumPy's
    own BLAS is switched when it can be told apart (SciPy may load another
    OpenBLAS, which ``xp.matmul`` never calls).  Used only when each BLAS
    to switch is OpenBLAS with its own (pthreads) thread pool, whose thread
    count is process-wide; otherwise [] and the controllers are used.
    """
    if not _switches:
        found = []
        try:
            infos = [lib.info() for lib in _controllers()]
            numpy_dir = os.path.dirname(xp.__file__)  # wheels: numpy.libs/ or numpy/.dylibs/
            infos = [i for i in infos if i["filepath"].startswith(numpy_dir)] or infos
            for info in infos:
                if info.get("internal_api") != "openblas" or \
                        info.get("threading_layer") != "pthreads":
                    found = []
                    break
                dll = ctypes.CDLL(info["filepath"])
                for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
                    get = getattr(dll, f"{prefix}openblas_get_num_threads{suffix}", None)
                    put = getattr(dll, f"{prefix}openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.argtypes, get.restype = [], ctypes.c_int
                        put.argtypes, put.restype = [ctypes.c_int], None
                        found.append((get, put))
                        break
                else:
                    found = []
                    break
        except Exception:  # noqa: BLE001 - anything unexpected: use the controllers
            found = []
        _switches.append(found)
    return _switches[0]


_switches = []  # [[(get, set), ...]] once looked up


def matmul(a, b, out=None):
    """``a @ b`` (NumPy's rules), on one BLAS thread when the product is small."""
    if a.ndim < 2 or b.ndim < 2:  # matrix-vector: BLAS level 2, left alone
        return xp.matmul(a, b, out=out)
    sa, sb = a.shape, b.shape
    one = sa[-2] * sa[-1] * sb[-1]  # multiply-adds of one product
    if one <= BLAS_SINGLE or _single[0]:
        # OpenBLAS runs it on one thread anyway, or one_blas_thread() is in force
        # (also in both halves of run_split)
        return xp.matmul(a, b, out=out)
    if a.ndim > 2 or b.ndim > 2:
        one *= max(math.prod(sa[:-2]), math.prod(sb[:-2]))
    if one >= SMALL_GEMM or not _controllers():
        return xp.matmul(a, b, out=out)
    fast = _fast_switches()
    with _lock:
        if fast:
            saved = [get() for get, _ in fast]
            for _, put in fast:
                put(1)
        else:
            saved = [lib.get_num_threads() for lib in _blas[0]]
            for lib in _blas[0]:
                lib.set_num_threads(1)
    try:
        return xp.matmul(a, b, out=out)
    finally:
        with _lock:
            if fast:
                for (_, put), n in zip(fast, saved):
                    put(n)
            else:
                for lib, n in zip(_blas[0], saved):
                    lib.set_num_threads(n)


def halves(n: int, work: int) -> list:
    """Slices of the batch axis to process at once: two halves, or all of it."""
    if n < 2 or work < SPLIT_MIN or _inside_split() or _worker() is None:
        return [slice(0, n)]
    return [slice(0, n // 2), slice(n // 2, n)]


def run_split(fn, parts) -> list:
    """Call ``fn(part)`` for each part from :func:`halves`, the two at once.

    ``fn`` must write only to its own part of any shared output.  Returns
    the results in the order of ``parts``.
    """
    if len(parts) == 1:
        return [fn(parts[0])]
    with one_blas_thread():
        _in_split.active = True
        try:
            future = _worker().submit(fn, parts[0])
            try:
                last = fn(parts[1])
            finally:
                first = future.result()  # always wait: the worker writes to shared arrays
        finally:
            _in_split.active = False
    return [first, last]
