"""Subnormal optimiser state is flushed to zero every FLUSH_EVERY steps (speed only)."""

import numpy as np

import chainrule as cr
from chainrule._backend.fused import kernels
from chainrule.optim import optimizer as base


def _momentum_after(steps):
    w = cr.nn.Parameter(np.ones(4, np.float32))
    opt = cr.optim.SGD([w], lr=0.1, momentum=0.5)
    tiny = np.finfo(np.float32).tiny
    for k in range(steps):
        # a gradient only at the first step, then zeros: the momentum decays by 0.5 a step
        w.grad = np.array([1.0, 0.0, 0.0, 0.0], np.float32) if k == 0 else np.zeros(4, np.float32)
        if k == 0:
            opt.step()
            opt.state[w]["momentum_buffer"][1] = tiny / 4  # subnormal
            opt.state[w]["momentum_buffer"][2] = 1e30
            continue
        opt.step()
    return opt.state[w]["momentum_buffer"].copy(), w.data.copy()


def test_adam_moments_are_flushed_on_their_step_count(path):
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


def test_subnormal_state_becomes_zero_at_the_flush_step(path):
    n = base.FLUSH_EVERY
    before, _ = _momentum_after(n - 1)
    assert 0 < before[1] < np.finfo(np.float32).tiny  # still subnormal one step earlier
    after, _ = _momentum_after(n)
    assert after[1] == 0 and after[2] > 1e25 and after[3] == 0
    assert after[0] == np.float32(0.5) ** (n - 1)  # normal values are untouched


def test_compiled_and_plain_paths_still_agree():
    with kernels("compiled"):
        a = _momentum_after(2 * base.FLUSH_EVERY + 3)
    with kernels("numpy"):
        b = _momentum_after(2 * base.FLUSH_EVERY + 3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_flush_keeps_infinities_and_normal_numbers(path):
    tiny = np.finfo(np.float32).tiny
    x = np.array([1.0, np.inf, -np.inf, tiny, -tiny / 4, tiny / 2, 0.0, -3.0], np.float32)
    base._flush(x, float(tiny), 0.0)
    np.testing.assert_array_equal(x, [1.0, np.inf, -np.inf, tiny, 0.0, 0.0, 0.0, -3.0])
