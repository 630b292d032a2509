import numpy as np
import pytest

from chainrule.data import load_dataset, load_split, read_csv, read_npz


@pytest.mark.parametrize(
    "name,n_classes",
    [
        ("digits", 10),
        ("breast_cancer", 2),
        ("wine", 3),
        ("iris", 3),
        ("diabetes", None),
    ],
)
def test_bundled_datasets_split_and_standardised(name, n_classes):
    from sklearn import datasets

    raw = getattr(datasets, f"load_{name}")()
    Xtr, ytr, Xte, yte = load_dataset(name, test_size=0.25, seed=0)
    n = len(raw.target)
    assert len(Xtr) + len(Xte) == n
    assert abs(len(Xte) - 0.25 * n) <= 1
    assert Xtr.dtype == np.float32 and Xte.dtype == np.float32
    # standardised with the training statistics only
    np.testing.assert_allclose(Xtr.mean(0), 0, atol=1e-4)
    stds = Xtr.std(0)
    assert np.all((np.abs(stds - 1) < 1e-3) | (stds == 0))
    if n_classes:
        assert ytr.dtype == np.int64 and set(np.unique(ytr)) == set(range(n_classes))
        # stratified: class shares agree between the two parts
        share_tr = np.bincount(ytr, minlength=n_classes) / len(ytr)
        share_te = np.bincount(yte, minlength=n_classes) / len(yte)
        assert np.max(np.abs(share_tr - share_te)) < 0.03
    else:
        assert ytr.dtype == np.float32
    again = load_dataset(name, test_size=0.25, seed=0)
    np.testing.assert_array_equal(again[0], Xtr)
    other = load_dataset(name, test_size=0.25, seed=1)
    assert not np.array_equal(other[1], ytr)


def test_standardisation_does_not_look_at_the_test_rows():
    split = load_split("wine", seed=0)
    from sklearn.datasets import load_wine

    raw = load_wine().data
    # recover the raw training rows and check the stored statistics are theirs
    Xtr_raw = split.X_train.astype(np.float64) * split.scale + split.mean
    np.testing.assert_allclose(split.mean, Xtr_raw.mean(0), rtol=1e-4, atol=1e-4)
    assert not np.allclose(split.mean, raw.mean(0), rtol=1e-3)
    assert split.task == "classification" and split.n_classes == 3


def test_mnist1d_is_generated_locally_with_its_own_split(monkeypatch):
    import mnist1d.data as md

    def no_download(*a, **k):  # pragma: no cover - must not be called
        raise AssertionError("get_dataset downloads; it must not be used")

    real_args = md.get_dataset_args

    def small_args():  # the real generator, 300 samples instead of 5000 (speed)
        args = real_args()
        args.num_samples = 300
        return args

    monkeypatch.setattr(md, "get_dataset", no_download)
    monkeypatch.setattr(md, "get_dataset_args", small_args)
    Xtr, ytr, Xte, _ = load_dataset("mnist1d", test_size=0.5)
    # its own 80/20 split, not test_size
    assert Xtr.shape == (240, 40) and Xte.shape == (60, 40)
    assert ytr.dtype == np.int64 and set(np.unique(ytr)) == set(range(10))
    np.testing.assert_allclose(Xtr.mean(0), 0, atol=1e-4)


def test_unknown_name_and_missing_file():
    with pytest.raises(ValueError, match="Expected a bundled dataset name"):
        load_dataset("cifar10")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_dataset("/nonexistent/data.csv")


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_csv_with_header_and_string_labels(tmp_path):
    rows = ["a,b,label"] + [f"{i},{i % 3},{'cat' if i % 2 else 'dog'}" for i in range(20)]
    path = _write(tmp_path, "pets.csv", "\n".join(rows))
    split = load_split(path, test_size=0.25)
    assert split.task == "classification"
    assert split.classes == ["cat", "dog"]
    assert split.feature_names == ["a", "b"] and split.target_name == "label"
    assert len(split.y_train) == 15 and len(split.y_test) == 5


def test_csv_without_header_regression_and_target_by_name(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    text = "\n".join(",".join(f"{v:.5f}" for v in row) for row in X)
    path = _write(tmp_path, "reg.csv", text)
    raw = read_csv(path)
    assert raw["X"].shape == (30, 2) and raw["feature_names"] == ["column 0", "column 1"]
    split = load_split(path)
    assert split.task == "regression" and split.classes is None
    named = _write(tmp_path, "named.csv", "y,x1,x2\n" + text)
    raw = read_csv(named, target="y")
    np.testing.assert_allclose(raw["y"], X[:, 0], atol=1e-5)
    assert raw["feature_names"] == ["x1", "x2"]


def test_csv_non_numeric_feature_column_is_named(tmp_path):
    path = _write(tmp_path, "bad.csv", "age,city,y\n31,Paris,1\n40,Lyon,0\n")
    with pytest.raises(ValueError, match=r"column 'city'.*'Paris' on line 2"):
        load_dataset(path)


def test_csv_missing_value_and_ragged_and_empty(tmp_path):
    with pytest.raises(ValueError, match=r"empty \(missing\) entry on line 3"):
        read_csv(_write(tmp_path, "m.csv", "a,b,y\n1,2,0\n,3,1\n"))
    with pytest.raises(ValueError, match="Expected 3 columns.*line 3"):
        read_csv(_write(tmp_path, "r.csv", "a,b,y\n1,2,0\n1,1\n"))
    with pytest.raises(ValueError, match="at least one data row"):
        read_csv(_write(tmp_path, "e.csv", ""))
    with pytest.raises(ValueError, match="only a header"):
        read_csv(_write(tmp_path, "h.csv", "a,b,y\n"))
    with pytest.raises(ValueError, match="target column among"):
        read_csv(_write(tmp_path, "t.csv", "a,b,y\n1,2,0\n"), target="price")


def test_csv_nan_in_features_is_reported_with_its_row(tmp_path):
    path = _write(tmp_path, "n.csv", "a,b,y\n1,2,0\n3,nan,1\n4,5,0\n6,7,1\n")
    with pytest.raises(ValueError, match="NaN or inf in row 1"):
        load_dataset(path, test_size=0.5)


def test_npz_keys_and_own_test_split(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "d.npz"
    np.savez(
        p,
        x=rng.normal(size=(20, 4)),
        y=np.arange(20) % 2,
        x_test=rng.normal(size=(6, 4)),
        y_test=np.arange(6) % 2,
    )
    split = load_split(str(p))
    assert split.X_train.shape == (20, 4) and split.X_test.shape == (6, 4)
    assert split.task == "classification"
    q = tmp_path / "wrong.npz"
    np.savez(q, features=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="Expected arrays named 'X'"):
        read_npz(str(q))


def test_npz_with_pickled_objects_is_refused(tmp_path):
    p = tmp_path / "evil.npz"
    np.savez(p, X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError, match="no pickled objects"):
        read_npz(str(p))
