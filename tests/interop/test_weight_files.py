"""Weight files and state dicts: layouts checked, every unreadable file named (issue 23).

A square Linear weight reads the same in chainrule's (in, out) and PyTorch's
(out, in) layouts, so the layout travels with the state dict (``StateDict.
layout``) and the file (metadata), and is checked where it matters.  Each
damaged ``.safetensors`` file gives an error naming the file and the problem.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule._safetensors import SafetensorsError
from chainrule.interop import from_torch_state_dict, to_torch_state_dict

st_torch = pytest.importorskip("safetensors.torch")
st_numpy = pytest.importorskip("safetensors.numpy")


def _pair(seed=0):
    torch.manual_seed(seed)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3))
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
    return model, ref


def _same_outputs(model, ref):
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    with cr.no_grad():
        ours = model(cr.tensor(x)).data
    np.testing.assert_allclose(ours, ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_a_torch_state_dict_of_square_layers_is_refused_not_transposed():
    model, ref = _pair()
    before = model.state_dict()
    with pytest.raises(ValueError, match="PyTorch's layout.*from_torch_state_dict"):
        model.load_state_dict(ref.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # nothing written
    model.load_state_dict(from_torch_state_dict(ref.state_dict()))
    _same_outputs(model, ref)


def test_converting_twice_is_refused():
    model, ref = _pair()
    once = from_torch_state_dict(ref.state_dict())
    with pytest.raises(ValueError, match="already in chainrule's layout"):
        from_torch_state_dict(once)
    with pytest.raises(ValueError, match="already in chainrule's layout"):
        from_torch_state_dict(model.state_dict())
    out = to_torch_state_dict(model.state_dict())
    with pytest.raises(ValueError, match="already in PyTorch's layout"):
        to_torch_state_dict(out)
    with pytest.raises(ValueError, match="already in PyTorch's layout"):
        to_torch_state_dict(ref.state_dict())
    with pytest.raises(ValueError, match="PyTorch's layout"):
        model.load_state_dict(out)


def test_a_transposed_non_square_weight_names_the_layout():
    model = nn.Sequential(nn.Linear(4, 2))
    ref = torch.nn.Sequential(torch.nn.Linear(4, 2))
    sd = {k: v.numpy() for k, v in ref.state_dict().items()}  # a plain dict: no origin
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(4, 2\).*from_torch_state_dict"):
        model.load_state_dict(sd)


def test_files_record_their_layout(tmp_path):
    model, ref = _pair()
    path = str(tmp_path / "torch_layout.safetensors")
    cr.save(to_torch_state_dict(model.state_dict()), path)
    loaded = cr.load(path)
    assert loaded.layout == "torch"
    with pytest.raises(ValueError, match="PyTorch's layout"):
        model.load_state_dict(loaded)
    ref.load_state_dict(st_torch.load_file(path))  # torch reads it as its own
    _same_outputs(model, ref)
    own = str(tmp_path / "own.safetensors")
    cr.save(model.state_dict(), own)
    assert cr.load(own).layout == "chainrule"
    model.load_state_dict(cr.load(own))
    with pytest.raises(ValueError, match="layout"):
        cr.save(to_torch_state_dict(model.state_dict()), str(tmp_path / "t.npz"))


def test_a_foreign_file_with_square_weights_is_ambiguous_until_converted(tmp_path):
    model, ref = _pair()
    path = str(tmp_path / "from_torch.safetensors")
    st_torch.save_file(ref.state_dict(), path)
    loaded = cr.load(path)
    assert loaded.layout is None
    with pytest.raises(ValueError, match="square.*origin is unknown"):
        model.load_state_dict(loaded)
    model.load_state_dict(from_torch_state_dict(cr.load(path)))
    _same_outputs(model, ref)


def test_strict_false_returns_torchs_missing_and_unexpected_keys():
    model, ref = _pair()
    sd = {"0.bias": np.zeros(3, np.float32), "extra": np.zeros(2, np.float32)}
    result = model.load_state_dict(sd, strict=False)
    tsd = {"0.bias": torch.zeros(3), "extra": torch.zeros(2)}
    expected = ref.load_state_dict(tsd, strict=False)
    assert result == (expected.missing_keys, expected.unexpected_keys)
    assert result.missing_keys == ["0.weight", "2.weight", "2.bias"]
    assert result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].bias.data, np.zeros(3))
    missing, unexpected = model.load_state_dict(model.state_dict())
    assert missing == [] and unexpected == []


@pytest.mark.parametrize("bad", [None, 3, [("0.weight", np.zeros((3, 3)))]])
def test_load_state_dict_of_a_non_mapping_is_named(bad):
    model, _ = _pair()
    with pytest.raises(TypeError, match=f"expected a state dict.*Received: {type(bad).__name__}"):
        model.load_state_dict(bad)


def _write_raw(path, header: dict, body: bytes):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + body)


def test_a_header_declaring_i32_for_float32_bytes_is_refused(tmp_path):
    model, _ = _pair()
    path = str(tmp_path / "m.safetensors")
    cr.save(model.state_dict(), path)
    raw = bytearray(Path(path).read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n].decode().replace('"dtype":"F32"', '"dtype":"I32"', 1)
    assert len(header) == n
    raw[8:8 + n] = header.encode()
    Path(path).write_bytes(bytes(raw))
    with pytest.raises(SafetensorsError, match=r"m\.safetensors.*declared I32.*written as F32"):
        cr.load(path)
    # a foreign file (no chainrule metadata) of integers for float weights
    foreign = str(tmp_path / "foreign.safetensors")
    w = np.frombuffer(np.ones((4, 2), np.float32).tobytes(), np.int32).reshape(4, 2)
    st_numpy.save_file({"0.weight": w, "0.bias": np.zeros(2, np.float32)}, foreign)
    small = nn.Sequential(nn.Linear(4, 2))
    with pytest.raises(TypeError, match="'0.weight' is int32 in the state but float32"):
        small.load_state_dict(cr.load(foreign))


def test_a_truncated_file_is_named(tmp_path):
    model, _ = _pair()
    path = str(tmp_path / "cut.safetensors")
    cr.save(model.state_dict(), path)
    raw = Path(path).read_bytes()
    for keep in (len(raw) - 4, 40, 5, 0):
        Path(path).write_bytes(raw[:keep])
        with pytest.raises(SafetensorsError, match=r"cut\.safetensors.*truncated"):
            cr.load(path)


def test_a_folder_and_a_missing_folder_are_named(tmp_path):
    model, _ = _pair()
    folder = tmp_path / "x.safetensors"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"x\.safetensors.*a folder"):
        cr.load(str(folder))
    with pytest.raises(IsADirectoryError, match=r"x\.safetensors.*a folder"):
        cr.save(model.state_dict(), str(folder))
    for name in ("m.safetensors", "m.npz"):
        target = str(tmp_path / "no_such_dir" / name)
        with pytest.raises(FileNotFoundError, match=r"no_such_dir.*does not exist") as info:
            cr.save(model.state_dict(), target)
        assert ".tmp" not in str(info.value)
        assert not os.path.exists(tmp_path / "no_such_dir")


@pytest.mark.parametrize("meta, problem", [
    ({"chainrule.key_order": "[not json"}, "key_order is not valid JSON"),
    ({"chainrule.key_order": "{}"}, "key_order is not a JSON list"),
    ({"chainrule.layout": "sideways"}, "layout is 'sideways'"),
    ({"chainrule.dtypes": "[1"}, "dtypes is not valid JSON"),
    ({"a": 1}, "__metadata__ must map strings to strings"),
], ids=["order-json", "order-type", "layout", "dtypes", "non-string"])
def test_a_malformed_metadata_entry_is_named(tmp_path, meta, problem):
    path = str(tmp_path / "meta.safetensors")
    body = np.zeros(3, np.float32).tobytes()
    _write_raw(path, {"__metadata__": meta,
                      "b": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, body)
    with pytest.raises(SafetensorsError, match=rf"meta\.safetensors.*{problem}"):
        cr.load(path)


@pytest.mark.parametrize("entry, problem", [
    ({"dtype": "F8_E4M3", "shape": [3], "data_offsets": [0, 3]}, "dtype 'F8_E4M3'"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}, "holds 12 bytes but F32 \\[4\\]"),
    ({"dtype": "F32", "shape": [-3], "data_offsets": [0, 12]}, "shape \\[-3\\]"),
    ({"dtype": "F32", "shape": [3], "data_offsets": [12, 0]}, "data_offsets"),
    ({"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}, "truncated"),
], ids=["dtype", "size", "shape", "offsets", "beyond"])
def test_a_malformed_entry_is_named(tmp_path, entry, problem):
    path = str(tmp_path / "entry.safetensors")
    _write_raw(path, {"b": entry}, np.zeros(3, np.float32).tobytes())
    with pytest.raises(SafetensorsError, match=rf"entry\.safetensors.*{problem}"):
        cr.load(path)


def test_a_bfloat16_file_loads_as_float32_exactly(tmp_path):
    path = str(tmp_path / "bf16.safetensors")
    t = torch.randn(4, 5).to(torch.bfloat16)
    st_torch.save_file({"w": t, "v": torch.arange(3, dtype=torch.int64)}, path)
    loaded = cr.load(path)
    assert loaded["w"].dtype == np.float32
    np.testing.assert_array_equal(loaded["w"], t.float().numpy())
    np.testing.assert_array_equal(loaded["v"], np.arange(3))


def test_a_torch_save_file_is_refused_until_converted(tmp_path):
    model, ref = _pair(seed=3)
    torch.save(ref.state_dict(), tmp_path / "m.pt")
    loaded = torch.load(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="PyTorch's layout"):
        model.load_state_dict(loaded)
    model.load_state_dict(from_torch_state_dict(loaded))
    _same_outputs(model, ref)
