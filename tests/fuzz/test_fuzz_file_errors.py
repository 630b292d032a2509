"""Property-based: malformed CSV, .npz and .safetensors files give an error naming the file,
or the right result (issue 23).

Every failure must be a documented exception type (ValueError, TypeError or
OSError: SafetensorsError and CheckpointError are ValueErrors) whose message
names the file; never an internal traceback (IndexError, KeyError,
RecursionError, a library's own class).  Every success is checked: a
well-formed numeric CSV gives back exactly its numbers, and a
``.safetensors`` file the reference library also reads gives the same arrays.
"""

from __future__ import annotations

import io
import json
import os
from datetime import timedelta

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.data.files import read_csv, read_npz

BOUNDED = settings(max_examples=60, deadline=timedelta(seconds=10), derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])
DOCUMENTED = (ValueError, TypeError, OSError)


def _outcome(read, path: str, need_expected: bool = False):
    """``read(path)``'s result, or None after checking its error names the file."""
    try:
        return read(path)
    except DOCUMENTED as err:
        text = str(err)
        assert os.path.basename(path) in text, f"{type(err).__name__} names no file: {text}"
        assert "Traceback" not in text
        if need_expected and not isinstance(err, OSError):
            assert "Expected" in text, text
        return None


def _write(folder, name: str, data: bytes) -> str:
    path = os.path.join(str(folder), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# --- CSV -------------------------------------------------------------------------------
cells = st.sampled_from(["1", "2.5", "-3", "", "nan", "inf", "abc", "#x", '"4"', "1e40",
                         " 5 ", "0.0", "1.0", "x,y", '"', "\t"])
rows = st.lists(st.lists(cells, min_size=1, max_size=5), min_size=0, max_size=8)


@BOUNDED
@given(body=rows, header=st.booleans(), trailing=st.booleans(), newline=st.sampled_from(
    ["\n", "\r\n"]), bom=st.booleans(), comment=st.booleans())
def test_malformed_csv_is_named_or_read(tmp_path, body, header, trailing, newline, bom,
                                        comment):
    lines = ([f"c{i}" for i in range(len(body[0]))] if header and body else None,)
    text_rows = ([",".join(lines[0])] if lines[0] else []) + [",".join(r) for r in body]
    if trailing:
        text_rows = [r + "," for r in text_rows]
    text = ("# note" + newline if comment else "") + newline.join(text_rows) + newline
    path = _write(tmp_path, "fuzz.csv", (b"\xef\xbb\xbf" if bom else b"") + text.encode())
    for read in (read_csv, lambda p: read_csv(p, has_target=False)):
        out = _outcome(read, path, need_expected=True)
        if out is not None:
            X = out["X"]
            assert X.dtype == np.float32 and X.ndim == 2
            assert len(out["feature_names"]) == X.shape[1]
            if out["y"] is not None:
                assert len(out["y"]) == X.shape[0]


numbers = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


@BOUNDED
@given(grid=st.lists(st.lists(numbers, min_size=3, max_size=3), min_size=1, max_size=8),
       spaces=st.booleans(), quote=st.booleans(), newline=st.sampled_from(["\n", "\r\n"]))
def test_a_well_formed_numeric_csv_gives_its_numbers(tmp_path, grid, spaces, quote, newline):
    def fmt(v):
        text = repr(float(v))
        text = f" {text} " if spaces else text
        return f'"{text}"' if quote else text

    text = "a,b,y" + newline + newline.join(",".join(fmt(v) for v in r) for r in grid)
    path = _write(tmp_path, "good.csv", text.encode())
    out = read_csv(path)
    want = np.array(grid, dtype=np.float64)
    np.testing.assert_array_equal(out["X"], want[:, :2].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(out["y"], np.float64),
                                  want[:, 2].astype(out["y"].dtype).astype(np.float64))


# --- .npz ------------------------------------------------------------------------------
arrays = st.one_of(
    st.builds(lambda n: np.arange(n, dtype=np.float32).reshape(-1, 1), st.integers(0, 4)),
    st.builds(lambda n: np.arange(n), st.integers(0, 4)),
    st.just(np.array(3.0)),
    st.just(np.array(["a", "b"])),
    st.just(np.zeros((2, 0))),
)


@BOUNDED
@given(content=st.dictionaries(st.sampled_from(["X", "x", "y", "X_test", "y_test", "z"]),
                               arrays, max_size=4),
       cut=st.integers(0, 64), flips=st.lists(st.tuples(st.integers(0, 10**5),
                                                        st.integers(0, 255)), max_size=3))
def test_malformed_npz_is_named_or_read(tmp_path, content, cut, flips):
    buf = io.BytesIO()
    np.savez(buf, **content)
    data = bytearray(buf.getvalue())
    if cut:
        data = data[:-cut]
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    path = _write(tmp_path, "fuzz.npz", bytes(data))
    out = _outcome(read_npz, path, need_expected=True)
    if out is not None:
        assert out["X"] is not None


# --- .safetensors ----------------------------------------------------------------------
TAGS = ["F64", "F32", "F16", "BF16", "I64", "I32", "I8", "U8", "BOOL", "F8_E4M3", "X", 3]
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1,
         "BOOL": 1}

entries = st.fixed_dictionaries({
    "dtype": st.sampled_from(TAGS),
    "shape": st.one_of(st.lists(st.integers(-1, 4), max_size=3), st.just("3"),
                       st.just([2.0])),
    "data_offsets": st.one_of(st.lists(st.integers(-2, 64), min_size=0, max_size=3),
                              st.just(None)),
})
metadata = st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["chainrule.key_order", "chainrule.layout", "chainrule.dtypes", "k"]),
    st.one_of(st.sampled_from(['["a"]', "chainrule", "torch", "{}", "[", '{"a": "F32"}']),
              st.integers()), max_size=3))


@BOUNDED
@given(header=st.dictionaries(st.sampled_from(["a", "b", "c"]), entries, max_size=3),
       meta=metadata, body=st.integers(0, 64), length_delta=st.integers(-3, 3))
def test_forged_safetensors_headers_are_named_or_read(tmp_path, header, meta, body,
                                                      length_delta):
    doc = dict(header)
    if meta is not None:
        doc["__metadata__"] = meta
    text = json.dumps(doc).encode()
    n = max(0, len(text) + length_delta)
    raw = n.to_bytes(8, "little") + text + bytes(range(256))[:body]
    path = _write(tmp_path, "forged.safetensors", raw)
    out = _outcome(cr.load, path)
    if out is None:
        return
    reference = pytest.importorskip("safetensors.numpy")
    try:
        expected = reference.load_file(path)
    except Exception:  # noqa: BLE001 - the reference is stricter or lacks a dtype
        return
    for key, value in expected.items():
        np.testing.assert_array_equal(out[key], value)


@BOUNDED
@given(cut=st.integers(0, 200), flips=st.lists(st.tuples(st.integers(0, 10**4),
                                                        st.integers(0, 255)), max_size=4))
def test_damaged_safetensors_files_are_named_or_read(tmp_path, cut, flips):
    from chainrule import nn

    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    path = str(tmp_path / "damaged.safetensors")
    cr.save(model.state_dict(), path)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if cut:
        data = data[:-cut]
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    _write(tmp_path, "damaged.safetensors", bytes(data))
    out = _outcome(cr.load, path)
    if out is not None:  # flipped data bytes: loads, or load_state_dict says why not
        fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
        try:
            fresh.load_state_dict(out, strict=False)
        except (ValueError, TypeError) as err:
            assert "load_state_dict" in str(err), err
