"""Safe, atomic, checksummed checkpoints: ``.npz`` arrays plus a JSON header.

Format (version 1): an uncompressed ``.npz`` holding

* ``a0``, ``a1``, ...: every array of the state (numeric dtypes only), as a
  host NumPy array: arrays of a device library (CuPy, torch,
  array_api_strict) are copied to the host when written, so a checkpoint
  saved on one device loads on any other (``load_state_dict`` moves the
  host arrays to the model's device);
* ``__header__``: a uint8 array with UTF-8 JSON: the state with each array
  replaced by ``{"__array__": "aK"}``, tuples and non-string-keyed dicts
  tagged so they come back as they were;
* ``__checksum__``: a uint8 array with the SHA-256 (hex) of the header bytes
  and of each array's name, dtype, shape and bytes.

It is read with ``np.load(..., allow_pickle=False)`` and ``json``: loading
a file from a stranger cannot run code.  A truncated file or one whose
bytes were changed fails with :class:`CheckpointError` naming the problem.

Writes are atomic: a temporary file in the same folder is written,
flushed, fsync'ed and then renamed over the target with ``os.replace``,
so a crash (even SIGKILL) during a save leaves the previous checkpoint
intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile

import numpy as np

from .._backend import to_host

__all__ = [
    "CheckpointError",
    "check_state_matches",
    "load_checkpoint",
    "load_model_state",
    "save_checkpoint",
    "save_model",
]

FORMAT = "chainrule-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or does not fit the model."""


# --- encoding nested state ---------------------------------------------------
def _is_device_array(obj) -> bool:
    """An array of an array-API library other than NumPy (CuPy, torch, array_api_strict)."""
    module = type(obj).__module__.split(".")[0]
    return module in ("cupy", "torch") or (
        hasattr(obj, "__array_namespace__") and hasattr(obj, "shape") and hasattr(obj, "dtype")
    )


def _encode(obj, arrays: dict):
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufc":
            raise TypeError(
                f"Expected numeric arrays in a checkpoint. Received: dtype={obj.dtype}"
            )
        key = f"a{len(arrays)}"
        arrays[key] = obj if obj.flags.c_contiguous else obj.copy(order="C")  # keeps 0-d
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if _is_device_array(obj):  # written as host arrays: loads onto any device
        return _encode(to_host(obj), arrays)
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") for k in obj):
            return {k: _encode(v, arrays) for k, v in obj.items()}
        return {"__items__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(
        f"Expected plain data (arrays, numbers, strings, lists, dicts) in a "
        f"checkpoint. Received: {type(obj).__name__}"
    )


def _decode(obj, arrays: dict):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in obj["__items__"]}
        return {k: _decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


def _digest(header: bytes, arrays: dict) -> str:
    h = hashlib.sha256()
    h.update(header)
    for key in sorted(arrays):
        a = arrays[key]
        h.update(f"{key}|{a.dtype.str}|{a.shape}".encode())
        h.update(a.tobytes(order="C"))
    return h.hexdigest()


# --- writing -----------------------------------------------------------------
def _atomic_write(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; use the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dir_fd)


def save_checkpoint(path, state: dict) -> None:
    """Write ``state`` (nested dicts/lists of arrays and plain values) atomically.

    Args:
        path: target file (conventionally ``*.npz``).
        state: e.g. ``{"model": model.state_dict(), "optimizer": ...}``.
    """
    arrays: dict = {}
    body = {"format": FORMAT, "version": VERSION, "state": _encode(state, arrays)}
    header = json.dumps(body, allow_nan=True).encode("utf-8")
    checksum = _digest(header, arrays).encode("ascii")
    payload = dict(arrays)
    payload["__header__"] = np.frombuffer(header, dtype=np.uint8)
    payload["__checksum__"] = np.frombuffer(checksum, dtype=np.uint8)
    _atomic_write(str(path), lambda f: np.savez(f, **payload))


# --- reading -----------------------------------------------------------------
def load_checkpoint(path) -> dict:
    """Read and verify a checkpoint written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a checkpoint, truncated, or changed since
            written (checksum mismatch).
    """
    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Expected an existing checkpoint file. Received: {path!r} (no such file)"
        )
    if os.path.isdir(path):
        raise CheckpointError(f"Expected a checkpoint file. Received: {path!r} is a folder")
    try:
        with open(path, "rb") as f:
            if not f.read(2).startswith(b"PK"):
                raise CheckpointError(
                    f"Expected a chainrule checkpoint (an .npz archive). Received: {path!r} "
                    "is not a zip archive (damaged, or another kind of file)"
                )
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, RuntimeError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(
            f"Expected a complete chainrule checkpoint. Received: {path!r} cannot be read "
            f"({type(err).__name__}: {err}); the file is truncated or damaged"
        ) from None
    if "__header__" not in arrays or "__checksum__" not in arrays:
        raise CheckpointError(
            f"Expected a chainrule checkpoint (header and checksum). "
            f"Received: {path!r} with arrays {sorted(arrays)[:8]}"
        )
    header = arrays.pop("__header__").tobytes()
    stored = arrays.pop("__checksum__").tobytes().decode("ascii", "replace")
    if _digest(header, arrays) != stored:
        raise CheckpointError(
            f"Expected the checksum stored in {path!r} to match its contents. Received: a "
            "mismatch; the file was modified or corrupted after it was written"
        )
    # the checksum is no signature: a forged file can carry a valid one, so
    # everything below is checked as untrusted input
    try:
        body = json.loads(header.decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise CheckpointError(
            f"Expected a JSON header in the checkpoint {path!r}. Received: {type(err).__name__}"
        ) from None
    if not isinstance(body, dict) or "state" not in body:
        raise CheckpointError(f"Expected a checkpoint header with a state. Received: {path!r}")
    if body.get("format") != FORMAT or body.get("version") != VERSION:
        raise CheckpointError(
            f"Expected format {FORMAT!r} version {VERSION}. Received: "
            f"{body.get('format')!r} version {body.get('version')!r}"
        )
    try:
        return _decode(body["state"], arrays)
    except (KeyError, TypeError, ValueError, RecursionError) as err:
        raise CheckpointError(
            f"Expected a well-formed checkpoint state in {path!r}. Received: "
            f"{type(err).__name__} while decoding it (a forged or foreign file)"
        ) from None


# --- model state ---------------------------------------------------------------
def _shape(a) -> tuple:
    shape = getattr(a, "shape", None)
    return tuple(np.shape(a) if shape is None else shape)


def check_state_matches(model, state: dict, source: str = "the checkpoint") -> None:
    """Raise :class:`CheckpointError` unless ``state`` fits ``model`` exactly.

    Checks every key and shape before anything is written, so a mismatch
    leaves the model untouched.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: {_shape(state[k])} in {source} vs {_shape(own[k])} in the model"
        for k in own
        if k in state and _shape(state[k]) != _shape(own[k])
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if shapes:
            parts.append("shape mismatches: " + "; ".join(shapes))
        raise CheckpointError(
            f"Expected {source} to come from a model of this architecture. Received: "
            + ", ".join(parts)
        )


def save_model(path, model, extra: dict | None = None) -> None:
    """Save only a model's parameters and buffers (plus optional ``extra``)."""
    save_checkpoint(path, {"model": model.state_dict(), "extra": extra or {}})


def load_model_state(path, model) -> dict:
    """Load parameters saved by :func:`save_model` or a training checkpoint.

    Returns the whole decoded file (so callers can read ``extra``).
    """
    state = load_checkpoint(path)
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"Expected model state in {path!r}. Received: {type(state).__name__}")
    check_state_matches(model, state["model"], source=repr(str(path)))
    model.load_state_dict(state["model"])
    return state
