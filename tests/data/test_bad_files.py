"""Bad data files get an error naming the file and the problem (issue 11)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import load_split
from chainrule.data.files import read_csv, read_npz
from chainrule.data.validation import check_features
from chainrule.training import checkpoint as ckpt


def test_latin1_csv_names_the_file_and_byte(tmp_path):
    path = tmp_path / "caf\u00e9s.csv"
    path.write_bytes("a,b,y\n1,2,caf\u00e9\n3,4,th\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8") as info:
        read_csv(path)
    assert str(path) in str(info.value) and "0xe9" in str(info.value)


def test_npy_renamed_npz_names_the_file(tmp_path):
    path = tmp_path / "data.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\.npy array file renamed") as info:
        read_npz(path)
    assert str(path) in str(info.value)
    with pytest.raises(ckpt.CheckpointError, match="not a zip archive"):
        ckpt.load_checkpoint(path)


@pytest.mark.parametrize("reader", [read_csv, read_npz, load_split])
def test_a_folder_is_not_a_data_file(tmp_path, reader):
    folder = tmp_path / ("d.npz" if reader is read_npz else "d.csv")
    folder.mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        reader(str(folder))


def test_value_beyond_float32_is_named_not_called_nan(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a,b,y\n1,2,0\n3,1e39,1\n")
    with pytest.raises(ValueError, match="float32") as info:
        read_csv(path)
    text = str(info.value)
    assert "'b'" in text and "line 3" in text and "1e39" in text and "NaN" not in text
    with pytest.raises(ValueError, match="float32") as info:
        check_features(np.array([[1.0, 1e39]]))
    assert "NaN" not in str(info.value)
    # a real NaN is still called one
    with pytest.raises(ValueError, match="NaN or inf in row 0"):
        check_features(np.array([[1.0, np.nan]]))


@pytest.mark.parametrize("fast", [True, False])
def test_targets_written_as_reals_stay_real(tmp_path, fast):
    path = tmp_path / "t.csv"
    body = "1,151.0\n2,75.0\n3,141.0\n" if fast else "1,151.0\n2,75.0\n3,\"141.0\"\n"
    path.write_text("a,y\n" + body)
    y = read_csv(path)["y"]
    assert y.dtype == np.float32 and y.tolist() == [151.0, 75.0, 141.0]
    path.write_text("a,y\n1,3\n2,1\n3,2\n")
    assert read_csv(path)["y"].dtype == np.int64


def test_task_inference(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2)).astype(np.float32)
    many = rng.integers(0, 300, 200)
    np.savez(tmp_path / "ints.npz", X=X, y=many)
    with pytest.raises(ValueError, match="Pass --task"):
        load_split(str(tmp_path / "ints.npz"))
    split = load_split(str(tmp_path / "ints.npz"), task="regression")
    assert split.task == "regression"
    # labels saved as floats in an npz are still classes
    np.savez(tmp_path / "flt.npz", X=X, y=(many % 3).astype(np.float64))
    assert load_split(str(tmp_path / "flt.npz")).task == "classification"
    np.savez(tmp_path / "real.npz", X=X, y=rng.normal(size=200))
    assert load_split(str(tmp_path / "real.npz")).task == "regression"


def test_fit_epochs_must_be_an_integer():
    model = nn.Linear(2, 1)
    X = np.zeros((4, 2), np.float32)
    y = np.zeros(4, np.float32)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="integer.*epochs=2.0"):
        cr.training.fit(model, X, y, loss="mse", optimizer=opt, epochs=2.0, verbose=0)


@pytest.mark.parametrize(
    "layer, shape",
    [
        (lambda: nn.Linear(4, 2), (3, 4)),
        (lambda: nn.Conv1d(4, 2, 1), (2, 4, 5)),
        (lambda: nn.Conv2d(4, 2, 1), (2, 4, 5, 5)),
        (lambda: nn.PReLU(), (3, 4)),
    ],
)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_input_keeps_the_weights_dtype(layer, shape, dtype):
    m = layer()
    x = np.ones(shape, dtype)
    out = m(cr.tensor(x))
    assert out.dtype == np.float32
    ref = m(cr.tensor(x.astype(np.float32)))
    np.testing.assert_array_equal(out.data, ref.data)


@pytest.mark.parametrize("batch_size", [2.0, 1.5, True])
def test_loader_batch_size_must_be_an_integer(batch_size):
    from chainrule.data import DataLoader, TensorDataset

    data = TensorDataset(np.zeros((4, 2), np.float32), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="batch_size to be an integer"):
        DataLoader(data, batch_size=batch_size)
