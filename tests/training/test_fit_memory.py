"""fit's extra memory over its data stays flat as the data grows (O(batch), no O(data) copy)."""

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.training import fit

FEATURES = 64


def _extra_peak(rows: int, **kw) -> int:
    """Peak bytes allocated during one epoch of fit over ``rows`` rows, over those before."""
    rng = np.random.default_rng(0)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(FEATURES, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = cr.optim.SGD(model.parameters(), lr=0.01)

    def run(n):
        X = rng.standard_normal((n, FEATURES), dtype=np.float32)
        y = rng.integers(0, 3, n).astype(np.int64)
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=1000,
            verbose=0, **kw)
        return tracemalloc.get_traced_memory()[1] - before

    run(600)  # warm-up, untraced: compiled kernels and buffers in place
    tracemalloc.start()
    try:
        return run(rows)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kw", [{}, {"shuffle": False}, {"validation_data": "same"}])
def test_extra_peak_memory_does_not_grow_with_the_data(kw):
    small, large = 20_000, 40_000  # 5 MB and 10 MB of float32 features
    if kw.get("validation_data") == "same":  # scored in minibatches, no copy of the set
        rng = np.random.default_rng(1)
        kw = {"validation_data": (rng.standard_normal((2000, FEATURES), dtype=np.float32),
                                  rng.integers(0, 3, 2000).astype(np.int64))}
    grown = _extra_peak(large, **kw) - _extra_peak(small, **kw)
    data_grown = (large - small) * FEATURES * 4
    # the row order (8 bytes a row) grows with the data; a copy of X (or a mask of it,
    # a quarter of its bytes) would not fit
    assert grown < 0.1 * data_grown, (grown, data_grown)
