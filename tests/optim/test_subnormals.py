"""Subnormal optimiser state is flushed to zero every FLUSH_EVERY steps (speed only)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim import optimizer as base


def _momentum_after(steps, flat):
    w = cr.nn.Parameter(np.ones(4, np.float32))
    opt = cr.optim.SGD([w], lr=0.1, momentum=0.5)
    opt._use_flat = flat
    tiny = np.finfo(np.float32).tiny
    for k in range(steps):
        # a gradient only at the first step, then zeros: the momentum decays by 0.5 a step
        w.grad = np.array([1.0, 0.0, 0.0, 0.0], np.float32) if k == 0 else np.zeros(4, np.float32)
        if k == 0:
            opt.step()
            opt.state[w]["momentum_buffer"][1] = tiny / 4  # subnormal
            opt.state[w]["momentum_buffer"][2] = np.inf
            continue
        opt.step()
    return opt.state[w]["momentum_buffer"].copy(), w.data.copy()


@pytest.mark.parametrize("flat", [True, False])
def test_subnormal_state_becomes_zero_at_the_flush_step(flat):
    n = base.FLUSH_EVERY
    before, _ = _momentum_after(n - 1, flat)
    assert 0 < before[1] < np.finfo(np.float32).tiny  # still subnormal one step earlier
    after, _ = _momentum_after(n, flat)
    assert after[1] == 0 and after[2] == np.inf and after[3] == 0
    assert after[0] == np.float32(0.5) ** (n - 1)  # normal values are untouched


def test_flat_and_per_parameter_paths_still_agree():
    a = _momentum_after(2 * base.FLUSH_EVERY + 3, True)
    b = _momentum_after(2 * base.FLUSH_EVERY + 3, False)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
