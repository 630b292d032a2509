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

import warnings

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


_XP_NAMES = {"numpy": "numpy", "np": "numpy", "cupy": "cupy", "torch": "torch"}


def _namespace_named(name: str):
    """The namespace for ``xp="numpy" | "cupy" | "torch"``."""
    library = _XP_NAMES.get(name.strip().lower())
    if library is None:
        raise ValueError(
            f"Unknown xp {name!r}: expected 'numpy', 'cupy', 'torch' or an array namespace "
            "module (e.g. array_api_strict)"
        )
    return numpy if library == "numpy" else _compat(library)


def _split(device: str) -> tuple[str, int | None]:
    """``"cuda:1"`` -> ("cuda", 1); a clear error for anything PyTorch would refuse."""
    name, colon, index = device.strip().partition(":")
    if name not in ("cpu", "cuda", "gpu"):
        raise ValueError(
            f"Unknown device {device!r}: expected 'cpu', 'cpu:0', 'cuda', 'cuda:N', or "
            "xp=<array namespace> with one of its devices"
        )
    if not colon:
        return name, None
    if not (index.isascii() and index.isdigit()):
        raise ValueError(
            f"Unknown device {device!r}: the index after '{name}:' must be a non-negative "
            f"integer (e.g. '{name}:0'). Received: {index!r}"
        )
    return name, int(index)


def _torch_like(device) -> str | None:
    """A ``torch.device``-like object (``.type``, ``.index``) as a string, else None."""
    kind, index = getattr(device, "type", None), getattr(device, "index", 0)
    if isinstance(kind, str) and (index is None or isinstance(index, int)):
        return kind if index is None else f"{kind}:{index}"
    return None


def _cuda_device(device: str, index: int | None):
    """CuPy's device ``index``, checked to run: a missing driver or GPU is one line here."""
    try:
        import cupy
    except ImportError as exc:
        raise ImportError(f"device={device!r} needs CuPy: {_INSTALL['cupy']}") from exc
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # noqa: BLE001 - CuPy's CUDARuntimeError and driver errors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuntimeError(
            f"device={device!r} cannot run: CuPy is installed but CUDA is not usable "
            f"({reason}); is an NVIDIA driver installed? Use device='cpu'"
        ) from None
    index = 0 if index is None else index
    if index >= count:
        raise ValueError(
            f"device={device!r}: expected a GPU index below {count} (this machine has "
            f"{count} CUDA device(s))"
        )
    return _compat("cupy"), cupy.cuda.Device(index)


def parse_device(device=None, xp=None):
    """``(namespace, device)`` for ``Module.to``/``Tensor.to`` arguments, as PyTorch reads them.

    - ``None``, ``"cpu"``, ``"cpu:0"`` (without ``xp``, or ``xp=numpy``): NumPy on the host;
    - ``"cuda"``, ``"cuda:N"`` (``"gpu"``, ``"gpu:N"``), an int N: CuPy on that GPU (extra
      ``[cuda]``); a GPU that cannot run (no driver, no such index) is refused here;
    - a ``torch.device``-like object (``.type``, ``.index``) as its string;
    - ``xp=namespace`` (or ``"numpy"``, ``"cupy"``, ``"torch"``) with ``device`` one of its
      devices (``None``: its default device); NumPy has only ``"cpu"``.

    Anything else (``"cuda:x"``, ``"banana"``, ``device="cuda"`` with ``xp=numpy``) is a
    ``ValueError`` naming what was expected.
    """
    if isinstance(xp, str):
        xp = _namespace_named(xp)
    if xp is not None and not is_numpy(xp) and not _is_cupy(xp):
        return xp, _check_in(xp, device)
    if isinstance(device, bool):
        raise TypeError(f"Expected device to be a string or an int. Received: {device!r}")
    if isinstance(device, int):
        if device < 0:
            raise ValueError(f"Expected a non-negative GPU index. Received: device={device}")
        device = f"cuda:{device}"
    elif device is not None and not isinstance(device, str):
        as_text = _torch_like(device)
        if as_text is None:
            if xp is not None and _is_cupy(xp):
                return xp, device  # a cupy.cuda.Device
            raise TypeError(
                "Expected device to be a string ('cpu', 'cuda', 'cuda:N') or, with xp=, a "
                f"device of that namespace. Received: {device!r}"
            )
        device = as_text
    if device is None and xp is not None and _is_cupy(xp):
        return xp, None  # CuPy's current device
    name, index = ("cpu", None) if device is None else _split(device)
    if xp is not None and is_numpy(xp) and name != "cpu":
        raise ValueError(
            f"Expected device 'cpu' with xp=numpy (NumPy has no other device). Received: "
            f"device={device!r} (for a GPU use device='cuda' without xp)"
        )
    if name == "cpu":
        if xp is not None and _is_cupy(xp):
            raise ValueError(f"Expected a CUDA device with xp=cupy. Received: device={device!r}")
        return numpy, "cpu"
    return _cuda_device(device, index)


def _is_cupy(ns) -> bool:
    return getattr(ns, "__name__", "").split(".")[-1] == "cupy"


def _check_in(ns, device):
    """``device`` if namespace ``ns`` lists it (or cannot list its devices), else an error."""
    if device is None:
        return None
    info = getattr(ns, "__array_namespace_info__", None)
    try:
        with warnings.catch_warnings():  # torch warns about device types it lists
            warnings.simplefilter("ignore")
            devices = list(info().devices()) if info is not None else None
    except Exception:  # noqa: BLE001 - a namespace that cannot list its devices
        devices = None
    if not devices or any(d == device or str(d) in (str(device), f"{device}:0")
                          for d in devices):
        return device
    raise ValueError(
        f"Unknown device {device!r} for {getattr(ns, '__name__', ns)}: expected one of "
        f"{[str(d) for d in devices]}"
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
