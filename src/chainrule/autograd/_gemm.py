"""Matrix products computed on the calling thread, as blocks BLAS runs single-threaded.

OpenBLAS runs a product on one thread when it is small (a few hundred
thousand multiply-adds) and splits larger ones over all its threads.  When
chainrule already runs work on several threads at once (the batch parts of
a convolution, :func:`chainrule._threads.run_parallel`), a product that
BLAS splits again oversubscribes the cores, and OpenBLAS's idle threads
spin while they wait.  :func:`matmul_here` avoids that without touching
BLAS's thread count (a process-wide setting): it cuts the product into
blocks small enough to run on the calling thread (rows of the output, or,
for a long inner axis, slices of the sum) and calls BLAS on each block.
The result is the same product; only the order of the sums over the
inner axis may differ when that axis is cut, as with any blocked GEMM.
"""

from __future__ import annotations

from .._backend import xp
from .._threads import _limit_holders

#: A block of at most this many multiply-adds runs on the calling thread
#: (below OpenBLAS's threshold for splitting a product over its threads).
BLOCK_MACS = 1 << 19
#: Blocks thinner than this (rows, or inner-axis entries) cost more in calls
#: than they save: the product is then left to BLAS whole.
MIN_BLOCK = 16


def matmul_here(a, b, out=None):
    """``a @ b`` of 2-D float arrays, block by block on the calling thread.

    Args:
        a: (m, k) array.
        b: (k, n) array.
        out: optional (m, n) array to write the product into.

    Returns ``out`` (or a new array) holding ``a @ b``.
    """
    m, k = a.shape
    n = b.shape[1]
    if m * k * n <= BLOCK_MACS:
        return xp.matmul(a, b, out=out)
    if out is None:
        out = xp.empty((m, n), dtype=xp.result_type(a, b))
    rows = BLOCK_MACS // (k * n)
    if rows >= MIN_BLOCK:
        for i in range(0, m, rows):
            xp.matmul(a[i:i + rows], b, out=out[i:i + rows])
        return out
    depth = BLOCK_MACS // (m * n)
    if depth >= MIN_BLOCK:
        # a long inner axis (a weight gradient: a sum over every position)
        xp.matmul(a[:, :depth], b[:depth], out=out)
        part = xp.empty_like(out)
        for j in range(depth, k, depth):
            xp.matmul(a[:, j:j + depth], b[j:j + depth], out=part)
            out += part
        return out
    cols = BLOCK_MACS // (m * k)
    if cols >= MIN_BLOCK:
        for j in range(0, n, cols):
            xp.matmul(a, b[:, j:j + cols], out=out[:, j:j + cols])
        return out
    return xp.matmul(a, b, out=out)


#: Products of at least this many multiply-adds are worth BLAS's own threads.
LARGE_MACS = 1 << 23


def matmul(a, b, out=None, here: bool = False):
    """``a @ b`` of 2-D arrays: on the calling thread when small or when ``here``.

    ``here`` is for code that already runs on several threads at once; a
    large product outside such code is left to BLAS and its threads.
    Inside :func:`chainrule._threads.one_blas_thread` (an estimator's fit)
    BLAS is on one thread already, so products go to it whole.
    """
    if _limit_holders[0]:
        return xp.matmul(a, b, out=out)
    if here or a.shape[0] * a.shape[1] * b.shape[1] < LARGE_MACS:
        return matmul_here(a, b, out=out)
    return xp.matmul(a, b, out=out)
