"""The MPI world: init, rank, size, and the collectives chainrule needs.

Every function works without MPI as a world of one process.  ``init()``
uses ``mpi4py``'s ``MPI.COMM_WORLD`` when the process was started by an
MPI launcher (or whenever mpi4py is installed); started by ``mpiexec``
without mpi4py installed, it stops with the install line instead of
silently training R separate models.

Every collective waits a bounded time: a rank that is frozen (SIGSTOP, a
hung device), has crashed without the launcher noticing, or is far behind
makes the others stop after ``CHAINRULE_MPI_TIMEOUT`` seconds (default
600; or ``init(timeout=...)``) with one line naming the collective, and
the job ends on every rank (``MPI_Abort``), instead of blocking forever.
The collectives are MPI's nonblocking ones, polled until done.
:func:`check_same` compares a value over ranks (the number of training
rows) before the first collective, so inputs of different sizes end with
a clear message, not MPI's message-truncation error.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback

import numpy as np

_INSTALL = 'pip install "chainrule[distributed]"  (brings mpi4py and the mpich MPI runtime)'

# environment variables that MPI launchers set in the processes they start
_LAUNCHER_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_RANK", "PMI_RANK")

_OPS = ("sum", "mean", "max", "min")
_TIMEOUT_VAR = "CHAINRULE_MPI_TIMEOUT"
DEFAULT_TIMEOUT = 600.0


class _World:
    """The communicator in use (None: a world of one process) and the collectives' time limit."""

    comm = None
    initialised = False
    timeout: float | None = None  # None: read CHAINRULE_MPI_TIMEOUT (default 600 s)


_world = _World()


def _launched_by_mpi() -> bool:
    for var in _LAUNCHER_VARS:
        value = os.environ.get(var)
        if value is not None and (var in ("PMI_RANK", "PMIX_RANK") or value.strip() != "1"):
            return True
    return False


def _end_job(comm, code: int) -> None:
    """Flush what this rank wrote, then end every rank with ``MPI_Abort``.

    ``MPI_Abort`` kills the job at once: the pause gives the launcher a moment
    to forward the lines just written (under load they were lost otherwise).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(0.5)
    comm.Abort(code)


def _abort_on_error(comm):
    """Make an uncaught exception on one rank end every rank (not a hang)."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        try:
            sys.stderr.write(f"[rank {comm.Get_rank()}] ")
            traceback.print_exception(kind, value, tb)
        finally:
            _end_job(comm, 1)
        previous(kind, value, tb)  # pragma: no cover - Abort does not return

    sys.excepthook = hook


def launched_with_several_ranks() -> bool:
    """Whether an MPI launcher started this process as one of several ranks.

    Read from the launcher's environment variables, without importing MPI,
    so a plain ``python train.py`` pays nothing for the check.
    """
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 1:
            return True
    return False


def _check_timeout(value, source: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds > 0:  # also NaN
        raise ValueError(f"Expected {source} to be a number of seconds > 0. Received: {value!r}")
    return seconds


def timeout() -> float:
    """Seconds a collective waits for the other ranks before every rank stops."""
    if _world.timeout is not None:
        return _world.timeout
    text = os.environ.get(_TIMEOUT_VAR)
    return DEFAULT_TIMEOUT if text is None else _check_timeout(text, _TIMEOUT_VAR)


def set_timeout(seconds: float | None) -> None:
    """Set the collectives' time limit (None: ``CHAINRULE_MPI_TIMEOUT``, default 600 s)."""
    _world.timeout = None if seconds is None else _check_timeout(seconds, "timeout")


def _wait(comm, request, what: str) -> None:
    """Poll ``request`` until done; past the time limit, stop every rank with one line."""
    if request.Test():
        return
    limit = timeout()
    deadline = time.monotonic() + limit
    pause = 1e-5
    while not request.Test():
        if time.monotonic() > deadline:
            sys.stderr.write(
                f"[rank {comm.Get_rank()}] chainrule.distributed: {what} waited more than "
                f"{limit:g} s for the other ranks (one is frozen, crashed or far behind); "
                f"stopping every rank. To wait longer set {_TIMEOUT_VAR}=<seconds> or "
                "dist.init(timeout=...).\n"
            )
            _end_job(comm, 1)
        time.sleep(pause)
        pause = min(2 * pause, 5e-4)


def allreduce_inplace(comm, buf: np.ndarray, op: str = "sum") -> None:
    """``buf`` ← its elementwise ``op`` over all ranks, in place, within the time limit."""
    from mpi4py import MPI

    _wait(comm, comm.Iallreduce(MPI.IN_PLACE, buf, op=_mpi_op(op)), f"all_reduce ({op})")


def check_same(value, what: str) -> None:
    """Raise ``ValueError`` on every rank unless all ranks pass the same ``value``.

    Args:
        value: a number (e.g. the number of training rows).
        what: its name in the message ("training rows").
    """
    comm = _comm()
    if comm is None:
        return
    mine = np.array([float(value)], dtype=np.float64)
    every = np.empty(comm.Get_size(), dtype=np.float64)
    _wait(comm, comm.Iallgather(mine, every), f"check_same ({what})")
    if np.any(every != every[0]):
        listed = ", ".join(f"rank {r}: {v:g}" for r, v in enumerate(every))
        raise ValueError(
            f"Expected every rank to hold the same {what} (each rank is given the whole "
            f"data set and trains on its shard). Received: {listed}"
        )


def init(comm=None, timeout: float | None = None):
    """Join the MPI world (idempotent) and return the communicator, or None.

    Args:
        comm: an ``mpi4py`` communicator to use instead of ``COMM_WORLD``.
        timeout: seconds each collective waits for the other ranks before
            every rank stops (default: ``CHAINRULE_MPI_TIMEOUT``, else 600).

    Returns:
        The communicator, or None for a world of one process (no MPI).

    Raises:
        ImportError: naming the install line, when the process was started
            by an MPI launcher but ``mpi4py`` is not installed.
    """
    if timeout is not None:
        set_timeout(timeout)
    if _world.initialised and comm is None:
        return _world.comm
    if comm is None:
        try:
            from mpi4py import MPI
        except ImportError:
            if _launched_by_mpi():
                raise ImportError(
                    "This process was started by an MPI launcher (mpiexec/srun), but mpi4py "
                    f"is not installed. Install it with: {_INSTALL}"
                ) from None
            _world.comm, _world.initialised = None, True
            return None
        comm = MPI.COMM_WORLD
    _world.comm = comm if comm.Get_size() > 1 else None
    _world.initialised = True
    if _world.comm is not None:
        _abort_on_error(_world.comm)
    return _world.comm


def _comm():
    if not _world.initialised:
        init()
    return _world.comm


def rank() -> int:
    """This process's rank (0 without MPI)."""
    comm = _comm()
    return 0 if comm is None else comm.Get_rank()


def world_size() -> int:
    """The number of processes (1 without MPI)."""
    comm = _comm()
    return 1 if comm is None else comm.Get_size()


def is_distributed() -> bool:
    """Whether more than one process takes part."""
    return world_size() > 1


def barrier() -> None:
    """Wait until every rank gets here."""
    comm = _comm()
    if comm is not None:
        _wait(comm, comm.Ibarrier(), "barrier")


def _mpi_op(op: str):
    from mpi4py import MPI

    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]


def all_reduce(array, op: str = "mean") -> np.ndarray:
    """Combine ``array`` over all ranks; every rank gets the result.

    Args:
        array: a NumPy array (or scalar) of the same shape and dtype on
            every rank.
        op: ``"mean"`` (the default), ``"sum"``, ``"max"`` or ``"min"``.

    Returns:
        A new array (the input is not changed).
    """
    if op not in _OPS:
        raise ValueError(f"Expected op in {_OPS}. Received: op={op!r}")
    out = np.array(array, copy=True)
    comm = _comm()
    if comm is None:
        return out
    allreduce_inplace(comm, out.reshape(-1), op)  # a fresh copy is contiguous: a view
    if op == "mean":
        if out.dtype.kind in "fc":
            out /= comm.Get_size()
        else:
            out = out / comm.Get_size()
    return out


def abort(code: int = 1) -> None:
    """End every rank of the job with exit status ``code`` (no-op in a world of one).

    For errors handled without an exception escaping (the command line
    prints one line and returns a status): the other ranks would otherwise
    wait forever in their next collective call.
    """
    comm = _world.comm
    if comm is not None:
        _end_job(comm, code)


def broadcast_object(obj, root: int = 0):
    """Send a small picklable Python object from ``root`` to every rank."""
    comm = _comm()
    if comm is None:
        return obj
    data = pickle.dumps(obj) if comm.Get_rank() == root else b""
    size = np.array([len(data)], dtype=np.int64)
    _wait(comm, comm.Ibcast(size, root=root), "broadcast_object")
    buf = np.frombuffer(data, dtype=np.uint8).copy() if data else np.empty(int(size[0]), np.uint8)
    _wait(comm, comm.Ibcast(buf, root=root), "broadcast_object")
    return obj if comm.Get_rank() == root else pickle.loads(buf.tobytes())


def _module_arrays(module) -> list:
    """The live parameter and buffer arrays of a module (parameters first)."""
    arrays = [p.data for _, p in module.named_parameters()]
    for _, value in module.named_buffers():
        if isinstance(value, np.ndarray):
            arrays.append(value)
    return arrays


def broadcast_parameters(module, root: int = 0) -> None:
    """Copy ``root``'s parameters and buffers into every rank's module, in place.

    All arrays of one dtype travel in one contiguous buffer (one broadcast
    per dtype, not one per parameter).  Call it once after building the
    model (and after loading a checkpoint) so that every replica starts equal.
    """
    comm = _comm()
    if comm is None:
        return
    arrays = _module_arrays(module)
    by_dtype: dict = {}
    for a in arrays:
        by_dtype.setdefault(a.dtype.str, []).append(a)
    for key in sorted(by_dtype):
        group = by_dtype[key]
        flat = np.concatenate([a.reshape(-1) for a in group])
        _wait(comm, comm.Ibcast(flat, root=root), "broadcast_parameters")
        start = 0
        for a in group:
            n = a.size
            a[...] = flat[start : start + n].reshape(a.shape)
            start += n
