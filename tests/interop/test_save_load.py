"""cr.save / cr.load: safetensors and chainrule's checksummed .npz."""

from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

st = pytest.importorskip(
    "safetensors.numpy", reason="needs the interop extra: pip install 'chainrule[interop]'"
)


def _model():
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(8, 3))


def _trained(model):
    model.train()
    model(cr.tensor(np.random.default_rng(1).normal(size=(16, 5)).astype(np.float32)))
    return model


def test_safetensors_file_loads_unchanged_with_safetensors_numpy(tmp_path):
    model = _trained(_model())
    sd = model.state_dict()
    path = tmp_path / "m.safetensors"
    cr.save(sd, path)
    theirs = st.load_file(str(path))
    assert set(theirs) == set(sd)
    for key, value in sd.items():
        assert theirs[key].dtype == value.dtype, key
        assert theirs[key].shape == value.shape, key
        np.testing.assert_array_equal(theirs[key], value)
    assert int(theirs["1.num_batches_tracked"]) == 1


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_load_keeps_key_order_and_fills_a_model(tmp_path, suffix):
    model = _trained(_model())
    path = tmp_path / f"m{suffix}"
    cr.save(model.state_dict(), path)
    loaded = cr.load(path)
    assert list(loaded) == list(model.state_dict())
    other = _model()
    other.load_state_dict(loaded)
    x = cr.tensor(np.random.default_rng(2).normal(size=(4, 5)).astype(np.float32))
    np.testing.assert_array_equal(other.eval()(x).data, model.eval()(x).data)


def test_file_written_by_safetensors_itself_loads(tmp_path):
    arrays = {"b": np.arange(3, dtype=np.float32), "a": np.ones((2, 2), np.float64)}
    path = tmp_path / "x.safetensors"
    st.save_file(arrays, str(path))
    loaded = cr.load(path)
    assert isinstance(loaded, OrderedDict)
    assert set(loaded) == {"a", "b"}
    np.testing.assert_array_equal(loaded["a"], arrays["a"])


def test_npz_detects_corruption(tmp_path):
    path = tmp_path / "m.npz"
    cr.save(_model().state_dict(), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(cr.training.CheckpointError):
        cr.load(path)


def test_npz_keeps_nested_state(tmp_path):
    state = {"model": _model().state_dict(), "epoch": 3, "lrs": [0.1, 0.01]}
    cr.save(state, tmp_path / "ck.npz")
    back = cr.load(tmp_path / "ck.npz")
    assert back["epoch"] == 3 and back["lrs"] == [0.1, 0.01]
    assert list(back["model"]) == list(state["model"])


def test_bad_suffix_and_bad_values_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"\.safetensors or \.npz.*m\.pt"):
        cr.save({}, tmp_path / "m.pt")
    with pytest.raises(TypeError, match="nested"):
        cr.save({"a": {"b": np.ones(2)}}, tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match="Received: list"):
        cr.save([np.ones(2)], tmp_path / "m.npz")
    with pytest.raises(FileNotFoundError, match="missing"):
        cr.load(tmp_path / "missing.safetensors")


def test_load_state_dict_takes_a_saved_run_model(tmp_path):
    from chainrule.training import save_model

    model = _trained(_model())
    save_model(tmp_path / "model.npz", model, extra={"epoch": 4})
    other = _model()
    other.load_state_dict(cr.load(tmp_path / "model.npz"))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[key], value)
