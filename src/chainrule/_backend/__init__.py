"""The backend layer: which array library an array belongs to, its device, the host boundary.

chainrule computes through the Python array API standard.  Every compute path
asks :func:`namespace_of` for the namespace of the arrays it was given (one
dict lookup per array *type*, cached) and calls only standard functions on it;
what the standard cannot say is a *kernel* (``kernels.py``): one entry per
backend, a NumPy reference, a CuPy entry, and a generic entry written in the
standard alone that serves every other library (array_api_strict, torch
through array-api-compat).

Namespaces by array type:

=========================  ==============================================
array type                 namespace
=========================  ==============================================
``numpy.ndarray``          ``numpy`` itself (2.x is array-API compliant;
                           its extras, ``out=`` and ``add.at``, are used
                           only inside NumPy kernel entries)
``cupy.ndarray``           ``array_api_compat.cupy`` (extra ``[cuda]``)
``torch.Tensor``           ``array_api_compat.torch`` (extra ``[interop]``)
anything else              ``a.__array_namespace__()`` (array_api_strict)
=========================  ==============================================

Host-only code (files, checkpoints, the CLI, estimators' input checks)
converts at one boundary: :func:`to_host` (DLPack first) and
:func:`from_host`.  This module is the only place that tells NumPy from
CuPy; the layers above ask :func:`is_numpy` or :func:`backend_name` when
they must choose a kernel, and never import CuPy themselves.
"""

from __future__ import annotations

import numpy

#: The host namespace: files, checkpoints, initialisation and shuffling use it.
xp = numpy

#: Default floating dtype of tensors and parameters.
DEFAULT_DTYPE = numpy.float32

__all__ = [
    "DEFAULT_DTYPE",
    "as_float_array",
    "backend_name",
    "device_of",
    "dtype_in",
    "from_host",
    "is_numpy",
    "namespace_of",
    "parse_device",
    "to_host",
    "xp",
]

#: array type -> namespace; filled on first sight of each type.
_NAMESPACES: dict = {numpy.ndarray: numpy, numpy.float32: numpy, numpy.float64: numpy}

_INSTALL = {
    "cupy": 'pip install "chainrule[cuda]"  (CuPy for your CUDA version, e.g. cupy-cuda12x)',
    "torch": 'pip install "chainrule[interop]"  (array-api-compat, to compute on torch tensors)',
}


def _compat(library: str):
    """``array_api_compat.<library>``, or an error naming the install line."""
    try:
        import importlib

        return importlib.import_module(f"array_api_compat.{library}")
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            f"chainrule needs array-api-compat to compute on {library} arrays: "
            f"{_INSTALL[library]}"
        ) from exc


def _lookup(t: type, a):
    module = t.__module__.split(".")[0]
    if issubclass(t, numpy.ndarray) or issubclass(t, numpy.generic):
        ns = numpy
    elif module == "cupy":
        ns = _compat("cupy")
    elif module == "torch":
        ns = _compat("torch")
    elif hasattr(a, "__array_namespace__"):
        ns = a.__array_namespace__()
    else:
        raise TypeError(
            f"Expected an array of an array-API library (NumPy, CuPy, array_api_strict, "
            f"torch). Received: {t.__module__}.{t.__qualname__}"
        )
    _NAMESPACES[t] = ns
    return ns


def namespace_of(a):
    """The array namespace ``a`` computes with (cached per array type).

    Python scalars, lists and ``None`` belong to NumPy, the host namespace.
    """
    t = type(a)
    try:
        return _NAMESPACES[t]
    except KeyError:
        if t in (int, float, bool, list, tuple, type(None)):
            return numpy
        return _lookup(t, a)


def is_numpy(ns) -> bool:
    """Whether ``ns`` is NumPy (the host library, with its fast kernels)."""
    return ns is numpy or getattr(ns, "__name__", "") == "array_api_compat.numpy"


def backend_name(ns) -> str:
    """``"numpy"``, ``"cupy"`` or ``"generic"``: which kernel entry serves ``ns``."""
    if is_numpy(ns):
        return "numpy"
    name = getattr(ns, "__name__", "")
    if name == "cupy" or name.endswith(".cupy"):
        return "cupy"
    return "generic"


def device_of(a):
    """The device of array ``a`` (``"cpu"`` for NumPy arrays and host values)."""
    if isinstance(a, numpy.ndarray) or not hasattr(a, "device"):
        return "cpu"
    dev = a.device
    return dev() if callable(dev) else dev


def to_host(a) -> numpy.ndarray:
    """``a`` as a NumPy array, copying off a device when it must (DLPack first).

    The one boundary host-only code crosses: files, checkpoints, the CLI,
    metrics printed, estimators' outputs.
    """
    if isinstance(a, numpy.ndarray):
        return a
    if isinstance(a, (numpy.generic, int, float, bool, list, tuple)):
        return numpy.asarray(a)
    get = getattr(a, "get", None)  # CuPy: device -> host copy
    if get is not None and type(a).__module__.split(".")[0] == "cupy":
        return get()
    if type(a).__module__.split(".")[0] == "torch":
        return a.detach().cpu().numpy()
    try:
        return numpy.from_dlpack(a)
    except (TypeError, RuntimeError, BufferError, ValueError, AttributeError):
        pass
    to_device = getattr(a, "to_device", None)
    if to_device is not None:
        ns = namespace_of(a)
        devices = getattr(ns, "__array_namespace_info__", None)
        if devices is not None:
            cpu = devices().default_device()
            return numpy.asarray(to_device(cpu))
    return numpy.asarray(a)


def from_host(data, ns, device=None, dtype=None):
    """Host ``data`` (NumPy, lists, scalars) as an array of namespace ``ns`` on ``device``."""
    if is_numpy(ns):
        return numpy.asarray(data, dtype=dtype)
    if dtype is not None:
        dtype = dtype_in(ns, dtype)
    if device is None:
        return ns.asarray(data, dtype=dtype)
    return ns.asarray(data, dtype=dtype, device=device)


def dtype_in(ns, dtype):
    """``dtype`` (a NumPy dtype, its name, or already one of ``ns``) as a dtype of ``ns``."""
    if is_numpy(ns):
        return numpy.dtype(dtype)
    try:
        name = numpy.dtype(dtype).name
    except TypeError:
        return dtype  # already a dtype object of ns
    return getattr(ns, name)


def parse_device(device=None, xp=None):
    """``(namespace, device)`` for ``Module.to``/``Tensor.to`` arguments.

    - ``"cpu"`` (or ``None`` without ``xp``): NumPy on the host;
    - ``"cuda"``/``"cuda:1"``/``"gpu"``: CuPy on that GPU (extra ``[cuda]``);
    - ``xp=namespace`` with ``device`` one of its devices (or ``None`` for its
      default device), for any array-API library.
    """
    if xp is not None:
        if isinstance(device, str) and device == "cpu" and is_numpy(xp):
            return numpy, "cpu"
        return xp, device
    if device is None or (isinstance(device, str) and device == "cpu"):
        return numpy, "cpu"
    if isinstance(device, str):
        name, _, index = device.partition(":")
        if name in ("cuda", "gpu"):
            try:
                import cupy
            except ImportError as exc:
                raise ImportError(
                    f"device={device!r} needs CuPy: {_INSTALL['cupy']}"
                ) from exc
            ns = _compat("cupy")
            return ns, cupy.cuda.Device(int(index) if index else 0)
        raise ValueError(
            f"Unknown device {device!r}: expected 'cpu', 'cuda', 'cuda:N', or "
            "xp=<array namespace> with one of its devices"
        )
    raise TypeError(
        f"Expected device to be a string ('cpu', 'cuda', 'cuda:N') or, with xp=, a device "
        f"of that namespace. Received: {device!r}"
    )


def as_float_array(data, dtype=None):
    """``data`` as an array of its own namespace; float data becomes ``DEFAULT_DTYPE``.

    Arrays of an array-API library (CuPy, array_api_strict, torch) keep their
    library and device; everything else becomes a NumPy array.
    """
    t = type(data)
    if t is numpy.ndarray or t in (int, float, bool, list, tuple) or isinstance(data, numpy.generic):
        arr = numpy.asarray(data, dtype=dtype)
        if dtype is None and arr.dtype.kind == "f" and arr.dtype != DEFAULT_DTYPE:
            arr = arr.astype(DEFAULT_DTYPE)
        return arr
    if not hasattr(data, "__array_namespace__") and t.__module__.split(".")[0] not in ("cupy", "torch"):
        arr = numpy.asarray(data, dtype=dtype)  # e.g. memoryviews, pandas objects
        if dtype is None and arr.dtype.kind == "f" and arr.dtype != DEFAULT_DTYPE:
            arr = arr.astype(DEFAULT_DTYPE)
        return arr
    ns = namespace_of(data)
    if dtype is not None:
        dtype = dtype_in(ns, dtype)
        return data if data.dtype == dtype else ns.astype(data, dtype)
    if ns.isdtype(data.dtype, "real floating") and data.dtype != ns.float32:
        return ns.astype(data, ns.float32)
    return data
