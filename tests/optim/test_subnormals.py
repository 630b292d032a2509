"""Subnormal optimiser state is flushed to zero every FLUSH_EVERY steps (speed only)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim import optimizer as base


@pytest.fixture(params=["whole", "chunked"])
def chunked(request, monkeypatch):
    """Update the 4-element parameter as one array, or in 2-element chunks."""
    if request.param == "chunked":
        monkeypatch.setattr(base, "CHUNK", 2)
        return True
    return False


def _momentum_after(steps, chunked):
    w = cr.nn.Parameter(np.ones(4, np.float32))
    opt = cr.optim.SGD([w], lr=0.1, momentum=0.5, chunked=chunked)
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


def test_adam_moments_are_flushed_on_their_step_count():
    w = cr.nn.Parameter(np.ones(3, np.float32))
    opt = cr.optim.Adam([w], lr=0.1)
    tiny = np.finfo(np.float32).tiny
    for k in range(base.FLUSH_EVERY):
        w.grad = np.zeros(3, np.float32)
        opt.step()
        if k == 0:
            opt.state[w]["exp_avg"][:] = [tiny / 8, tiny * 1e6, 0.0]
            opt.state[w]["exp_avg_sq"][:] = [tiny / 8, tiny * 1e9, 0.0]
        if k == base.FLUSH_EVERY - 2:
            assert opt.state[w]["exp_avg"][0] > 0  # subnormal, not yet flushed
    assert opt.state[w]["step"] == base.FLUSH_EVERY
    assert opt.state[w]["exp_avg"][0] == 0 and opt.state[w]["exp_avg_sq"][0] == 0
    assert opt.state[w]["exp_avg"][1] > 0 and opt.state[w]["exp_avg_sq"][1] > 0


def test_subnormal_state_becomes_zero_at_the_flush_step(chunked):
    n = base.FLUSH_EVERY
    before, _ = _momentum_after(n - 1, chunked)
    assert 0 < before[1] < np.finfo(np.float32).tiny  # still subnormal one step earlier
    after, _ = _momentum_after(n, chunked)
    assert after[1] == 0 and after[2] == np.inf and after[3] == 0
    assert after[0] == np.float32(0.5) ** (n - 1)  # normal values are untouched


def test_chunked_and_whole_paths_still_agree(monkeypatch):
    monkeypatch.setattr(base, "CHUNK", 2)
    a = _momentum_after(2 * base.FLUSH_EVERY + 3, True)
    b = _momentum_after(2 * base.FLUSH_EVERY + 3, False)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
