"""The CuPy device generator of chainrule.random, with a stand-in for CuPy (CPU, CI).

``cupy.random.default_rng`` is replaced by NumPy's, so the test checks
chainrule's part: which seed each GPU's generator gets (64 bits drawn
from the generator in scope, once per GPU), that ``cr.manual_seed``
fixes the masks, and that later draws continue the stream.
"""

import types

import numpy as np
import pytest

import chainrule as cr
from chainrule._backend import _cupy
from chainrule._backend.kernels import registered


class _Device:
    def __init__(self, id=None):
        self.id = 0 if id is None else id

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def fake_cupy(monkeypatch):
    fake = types.SimpleNamespace(
        cuda=types.SimpleNamespace(Device=_Device),
        random=types.SimpleNamespace(default_rng=np.random.default_rng),
        float32=np.float32,
    )
    monkeypatch.setattr(_cupy, "_cp", lambda: fake)
    monkeypatch.setattr(_cupy, "_DEVICE_GENERATORS", type(_cupy._DEVICE_GENERATORS)())
    return fake


def test_device_masks_are_fixed_by_the_seed_and_continue_the_stream(fake_cupy):
    uniform = registered("random_uniform")["cupy"]
    normal = registered("random_normal")["cupy"]
    cr.manual_seed(5)
    a = uniform(None, cr.random.generator(), (4,), None, _Device(0))
    b = uniform(None, cr.random.generator(), (4,), None, _Device(0))
    n = normal(None, cr.random.generator(), (3,), None, _Device(0))
    cr.manual_seed(5)
    np.testing.assert_array_equal(uniform(None, cr.random.generator(), (4,), None, _Device(0)), a)
    # the GPU's generator was seeded once with 64 bits from the host generator
    host = cr.random.new_generator(5)
    dev = np.random.default_rng(int(host.integers(0, 2**63)))
    np.testing.assert_array_equal(a, dev.random(4, dtype=np.float32))
    np.testing.assert_array_equal(b, dev.random(4, dtype=np.float32))
    np.testing.assert_array_equal(n, dev.standard_normal(3, dtype=np.float32))
    assert a.dtype == np.float32 and not np.array_equal(a, b)
    # the host stream moved by that one draw only
    cr.manual_seed(5)
    g = cr.random.generator()
    uniform(None, g, (4,), None, _Device(0))
    uniform(None, g, (4,), None, _Device(0))
    np.testing.assert_array_equal(g.random(3), host.random(3))


def test_each_gpu_and_each_seed_gets_its_own_generator(fake_cupy):
    uniform = registered("random_uniform")["cupy"]
    cr.manual_seed(1)
    g0 = uniform(None, cr.random.generator(), (5,), None, _Device(0))
    g1 = uniform(None, cr.random.generator(), (5,), None, _Device(1))
    assert not np.array_equal(g0, g1)
    cr.manual_seed(2)
    assert not np.array_equal(uniform(None, cr.random.generator(), (5,), None, _Device(0)), g0)
    with cr.random.use_generator(1) as rng:  # a scoped generator: its own device stream
        scoped = uniform(None, rng, (5,), None, _Device(0))
    np.testing.assert_array_equal(scoped, g0)
