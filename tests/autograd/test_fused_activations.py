"""The activation kernels on both paths: compiled equals plain, both equal torch,
gradcheck passes on both, and a Sequential's fused Linear+activation equals the
unfused layers."""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule._backend import activation_kernels as act
from chainrule._backend.fused import compiled_available, kernels
from chainrule.autograd import ops

sys.path.insert(0, str(Path(__file__).parent))
import test_gradcheck

PATHS = ["compiled", "numpy"]
ACTS = ["relu", "tanh", "sigmoid"]
TORCH = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
# float32 rounding: exp/tanh of numba and NumPy may differ in the last bit
TOL = {np.float32: 4e-7, np.float64: 1e-15}


@pytest.fixture(params=PATHS)
def path(request):
    if request.param == "compiled" and not compiled_available():
        pytest.skip("numba is not importable")
    with kernels(request.param):
        yield request.param


def _run(name, z, b, g):
    """The kernels themselves (``forward``/``backward`` pick a path by size)."""
    fwd, fs, bwd, bs = act.ACTIVATIONS[name]
    (y,) = fwd(z.copy(), b, *fs)
    return y, bwd(y, g, *bs)[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("rows", [4, 700])  # below and above COMPILED_MIN elements
def test_compiled_equals_plain(name, dtype, rows):
    rng = np.random.default_rng(zlib.crc32(f"{name}{rows}".encode()))
    z = (rng.standard_normal((rows, 96)) * 4).astype(dtype)
    z[0, :4] = [0.0, -50.0, 50.0, -0.0]
    b = rng.standard_normal(96).astype(dtype)
    g = rng.standard_normal((rows, 96)).astype(dtype)
    with kernels("numpy"):
        want = _run(name, z, b, g)
    with kernels("compiled"):
        got = _run(name, z, b, g)
    for w, o in zip(want, got):
        assert o.dtype == dtype and o.shape == z.shape
    np.testing.assert_allclose(got[0], want[0], rtol=TOL[dtype], atol=TOL[dtype])
    # the backward reads y: one ulp of y (near ±1 for tanh, 1 - y² cancels)
    # moves g·g'(y) by up to about 2 ulp(1)·|g|
    eps = np.finfo(dtype).eps
    assert np.all(np.abs(got[1] - want[1]) <= TOL[dtype] * np.abs(want[1]) + 4 * eps * np.abs(g))


@pytest.mark.parametrize("name", ACTS)
def test_linear_activation_matches_torch(path, name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((150, 20)).astype(np.float32)
    w = rng.standard_normal((20, 900)).astype(np.float32)
    b = rng.standard_normal(900).astype(np.float32)
    u = rng.standard_normal((150, 900)).astype(np.float32)
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = ops.linear(*xs, activation=name)
    y.backward(u)
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ty = TORCH[name](ts[0] @ ts[1] + ts[2])
    ty.backward(torch.from_numpy(u))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    for c, t in zip(xs, ts):
        np.testing.assert_allclose(c.grad, t.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ACTS)
def test_channels_first_view_runs_in_memory_order(path, name):
    """A convolution's (N, C, H, W) view of a channels-last buffer: same values."""
    rng = np.random.default_rng(2)
    base = rng.standard_normal((8, 24, 24, 32)).astype(np.float32)
    view = base.transpose(0, 3, 1, 2)
    g = rng.standard_normal((8, 24, 24, 32)).astype(np.float32).transpose(0, 3, 1, 2)
    y = act.forward(name, view)
    gz = act.backward(name, y, g)
    t = torch.tensor(np.ascontiguousarray(view), requires_grad=True)
    ty = TORCH[name](t)
    ty.backward(torch.from_numpy(np.ascontiguousarray(g)))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gz, t.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_unknown_activation_is_refused():
    x = cr.tensor(np.ones((2, 3), np.float32))
    w = cr.tensor(np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="activation"):
        ops.linear(x, w, activation="gelu")


FUSED = [c for c in test_gradcheck.ALL if c.name == "linear" and "-" in c.id
         and c.id.split("-")[1] in ACTS]


@pytest.mark.parametrize("case", FUSED, ids=[c.id for c in FUSED])
def test_gradcheck_on_both_paths(path, case):
    test_gradcheck.test_finite_differences(case)


@pytest.mark.parametrize("name", ["ReLU", "Tanh", "Sigmoid"])
def test_sequential_fused_equals_unfused(path, name):
    """The fused pair gives the unfused numbers; a hook on either turns fusion off."""
    cr.manual_seed(3)
    model = nn.Sequential(nn.Linear(30, 1100), getattr(nn, name)(), nn.Linear(1100, 5))
    x = np.random.default_rng(3).standard_normal((130, 30)).astype(np.float32)

    def grads():
        for p in model.parameters():
            p.grad = None
        out = model(cr.tensor(x))
        (out * out).sum().backward()
        return [out.data] + [p.grad.copy() for p in model.parameters()]

    fused = grads()
    seen = []
    handle = model[1].register_forward_hook(lambda m, a, o: seen.append(o.shape))
    plain = grads()
    handle.remove()
    assert seen == [(130, 1100)]  # the hook ran: the pair ran unfused
    for f, p in zip(fused, plain):
        np.testing.assert_allclose(f, p, rtol=2e-6, atol=1e-6)
    calls = []
    original = model[0].forward
    model[0].forward = lambda x, activation=None: calls.append(activation) or original(
        x, activation=activation)
    grads()  # the hook is gone: fused again
    assert calls == [name.lower()]


@pytest.mark.parametrize("name", ACTS)
def test_linear_activation_on_another_namespace(name):
    """The standard-only forward (array_api_strict) gives NumPy's gradients (float32; sums
    in another order)."""
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in ((6, 5), (5, 7), (7,))]
    got = [cr.tensor(xps.asarray(a), requires_grad=True) for a in arrays]
    want = [cr.tensor(a, requires_grad=True) for a in arrays]
    for ts in (got, want):
        (ops.linear(*ts, activation=name) ** 2).sum().backward()
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g.grad), w.grad, rtol=1e-5, atol=1e-6)
