import numpy as np
import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _seed():
    cr.manual_seed(0)
    np.random.seed(0)
    yield


# --- array namespaces (issue 12) -------------------------------------------
# The same shape as dev-core's fixture: ``namespace`` yields an object with
# ``.xp``, ``.device``, ``.asarray(np_array)`` and ``.to_numpy(a)``.
class _Namespace:
    def __init__(self, name, xp, device):
        self.name = name
        self.xp = xp
        self.device = device

    def asarray(self, a):
        a = np.asarray(a)
        if self.name == "numpy":
            return a.copy()
        if self.device is None:
            return self.xp.asarray(a.copy())
        return self.xp.asarray(a.copy(), device=self.device)

    def to_numpy(self, a):
        from chainrule._backend import to_host

        return np.asarray(to_host(getattr(a, "data", a) if hasattr(a, "_ctx") else a))

    def __repr__(self):
        return self.name


NAMESPACES = ["numpy", "strict", "strict-device1", "torch"]


def make_namespace(name):
    if name == "numpy":
        return _Namespace(name, np, "cpu")
    if name.startswith("strict"):
        xps = pytest.importorskip("array_api_strict")
        device = xps.Device("device1") if name == "strict-device1" else None
        if device is None:
            device = xps.__array_namespace_info__().default_device()
        return _Namespace(name, xps, device)
    compat = pytest.importorskip("array_api_compat.torch")
    import torch

    return _Namespace(name, compat, torch.device("cpu"))


@pytest.fixture(params=NAMESPACES)
def namespace(request):
    return make_namespace(request.param)


@pytest.fixture
def namespaces():
    """``namespaces(name)``: the namespace object of that name (one of NAMESPACES)."""
    return make_namespace
