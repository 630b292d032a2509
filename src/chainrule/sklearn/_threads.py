"""Run small matrix products on one BLAS thread.

An MLP on tabular data multiplies small matrices (a 200 x 64 batch by a
64 x 100 weight is 1.3 million multiply-adds).  For such sizes a second
BLAS thread costs more in hand-offs than it saves, and on a machine whose
cores are busy with other work a spinning BLAS thread can make every
product several times slower.  So the estimators limit BLAS to one thread
while they train or predict, unless the largest product of a minibatch
reaches ``SMALL_GEMM`` multiply-adds.  The limit is scoped:
``threadpoolctl.threadpool_limits`` sets it inside ``fit`` and restores
the previous thread count on exit.
"""

from __future__ import annotations

import itertools
from contextlib import nullcontext

from threadpoolctl import threadpool_limits

#: Below this many multiply-adds per layer and minibatch, use one BLAS thread.
SMALL_GEMM = 1 << 23


def blas_scope(rows: int, layer_sizes) -> object:
    """A context manager: one BLAS thread if ``rows`` x the biggest layer is small."""
    sizes = list(layer_sizes)
    biggest = max(a * b for a, b in itertools.pairwise(sizes))
    if rows * biggest >= SMALL_GEMM:
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
