"""Run small matrix products on one BLAS thread, inside an estimator's work only.

An MLP on tabular data multiplies small matrices (a 200 x 64 batch by a
64 x 100 weight is 1.3 million multiply-adds).  For such sizes a second
BLAS thread costs more in hand-offs than it saves, and on a machine whose
cores are busy with other work a spinning BLAS thread can make every
product several times slower.  So the estimators limit BLAS to one thread
while they train or predict, unless the largest product of a minibatch
reaches ``SMALL_GEMM`` multiply-adds, as scikit-learn's MiniBatchKMeans
does: the limit is scoped to the ``with`` block and the previous thread
count is restored on exit (``chainrule._threads.one_blas_thread``, which
also stays right when several estimators fit on several threads at once).
"""

from __future__ import annotations

import itertools
from contextlib import AbstractContextManager, nullcontext

from .._threads import one_blas_thread

#: Below this many multiply-adds per layer and minibatch, use one BLAS thread.
SMALL_GEMM = 1 << 23


def blas_scope(rows: int, layer_sizes) -> AbstractContextManager:
    """A context manager: one BLAS thread if ``rows`` x the biggest layer is small."""
    sizes = list(layer_sizes)
    biggest = max(a * b for a, b in itertools.pairwise(sizes))
    if rows * biggest >= SMALL_GEMM:
        return nullcontext()
    return one_blas_thread()
