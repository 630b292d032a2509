"""Data-parallel training over MPI (``pip install "chainrule[distributed]"``).

Minibatch SGD parallelises over the examples of a minibatch: the gradient
of the mean loss over a global minibatch of N rows is the weighted mean of
the gradients of its shards, ``g = Σ_r (n_r / N) g_r``.  Each of the R
processes (ranks) started by ``mpiexec -n R`` holds a full replica of the
model, computes the gradient of its shard, and one all-reduce over one
contiguous buffer gives every rank the same ``g``, so the replicas take the
same step and stay identical.  This module uses MPI through ``mpi4py``;
nothing here is home-made networking.

Conventions (decided once):

* ``batch_size`` is the **global** minibatch: the same seed and flags give
  the same model on 1 or R processes, up to float32 rounding of the sums.
  Every rank draws the same global permutation (same seed) and takes its
  contiguous slice of each minibatch (:func:`shard`).
* Batch-norm statistics are **per rank** (as PyTorch's DDP without
  SyncBatchNorm): with batch norm, R ranks normalise over shards of N/R
  rows and results differ from one process.
* Dropout and noise masks are drawn per rank from the generator in scope,
  so with dropout the draws (not their distribution) depend on R.
* Only rank 0 prints and writes files (``fit``'s progress and checkpoints,
  and the whole run folder of ``chainrule train``).

The Trainer sees all of this through one object with five hooks
(:mod:`chainrule.distributed._replicas`: ``Replicas`` over MPI,
``OneProcess`` otherwise), chosen once per run by ``data_parallel``.

Without ``mpi4py`` (or outside ``mpiexec``) everything here still works as
a world of one process, so the same script runs anywhere.
"""

from ._comm import (
    abort,
    all_reduce,
    barrier,
    broadcast_object,
    broadcast_parameters,
    init,
    is_distributed,
    launched_with_several_ranks,
    rank,
    world_size,
)
from ._optimizer import DistributedOptimizer
from ._sharding import ShardedLoader, shard

__all__ = [
    "DistributedOptimizer",
    "ShardedLoader",
    "abort",
    "all_reduce",
    "barrier",
    "broadcast_object",
    "broadcast_parameters",
    "init",
    "is_distributed",
    "launched_with_several_ranks",
    "rank",
    "shard",
    "world_size",
]
