"""Saving and loading state dicts: ``cr.save`` and ``cr.load``.

Two formats, chosen by the file's suffix:

* ``.safetensors``: the `safetensors <https://github.com/huggingface/safetensors>`_
  format, readable by ``safetensors.numpy.load_file``, by PyTorch
  (``safetensors.torch.load_file``) and by other libraries.  It holds a flat
  mapping of names to arrays; chainrule also writes the key order in its
  metadata so ``cr.load`` gives the keys back in ``state_dict()`` order,
  with the weight layout (``chainrule.layout``: chainrule's (in, out) Linear
  weights or PyTorch's (out, in)) and each entry's dtype, checked on loading.
  Writing needs the optional extra ``pip install "chainrule[interop]"``;
  reading is chainrule's own (:mod:`chainrule._safetensors`): every damaged
  file gives an error naming the file and the problem.
* ``.npz``: chainrule's own checkpoint format
  (:mod:`chainrule.training.checkpoint`): atomic writes, no pickle, and a
  SHA-256 over header and arrays, so a changed or truncated file fails to
  load instead of giving wrong weights.  Nested state (model plus optimiser)
  is allowed here.

Example:
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    >>> cr.save(model.state_dict(), "model.safetensors")
    >>> model.load_state_dict(cr.load("model.safetensors"))
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _safetensors
from ._state_dict import StateDict, layout_of

__all__ = ["load", "save"]

_KEY_ORDER = "chainrule.key_order"
_LAYOUT = "chainrule.layout"
_DTYPES = "chainrule.dtypes"
_SUFFIXES = (".safetensors", ".npz")


def _suffix(path: str | os.PathLike) -> str:
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"Expected a path ending in .safetensors or .npz. Received: {os.fspath(path)!r}"
        )
    return suffix


def _safetensors_numpy():
    try:
        import safetensors.numpy as st
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Reading and writing .safetensors files needs the 'safetensors' package: "
            'pip install "chainrule[interop]"'
        ) from None
    return st


def _library_error() -> type[Exception]:
    """The safetensors package's own exception class (OSError if it has none)."""
    import safetensors

    return getattr(safetensors, "SafetensorError", OSError)


def _flat_arrays(obj: Mapping) -> OrderedDict[str, np.ndarray]:
    """The state dict as str -> C-contiguous NumPy array, or a clear error."""
    if not isinstance(obj, Mapping):
        raise TypeError(
            "Expected a state dict (a mapping of names to arrays) for a .safetensors "
            f"file. Received: {type(obj).__name__}"
        )
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"Expected string keys. Received: key {key!r}")
        data = getattr(value, "data", value) if not isinstance(value, np.ndarray) else value
        array = np.asarray(data)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"Expected numeric arrays in a .safetensors file. Received: {key!r} with "
                f"dtype {array.dtype} (nested state goes to a .npz checkpoint)"
            )
        # np.ascontiguousarray would turn a 0-d buffer (num_batches_tracked) into 1-d
        out[key] = array if array.flags.c_contiguous else array.copy(order="C")
    return out


def _writable(path: str) -> None:
    """Refuse a folder, or a path whose folder does not exist, before writing."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"Expected a file path to write. Received: {path!r} (a folder)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"Cannot write {path!r}: its folder {folder!r} does not exist (create it first)"
        )


def save(obj: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write a state dict to ``path``; the suffix picks the format.

    Args:
        obj: a state dict (``model.state_dict()``): names to arrays.  For
            ``.npz`` any nested plain state is allowed (dicts, lists,
            numbers, arrays), e.g. ``{"model": ..., "optimizer": ...}``.
        path: ``*.safetensors`` (portable, flat) or ``*.npz`` (chainrule's
            atomic, checksummed checkpoint).

    Raises:
        ValueError: the suffix is neither ``.safetensors`` nor ``.npz``.
        TypeError: a value is not a numeric array (``.safetensors``).
        ImportError: ``.safetensors`` without the ``safetensors`` package.
        FileNotFoundError, IsADirectoryError: the folder is missing, or
            ``path`` is a folder.
    """
    suffix = _suffix(path)
    _writable(os.fspath(path))
    if suffix == ".npz":
        from .training.checkpoint import save_checkpoint

        if not isinstance(obj, Mapping):
            raise TypeError(
                f"Expected a state dict (a mapping) to save. Received: {type(obj).__name__}"
            )
        if layout_of(obj) != "chainrule":
            raise ValueError(
                f"Expected a state dict in chainrule's layout for {os.fspath(path)!r} (.npz "
                "records none). Received: one in PyTorch's layout; save it as .safetensors"
            )
        save_checkpoint(os.fspath(path), dict(obj))
        return
    st = _safetensors_numpy()
    arrays = _flat_arrays(obj)
    metadata = {_KEY_ORDER: json.dumps(list(arrays)),
                _LAYOUT: str(layout_of(obj)),
                _DTYPES: json.dumps({k: _safetensors.tag_of(a.dtype) for k, a in arrays.items()})}
    try:
        st.save_file(dict(arrays), os.fspath(path), metadata=metadata)
    except (OSError, ValueError, _library_error()) as err:  # the library's names no file
        raise OSError(f"Could not write {os.fspath(path)!r}: {err}") from None


def load(path: str | os.PathLike) -> Any:
    """Read what :func:`save` wrote: a state dict of NumPy arrays.

    ``.safetensors`` files from other libraries load too (their keys in
    file order; bfloat16 entries widened to float32); ``.npz`` files are
    verified against their checksum.  The result, a
    :class:`~chainrule._state_dict.StateDict` that knows its weight layout
    (``None`` for a file another library wrote), goes straight into
    ``Module.load_state_dict``.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: ``path`` is a folder.
        chainrule._safetensors.SafetensorsError: a damaged ``.safetensors``
            file (a ValueError naming the file and the problem).
        chainrule.training.CheckpointError: a damaged ``.npz`` checkpoint.
    """
    suffix = _suffix(path)
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"Expected a {suffix} file. Received: {path!r} (a folder)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"Expected an existing file. Received: {path!r} (no such file)")
    if suffix == ".npz":
        from .training.checkpoint import load_checkpoint

        state = load_checkpoint(path)
        return StateDict(state, layout="chainrule") if isinstance(state, dict) else state
    arrays, meta = _safetensors.read(path)
    order = _key_order(path, meta)
    keys = [k for k in order if k in arrays] + [k for k in arrays if k not in order]
    layout = meta.get(_LAYOUT, "chainrule" if _KEY_ORDER in meta else "None")
    if layout not in ("chainrule", "torch", "None"):
        raise _safetensors.SafetensorsError(
            f"{path!r}: the metadata entry {_LAYOUT} is {layout!r}; expected 'chainrule' "
            "or 'torch'")
    return StateDict(((k, arrays[k]) for k in keys),
                     layout=None if layout == "None" else layout)


def _key_order(path: str, meta: dict) -> list[str]:
    """The key order chainrule stored in the file's metadata (empty if none)."""
    text = meta.get(_KEY_ORDER)
    if text is None:
        return []
    try:
        order = json.loads(text)
    except json.JSONDecodeError:
        raise _safetensors.SafetensorsError(
            f"{path!r}: the metadata entry {_KEY_ORDER} is not valid JSON") from None
    if not isinstance(order, list):
        raise _safetensors.SafetensorsError(
            f"{path!r}: the metadata entry {_KEY_ORDER} is not a JSON list")
    return [k for k in order if isinstance(k, str)]
