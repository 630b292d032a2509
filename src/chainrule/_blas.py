"""Matrix products that use one BLAS thread when they are small.

OpenBLAS splits every product over all its threads, and its idle threads
spin while they wait.  For a small product (a convolution over a batch of
short signals: a million multiply-adds) the hand-off costs more than the
second thread saves, and on a machine whose cores are busy with other
work a spinning thread can make each product ten times slower.  So
:func:`matmul` runs products below ``SMALL_GEMM`` multiply-adds on one
thread and leaves large ones to BLAS's own setting.  The thread count is
switched through ``threadpoolctl`` (a scikit-learn dependency) when it is
installed; without it this is plain ``a @ b``.
"""

from __future__ import annotations

import math

from ._backend import xp

#: Products with fewer multiply-adds than this run on one BLAS thread.
SMALL_GEMM = 1 << 26

_blas = []  # [controllers] once looked up (empty list inside: none found)


def _controllers():
    if not _blas:
        try:
            from threadpoolctl import ThreadpoolController

            found = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # noqa: BLE001 - no threadpoolctl, or it failed: do nothing
            found = []
        _blas.append(list(found))
    return _blas[0]


def matmul(a, b):
    """``a @ b`` (NumPy's rules), on one BLAS thread when the product is small."""
    stack = max(math.prod(a.shape[:-2]), math.prod(b.shape[:-2]))
    work = stack * a.shape[-2] * a.shape[-1] * b.shape[-1]
    libs = _controllers() if work < SMALL_GEMM else ()
    if not libs:
        return xp.matmul(a, b)
    saved = [lib.get_num_threads() for lib in libs]
    if all(n == 1 for n in saved):
        return xp.matmul(a, b)
    for lib in libs:
        lib.set_num_threads(1)
    try:
        return xp.matmul(a, b)
    finally:
        for lib, n in zip(libs, saved):
            lib.set_num_threads(n)
