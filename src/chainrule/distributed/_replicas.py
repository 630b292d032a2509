"""Data parallelism as the training loop sees it: one object, chosen once per run.

The Trainer calls five hooks and never asks whether it runs on one process:

* ``start(model)`` before the first epoch (replicas take rank 0's
  parameters and random state);
* ``rows(xb, yb)``: the rows of a global minibatch this process steps on,
  and the size of the global minibatch;
* ``average_gradients(n, n_global)`` between backward and the step
  (g = Σ_r (n_r / N) g_r with one all-reduce, see :class:`DistributedOptimizer`);
* ``reduce_logs(running)`` at the end of an epoch (the sums behind the
  logged figures added up over the ranks);
* ``evaluate(score, X, y, batch_size)``: validation scores, each rank
  scoring its shard, combined as example-weighted means.

:class:`OneProcess` makes each hook the identity; :class:`Replicas` is the
MPI version.  :func:`data_parallel` decides which, in one place.
"""

from __future__ import annotations

import numpy as np

from .. import random as _random
from ..data.loader import take_rows
from ._comm import (
    all_reduce,
    broadcast_object,
    broadcast_parameters,
    check_same,
    init,
    is_distributed,
)
from ._comm import launched_with_several_ranks as _launched_with_several_ranks
from ._comm import rank as _rank
from ._optimizer import DistributedOptimizer
from ._sharding import shard

__all__ = ["OneProcess", "Replicas", "data_parallel"]


class OneProcess:
    """Training on one process: every hook leaves its input as it is."""

    is_main = True

    def start(self, model, n_rows: int) -> None:
        pass

    def rows(self, xb, yb) -> tuple:
        return xb, yb, xb.shape[0]

    def average_gradients(self, n: int, n_global: int) -> None:
        pass

    def reduce_logs(self, running) -> None:
        pass

    def evaluate(self, score, X, y, batch_size: int) -> dict:
        return score(X, y, batch_size=batch_size)


class Replicas:
    """One model replica per MPI rank; ``batch_size`` is the global minibatch.

    Args:
        optimizer: the run's first-order optimiser (one that re-evaluates
            the loss in ``step(closure)`` is refused: its line search would
            need every rank in every evaluation).
    """

    def __init__(self, optimizer):
        if getattr(optimizer, "needs_closure", False):
            raise ValueError(
                "Expected a first-order optimiser for data-parallel training. Received: "
                f"{type(optimizer).__name__}, which re-evaluates the loss in step(closure)"
            )
        self.averager = DistributedOptimizer(optimizer)
        self.is_main = _rank() == 0

    def start(self, model, n_rows: int) -> None:
        """Every rank starts from rank 0's parameters and random state, on as many rows."""
        check_same(n_rows, "number of training rows")
        broadcast_parameters(model, root=0)
        _random.set_rng_state(broadcast_object(_random.get_rng_state(), root=0))

    def rows(self, xb, yb) -> tuple:
        """This rank's contiguous shard of a global minibatch (possibly empty)."""
        part = shard(xb.shape[0])
        return xb[part, ...], take_rows(yb, part), xb.shape[0]

    def average_gradients(self, n: int, n_global: int) -> None:
        self.averager.set_share(n, n_global)
        self.averager.synchronize()

    def reduce_logs(self, running) -> None:
        running.reduce(lambda values: all_reduce(values, op="sum"))

    def evaluate(self, score, X, y, batch_size: int) -> dict:
        part = shard(X.shape[0])
        n = part.stop - part.start
        scores = score(X[part], take_rows(y, part), batch_size=batch_size) if n else {}
        names = sorted(broadcast_object(sorted(scores), root=0))
        local = np.array([scores.get(k, 0.0) * n for k in names] + [n], dtype=np.float64)
        total = all_reduce(local, op="sum")
        return {k: float(v / total[-1]) for k, v in zip(names, total[:-1])}


def data_parallel(distributed: bool | None, optimizer) -> OneProcess | Replicas:
    """The run's data parallelism: :class:`Replicas` over MPI or :class:`OneProcess`.

    ``distributed=None`` turns it on when the process was started by an MPI
    launcher with several ranks; True asks for it (a world of one process
    without MPI); False never.
    """
    if distributed is None:
        distributed = _launched_with_several_ranks()
    if distributed:
        init()
        if is_distributed():
            return Replicas(optimizer)
    return OneProcess()
