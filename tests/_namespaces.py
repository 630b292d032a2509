"""The array libraries and devices the conformance tests run on (imported by
``conftest.py`` and by test modules: ``from _namespaces import make_namespace``;
a module name of its own, since every folder's ``conftest`` shares one name)."""

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule._backend import from_host, to_host


class Namespace:
    """One array library and device the conformance tests run on.

    ``xp`` is the namespace (``numpy`` itself for NumPy), ``device`` its
    device (``"cpu"`` for NumPy), ``asarray(np_array)`` a host array moved
    there (dtype kept), ``to_numpy(a)`` an array (or Tensor) of it back on the host.
    """

    def __init__(self, name, xp, device):
        self.name = name
        self.xp = xp
        self.device = device

    def asarray(self, a):
        a = np.asarray(a)
        if self.xp is np:
            return a
        return from_host(a, self.xp, self.device, a.dtype)

    def to_numpy(self, a):
        if isinstance(a, cr.Tensor):
            a = a.data
        return to_host(a)

    def owns(self, a) -> bool:
        """Whether array (or Tensor) ``a`` is of this namespace and on this device."""
        from chainrule._backend import device_of, namespace_of

        if isinstance(a, cr.Tensor):
            a = a.data
        if namespace_of(a) is not self.xp:
            return False
        return self.xp is np or device_of(a) == self.device

    def __repr__(self):
        return f"Namespace({self.name})"


#: Every namespace the conformance tests run on (CPU, in CI), plus those named in
#: ``CHAINRULE_TEST_NAMESPACES`` (comma-separated; ``cupy`` on a GPU machine, as
#: ``benchmarks/gpu_check.py`` sets it).
NAMESPACES = ("numpy", "strict", "strict-device1", "torch") + tuple(
    n for n in os.environ.get("CHAINRULE_TEST_NAMESPACES", "").split(",") if n.strip())


def make_namespace(name: str) -> Namespace:
    """The :class:`Namespace` called ``name`` (skips when its library is missing)."""
    if name == "numpy":
        return Namespace(name, np, "cpu")
    if name.startswith("strict"):
        xs = pytest.importorskip("array_api_strict")
        dev = xs.Device("device1") if name == "strict-device1" else xs.Device("CPU_DEVICE")
        return Namespace(name, xs, dev)
    if name == "torch":
        pytest.importorskip("torch")
        compat = pytest.importorskip("array_api_compat.torch")
        import torch

        return Namespace(name, compat, torch.device("cpu"))
    if name == "cupy":
        cupy = pytest.importorskip("cupy")
        compat = pytest.importorskip("array_api_compat.cupy")
        return Namespace(name, compat, cupy.cuda.Device(0))
    raise ValueError(f"unknown namespace {name!r}")
