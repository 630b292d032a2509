"""Shard each global minibatch over the ranks."""

from __future__ import annotations

from ._comm import rank as _rank
from ._comm import world_size as _world_size


def shard(n_rows: int, rank: int | None = None, world: int | None = None) -> slice:
    """The contiguous rows of a minibatch of ``n_rows`` that ``rank`` works on.

    Rank r of R takes rows ``[r·n // R, (r+1)·n // R)``: shares differ by at
    most one row, and together they cover the minibatch once, in order.
    """
    rank = _rank() if rank is None else rank
    world = _world_size() if world is None else world
    if not 0 <= rank < world:
        raise ValueError(f"Expected 0 <= rank < world. Received: rank={rank}, world={world}")
    return slice(rank * n_rows // world, (rank + 1) * n_rows // world)


class ShardedLoader:
    """Iterate over this rank's shard of each global minibatch of a loader.

    The wrapped loader must produce the same global minibatches on every
    rank (same data, same seed: every rank draws the same permutation).
    Each item is ``(xb, yb, n_global)``: this rank's rows and the size of the
    global minibatch they came from (for :meth:`DistributedOptimizer.set_share`).
    A rank's shard may be empty when a minibatch has fewer rows than ranks.

    Args:
        loader: a ``chainrule.data.DataLoader`` whose ``batch_size`` is the
            global minibatch.
    """

    def __init__(self, loader, rank: int | None = None, world: int | None = None):
        self.loader = loader
        self.rank = _rank() if rank is None else rank
        self.world = _world_size() if world is None else world

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for xb, yb in self.loader:
            part = shard(len(xb), self.rank, self.world)
            yield xb[part], (None if yb is None else yb[part]), len(xb)

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)
