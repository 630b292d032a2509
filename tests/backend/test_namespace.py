"""The backend layer: namespaces by array type, devices, the host boundary, the kernel table."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule._backend import (
    as_float_array,
    backend_name,
    device_of,
    dtype_in,
    from_host,
    is_numpy,
    kernels,
    namespace_of,
    parse_device,
    to_host,
)

xs = pytest.importorskip("array_api_strict")
DEV1 = xs.Device("device1")


def test_numpy_arrays_compute_with_numpy_itself():
    assert namespace_of(np.ones(2)) is np
    assert namespace_of(np.float32(1.0)) is np
    assert namespace_of(1.5) is np and is_numpy(np) and backend_name(np) == "numpy"
    assert device_of(np.ones(2)) == "cpu"


def test_strict_arrays_keep_namespace_and_device():
    a = xs.asarray([1.0, 2.0], device=DEV1)
    assert namespace_of(a) is xs and backend_name(xs) == "generic"
    assert device_of(a) == DEV1
    host = to_host(a)
    assert isinstance(host, np.ndarray) and host.tolist() == [1.0, 2.0]
    f = as_float_array(a)
    assert f.dtype == xs.float32 and f.device == DEV1
    back = from_host(np.arange(3.0), xs, DEV1, np.float32)
    assert back.device == DEV1 and back.dtype == xs.float32
    assert dtype_in(xs, np.float64) == xs.float64 and dtype_in(np, "float32") == np.float32


def test_torch_tensors_through_array_api_compat():
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    t = torch.ones(3, dtype=torch.float64)
    ns = namespace_of(t)
    assert ns.__name__ == "array_api_compat.torch" and backend_name(ns) == "generic"
    assert as_float_array(t).dtype == torch.float32
    assert to_host(t).dtype == np.float64


def test_parse_device():
    assert parse_device("cpu") == (np, "cpu") and parse_device() == (np, "cpu")
    assert parse_device(DEV1, xp=xs) == (xs, DEV1)
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        parse_device("tpu")
    with pytest.raises(TypeError, match="device"):
        parse_device(2.5)


def test_unknown_array_type_is_named():
    class Foo:
        pass

    with pytest.raises(TypeError, match="Foo"):
        namespace_of(Foo())


def test_kernel_table_dispatches_by_backend():
    @kernels.register("_test_double", "generic")
    def generic(xp, a):
        return a * 2

    @kernels.register("_test_double", "numpy")
    def fast(xp, a):
        return np.multiply(a, 2, out=a)

    assert kernels.kernel("_test_double", np) is fast
    assert kernels.kernel("_test_double", xs) is generic
    with pytest.raises(KeyError, match="no kernel named"):
        kernels.kernel("_no_such_kernel", np)
