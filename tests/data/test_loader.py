import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset, standardize, train_val_split


def _data(n=10, d=3):
    X = np.arange(n * d, dtype=np.float32).reshape(n, d)
    return X, np.arange(n)


def test_each_epoch_is_a_permutation_in_batches():
    X, y = _data(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10))
    for xb, yb in batches:  # rows stay paired with their targets
        np.testing.assert_array_equal(xb, X[yb])


def test_shuffle_is_fresh_each_epoch_and_seeded_by_manual_seed():
    X, y = _data(50)
    loader = DataLoader((X, y), shuffle=True, batch_size=50)
    cr.manual_seed(7)
    e1 = next(iter(loader))[1]
    e2 = next(iter(loader))[1]
    assert not np.array_equal(e1, e2)
    assert not np.array_equal(e1, np.arange(50))
    cr.manual_seed(7)
    np.testing.assert_array_equal(next(iter(loader))[1], e1)
    # the order comes from cr.random.generator()
    cr.manual_seed(7)
    np.testing.assert_array_equal(cr.random.generator().permutation(50), e1)


def test_batches_draw_examples_uniformly():
    # over many epochs each example lands in the first minibatch equally often
    X, y = _data(8)
    loader = DataLoader((X, y), shuffle=True, batch_size=2)
    counts = np.zeros(8)
    for _ in range(2000):
        first = next(iter(loader))[1]
        counts[first] += 1
    expected = 2000 * 2 / 8
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_no_shuffle_drop_last_and_no_targets():
    X, _ = _data(10)
    loader = DataLoader(TensorDataset(X), batch_size=4, shuffle=False, drop_last=True)
    batches = list(loader)
    assert len(loader) == 2 and len(batches) == 2
    np.testing.assert_array_equal(batches[0][0], X[:4])
    assert batches[0][1] is None


def test_transform_is_applied_per_batch():
    X, y = _data(6)
    calls = []

    def double(xb, yb):
        calls.append(len(xb))
        return xb * 2, yb

    loader = DataLoader((X, y), batch_size=4, shuffle=True, transform=double)
    for xb, yb in loader:
        np.testing.assert_array_equal(xb, 2 * X[yb])
    assert calls == [4, 2]


def test_state_dict_resumes_mid_epoch_exactly():
    X, y = _data(20)
    loader = DataLoader((X, y), shuffle=True, batch_size=3)
    cr.manual_seed(1)
    full = [yb.copy() for _, yb in loader]
    cr.manual_seed(1)
    it = iter(loader)
    head = [next(it)[1] for _ in range(3)]
    state = loader.state_dict()
    it.close()
    other = DataLoader((X, y), shuffle=True, batch_size=3)
    other.load_state_dict(state)
    tail = [yb for _, yb in other]
    for a, b in zip(head + tail, full):
        np.testing.assert_array_equal(a, b)
    assert other.position == 0 and other.state_dict()["order"] is None


def test_loader_rejects_bad_arguments():
    X, y = _data(5)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader((X, y), batch_size=0)
    with pytest.raises(TypeError, match="transform"):
        DataLoader((X, y), transform=3)
    with pytest.raises(ValueError, match="Expected y with 5 rows"):
        TensorDataset(X, y[:3])
    loader = DataLoader((X, y))
    with pytest.raises(ValueError, match="permutation of 5"):
        loader.load_state_dict({"order": np.arange(4), "position": 1})


def test_train_val_split_is_seeded_disjoint_and_stratified():
    X, y = _data(40)
    labels = np.repeat([0, 1, 2, 3], 10)
    a = train_val_split(X, labels, 0.25, seed=3)
    b = train_val_split(X, labels, 0.25, seed=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    Xtr, _, Xva, yva = train_val_split(X, labels, 0.25, seed=3, stratify=True)
    assert len(Xva) == 10 and len(Xtr) == 30
    assert sorted(np.bincount(yva)) == [2, 2, 3, 3]  # 2.5 per class, rounded to 10 in all
    rows = np.concatenate([Xtr[:, 0], Xva[:, 0]])
    assert sorted(rows) == sorted(X[:, 0])
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(X, y, 1.5)


def test_standardize_uses_training_statistics():
    rng = np.random.default_rng(0)
    Xtr = rng.normal(5, 3, size=(100, 4))
    Xtr[:, 3] = 7.0  # constant column stays finite
    Xte = rng.normal(5, 3, size=(20, 4))
    _, scale, a, b = standardize(Xtr, Xte)
    np.testing.assert_allclose(a[:, :3].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(a[:, :3].std(0), 1, atol=1e-5)
    assert np.all(a[:, 3] == 0) and scale[3] == 1
    np.testing.assert_allclose(
        b, (Xte - Xtr.mean(0)) / np.where(Xtr.std(0) > 0, Xtr.std(0), 1), rtol=1e-5, atol=1e-5
    )
    assert a.dtype == np.float32


def test_whole_epoch_slices_and_per_batch_gathers_give_the_same_batches(monkeypatch):
    import chainrule.data.loader as loader_module

    X, y = _data(23)
    runs = []
    for limit in (1 << 30, 0):  # permuted once and sliced / gathered per minibatch
        monkeypatch.setattr(loader_module, "_WHOLE_EPOCH_BYTES", limit)
        cr.manual_seed(4)
        loader = DataLoader(TensorDataset(X, y), shuffle=True, batch_size=5)
        runs.append([b for _ in range(2) for b in loader])
    assert len(runs[0]) == 10
    for (xa, ya), (xb, yb) in zip(*runs):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_unshuffled_batches_are_copies_not_views_of_the_callers_rows():
    X, y = _data(10)
    xb, _ = next(iter(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=False)))
    xb += 100
    assert X[0, 0] == 0
