"""Reading ``.safetensors`` files with every fault named: header, entries, bytes.

The format (huggingface/safetensors): an 8-byte little-endian header length
n, n bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]},
"__metadata__": {str: str}}``, then the tensors' bytes (offsets relative to
the end of the header).  This reader checks each of these before it builds
an array, so a truncated, edited or foreign file gives a ``ValueError``
naming the file and the problem, never a parser's internals.  bfloat16
entries are widened to float32 exactly (a bfloat16 is the top half of a
float32).  Files chainrule writes record each entry's dtype in the metadata
(``chainrule.dtypes``); a header dtype that disagrees (say I32 for float32
bytes) is refused.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

__all__ = ["DTYPES", "SafetensorsError", "read", "tag_of"]

DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_, "BF16": np.uint16,  # BF16: read as bits, widened below
}
_MAX_HEADER = 100 * 2**20


class SafetensorsError(ValueError):
    """A ``.safetensors`` file that cannot be read as one (the message names it)."""


def tag_of(dtype: np.dtype) -> str:
    """The header's dtype tag of a NumPy dtype (``"F32"`` for float32)."""
    for tag, t in DTYPES.items():
        if tag != "BF16" and np.dtype(t) == dtype:
            return tag
    raise TypeError(f"Expected a numeric dtype for a .safetensors entry. Received: {dtype}")


def read(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays (file order) and the ``__metadata__`` of the file at ``path``.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: ``path`` is a folder.
        SafetensorsError: the bytes are not a valid ``.safetensors`` file.
    """
    if os.path.isdir(path):
        raise IsADirectoryError(f"Expected a .safetensors file. Received: {path!r} (a folder)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"Expected an existing file. Received: {path!r} (no such file)")
    with open(path, "rb") as f:
        data = f.read()

    def bad(problem: str) -> SafetensorsError:
        return SafetensorsError(f"{path!r} is not a readable .safetensors file: {problem}")

    if len(data) < 8:
        raise bad(f"{len(data)} bytes, shorter than the 8-byte header length (truncated?)")
    n = int.from_bytes(data[:8], "little")
    if n < 2 or n > _MAX_HEADER or 8 + n > len(data):
        raise bad(f"header length {n} does not fit the file's {len(data)} bytes (truncated?)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad(f"the header is not valid JSON ({err.__class__.__name__}: {err})") from None
    if not isinstance(header, dict):
        raise bad(f"the header is a JSON {type(header).__name__}, not an object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise bad("__metadata__ must map strings to strings")
    body = memoryview(data)[8 + n:]
    dtypes = _recorded_dtypes(meta, bad)
    arrays: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        arrays[name] = _entry(name, entry, body, dtypes.get(name), bad)
    return arrays, meta


def _recorded_dtypes(meta: dict, bad) -> dict:
    text = meta.get("chainrule.dtypes")
    if text is None:
        return {}
    try:
        dtypes = json.loads(text)
    except json.JSONDecodeError:
        raise bad("the metadata entry chainrule.dtypes is not valid JSON") from None
    if not isinstance(dtypes, dict):
        raise bad("the metadata entry chainrule.dtypes is not a JSON object")
    return dtypes


def _entry(name: str, entry, body: memoryview, recorded, bad) -> np.ndarray:
    if not isinstance(entry, dict):
        raise bad(f"entry {name!r} is not an object")
    tag, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if tag not in DTYPES:
        raise bad(f"entry {name!r} has dtype {tag!r}; expected one of {', '.join(DTYPES)}")
    if recorded is not None and recorded != tag:
        raise bad(f"entry {name!r} is declared {tag} but was written as {recorded} "
                  "(an edited header: its bytes would be read as the wrong type)")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise bad(f"entry {name!r} has shape {shape!r}; expected a list of sizes >= 0")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(o) is int for o in offsets) and 0 <= offsets[0] <= offsets[1]):
        raise bad(f"entry {name!r} has data_offsets {offsets!r}; expected [begin, end]")
    dtype = np.dtype(DTYPES[tag])
    size = math.prod(shape) * dtype.itemsize
    begin, end = offsets
    if end - begin != size:
        raise bad(f"entry {name!r} holds {end - begin} bytes but {tag} {shape} needs {size}")
    if end > len(body):
        raise bad(f"entry {name!r} ends at byte {end} of a {len(body)}-byte body (truncated?)")
    array = np.frombuffer(body[begin:end], dtype=dtype.newbyteorder("<")).reshape(shape)
    if tag == "BF16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(dtype.newbyteorder("="), copy=True)
