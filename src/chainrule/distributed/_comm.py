"""The MPI world: init, rank, size, and the collectives chainrule needs.

Every function works without MPI as a world of one process.  ``init()``
uses ``mpi4py``'s ``MPI.COMM_WORLD`` when the process was started by an
MPI launcher (or whenever mpi4py is installed); started by ``mpiexec``
without mpi4py installed, it stops with the install line instead of
silently training R separate models.
"""

from __future__ import annotations

import os
import sys
import traceback

import numpy as np

_INSTALL = 'pip install "chainrule[distributed]"  (brings mpi4py and the mpich MPI runtime)'

# environment variables that MPI launchers set in the processes they start
_LAUNCHER_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_RANK", "PMI_RANK")

_OPS = ("sum", "mean", "max", "min")


class _World:
    """The communicator in use (None: a world of one process)."""

    comm = None
    initialised = False


_world = _World()


def _launched_by_mpi() -> bool:
    for var in _LAUNCHER_VARS:
        value = os.environ.get(var)
        if value is not None and (var in ("PMI_RANK", "PMIX_RANK") or value.strip() != "1"):
            return True
    return False


def _abort_on_error(comm):
    """Make an uncaught exception on one rank end every rank (not a hang)."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        try:
            sys.stderr.write(f"[rank {comm.Get_rank()}] ")
            traceback.print_exception(kind, value, tb)
            sys.stderr.flush()
        finally:
            comm.Abort(1)
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


def init(comm=None):
    """Join the MPI world (idempotent) and return the communicator, or None.

    Args:
        comm: an ``mpi4py`` communicator to use instead of ``COMM_WORLD``.

    Returns:
        The communicator, or None for a world of one process (no MPI).

    Raises:
        ImportError: naming the install line, when the process was started
            by an MPI launcher but ``mpi4py`` is not installed.
    """
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
        comm.Barrier()


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
    from mpi4py import MPI

    buf = out.reshape(-1)  # a fresh copy is contiguous: a view of out
    comm.Allreduce(MPI.IN_PLACE, buf, op=_mpi_op(op))
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
        sys.stderr.flush()
        comm.Abort(code)


def broadcast_object(obj, root: int = 0):
    """Send a small picklable Python object from ``root`` to every rank."""
    comm = _comm()
    if comm is None:
        return obj
    return comm.bcast(obj, root=root)


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
        comm.Bcast(flat, root=root)
        start = 0
        for a in group:
            n = a.size
            a[...] = flat[start : start + n].reshape(a.shape)
            start += n
