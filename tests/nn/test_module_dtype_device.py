"""Module.to as PyTorch reads it: one device parser, and dtypes (issues 23 and 25).

- ``parse_device`` accepts what torch.device accepts (``cpu``, ``cpu:0``,
  ``cuda``, ``cuda:N``, a torch.device, an int) and refuses the rest with one
  line naming what was expected; a CUDA device that cannot run (CuPy without
  a driver) is refused when parsed, before anything is placed.
- ``Module.to(dtype)``, ``.double()``, ``.float()`` cast floating parameters
  and buffers in place of the same Parameter objects (integer buffers stay),
  as ``torch.nn.Module.to``; an optimiser built before follows on its next step.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule._backend import parse_device


def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2))


@pytest.mark.parametrize("device", [None, "cpu", "cpu:0", torch.device("cpu"),
                                    torch.device("cpu", 0)])
def test_cpu_spellings_torch_accepts_are_numpy(device):
    torch.device(device if device is not None else "cpu")  # torch accepts each
    ns, dev = parse_device(device)
    assert ns is np and dev == "cpu"
    model = _model().to(device) if device is not None else _model().to()
    assert all(isinstance(p.data, np.ndarray) for p in model.parameters())


@pytest.mark.parametrize("device, match", [
    ("cuda:x", "index after 'cuda:' must be a non-negative integer"),
    ("cuda:-1", "non-negative integer"),
    ("banana", "Unknown device 'banana'.*expected 'cpu', 'cpu:0', 'cuda', 'cuda:N'"),
    ("tpu", "Unknown device 'tpu'"),
    ("", "Unknown device ''"),
])
def test_spellings_torch_refuses_are_refused(device, match):
    with pytest.raises(RuntimeError):  # torch refuses them too
        torch.device(device)
    with pytest.raises(ValueError, match=match):
        _model().to(device)


@pytest.mark.parametrize("device", ["banana", "cuda", "cuda:0", 0])
def test_numpy_has_only_the_cpu(device):
    model = _model()
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match="device|Unknown"):
        model.to(xp=np, device=device)
    assert all(p.data is a for p, a in zip(model.parameters(), before))
    model.to(xp=np, device="cpu:0")
    model.to(xp="numpy")


def test_xp_by_name():
    model = _model()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    with cr.no_grad():
        want = model.eval()(cr.tensor(x)).data
    model.to(xp="torch")
    assert all(isinstance(p.data, torch.Tensor) for p in model.parameters())
    with cr.no_grad():
        got = model(cr.tensor(torch.from_numpy(x))).data
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    model.to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in model.parameters())
    with pytest.raises(ValueError, match="Unknown xp 'jax'"):
        model.to(xp="jax")
    with pytest.raises(ValueError, match="Unknown device 'banana' for array_api_compat.torch"):
        model.to(xp="torch", device="banana")


def _fake_cupy(monkeypatch, count=None, error=None):
    class CUDARuntimeError(RuntimeError):
        pass

    def get_device_count():
        if error:
            raise CUDARuntimeError(error)
        return count

    cupy = types.ModuleType("cupy")
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(
        getDeviceCount=get_device_count), Device=lambda i: ("gpu", i))
    monkeypatch.setitem(sys.modules, "cupy", cupy)


def test_cupy_without_a_driver_is_one_line_at_parse_time(monkeypatch):
    _fake_cupy(monkeypatch, error="cudaErrorInsufficientDriver: CUDA driver version is "
                                  "insufficient for CUDA runtime version")
    model = _model()
    before = [p.data for p in model.parameters()]
    with pytest.raises(RuntimeError, match=r"device='cuda' cannot run: CuPy is installed but "
                                           r"CUDA is not usable \(cudaErrorInsufficientDriver"):
        model.to("cuda")
    assert all(p.data is a for p, a in zip(model.parameters(), before))


def test_a_gpu_index_beyond_the_machine_is_refused(monkeypatch):
    _fake_cupy(monkeypatch, count=1)
    with pytest.raises(ValueError, match=r"'cuda:3'.*below 1"):
        parse_device("cuda:3")


# --- dtypes ------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["double", "to-np", "to-str", "to-torch", "to-keyword",
                                 "to-device-and-dtype"])
def test_double_casts_floating_state_in_place_like_torch(how):
    model = _model()
    model.train()
    with cr.no_grad():
        model(cr.tensor(np.random.default_rng(1).standard_normal((6, 4))))
    params = list(model.parameters())
    before = model.state_dict()
    cast = {"double": lambda m: m.double(), "to-np": lambda m: m.to(np.float64),
            "to-str": lambda m: m.to("float64"), "to-torch": lambda m: m.to(torch.float64),
            "to-keyword": lambda m: m.to(dtype=np.float64),
            "to-device-and-dtype": lambda m: m.to("cpu", np.float64)}[how]
    assert cast(model) is model
    assert all(p is q for p, q in zip(params, model.parameters()))
    ref = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5)).double()
    expected = {k: v.dtype for k, v in ref.state_dict().items()}  # torch keeps int64 counts
    for key, value in model.state_dict().items():
        suffix = key.split(".", 1)[1]
        want = {"torch.float64": np.float64, "torch.int64": np.int64}[
            str(expected[f"1.{suffix}" if "running" in suffix or "batches" in suffix
                         else f"0.{suffix}"])]
        assert value.dtype == want, key
        np.testing.assert_array_equal(value, before[key].astype(want))
    model.float()
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    assert model[1].num_batches_tracked.dtype == np.int64


def test_to_refuses_non_floating_dtypes():
    with pytest.raises(TypeError, match="floating dtype.*int32"):
        _model().to(np.int32)
    with pytest.raises(TypeError, match="floating dtype"):
        _model().to(dtype="banana")


@pytest.mark.parametrize("opt_cls", [cr.optim.SGD, cr.optim.Adam, cr.optim.LBFGS])
def test_an_optimiser_built_before_follows_the_cast(opt_cls):
    model = _model()
    kw = {"lr": 0.01, "momentum": 0.9} if opt_cls is cr.optim.SGD else (
        {"lr": 0.01} if opt_cls is cr.optim.Adam else {})
    opt = opt_cls(model.parameters(), **kw)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(model(cr.tensor(x, dtype=model[0].weight.data.dtype)),
                          cr.tensor(y, dtype=model[0].weight.data.dtype))
        loss.backward()
        return loss

    opt.step(closure)
    model.double()
    opt.step(closure)
    opt.step(closure)
    for p in model.parameters():
        assert p.data.dtype == np.float64 and np.all(np.isfinite(p.data))
