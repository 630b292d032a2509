"""Where a model computes, and moving data there (the Trainer's side of devices).

A model's array namespace and device are read from its first parameter,
once per ``fit``/``evaluate``/``predict`` call.  Data then goes there:

* host data (NumPy arrays) stays on the host loader and each minibatch is
  moved with :func:`~chainrule._backend.from_host` (once per batch);
* data that already is an array of the model's namespace stays there whole
  (moved once with ``to_device`` if it sits on another device of that
  library) and the loader cuts it on that device;
* data of another array library is refused with a message naming both.
"""

from __future__ import annotations

import numpy as np

from .._backend import device_of, from_host, is_numpy, namespace_of, to_host

__all__: list[str] = []


def library_name(ns) -> str:
    """A short name of an array namespace for messages: numpy, cupy, torch, array_api_strict."""
    if is_numpy(ns):
        return "numpy"
    name = getattr(ns, "__name__", type(ns).__name__)
    return name.removeprefix("array_api_compat.")


def model_place(model) -> tuple:
    """``(namespace, device)`` of a model's first parameter (NumPy on the host without one)."""
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if params is not None else None
    if first is None:
        return np, "cpu"
    data = first.data
    return namespace_of(data), device_of(data)


def is_host(a) -> bool:
    """Whether ``a`` is host data rather than an array of a device library.

    Host data is anything NumPy reads (arrays, lists, scalars, data frames)
    and dicts of targets (one per task); CuPy, torch and other array-API
    arrays (array_api_strict) are not.
    """
    if a is None or isinstance(a, (np.ndarray, np.generic, list, tuple, int, float, dict)):
        return True
    if type(a).__module__.split(".")[0] in ("cupy", "torch"):
        return False
    return not hasattr(a, "__array_namespace__")


def on_model(a, xp, device, name: str = "X"):
    """Array ``a`` in namespace ``xp`` on ``device``: moved from the host, kept, or refused.

    Raises:
        TypeError: ``a`` is an array of another library than the model's.
    """
    if a is None:
        return None
    ns = namespace_of(a)
    if ns is xp:
        if is_numpy(xp) or device is None:
            return a
        here = device_of(a)
        return a if here == device else a.to_device(device)
    if ns is np:
        return from_host(a, xp, device)
    raise TypeError(
        f"Expected {name} as NumPy (host) data or as arrays of the model's library. Received: "
        f"the model computes with {library_name(xp)} on device {device!r}, and {name} is an "
        f"array of {library_name(ns)} on device {device_of(a)!r}; move one of them "
        f"(model.to(...), or the data to the model's library)"
    )


def check_same_library(model_xp, device, a, name: str = "X") -> None:
    """Refuse ``a`` (not host data) when it belongs to another library than the model."""
    if a is None or is_host(a):
        return
    ns = namespace_of(a)
    if ns is model_xp:
        return
    on_model(a, model_xp, device, name)  # raises, naming both


def host_copy(a):
    """``a`` as NumPy (one copy off a device); None stays None."""
    return None if a is None else to_host(a)
