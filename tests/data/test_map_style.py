"""DataLoader over map-style datasets (torch's protocol) and its default order."""

import inspect

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset
from chainrule.data.collate import collate, dataset_arrays


class _Items:
    """Examples one index at a time; counts the calls."""

    def __init__(self, X, y=None):
        self.X_rows, self.labels, self.calls = X, y, 0

    def __len__(self):
        return len(self.X_rows)

    def __getitem__(self, i):
        self.calls += 1
        if self.labels is None:
            return self.X_rows[i]
        return self.X_rows[i], self.labels[i]


class _Batched(_Items):
    """torch's batched protocol: ``__getitems__`` fetches a whole minibatch."""

    def __init__(self, X, y):
        super().__init__(X, y)
        self.batch_calls = 0

    def __getitems__(self, indices):
        self.batch_calls += 1
        idx = np.asarray(indices)
        return self.X_rows[idx], self.labels[idx]


def _data(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return X, np.arange(n)


def test_shuffle_is_off_by_default_as_torch():
    assert inspect.signature(DataLoader).parameters["shuffle"].default is False
    X, y = _data()
    ys = np.concatenate([yb for _, yb in DataLoader((X, y), batch_size=4)])
    np.testing.assert_array_equal(ys, np.arange(10))


@pytest.mark.parametrize("shuffle", [False, True])
def test_map_style_batches_equal_tensor_dataset_batches(shuffle):
    X, y = _data(11)
    runs = []
    for ds in (TensorDataset(X, y), _Items(X, y), _Batched(X, y)):
        cr.manual_seed(3)
        runs.append(list(DataLoader(ds, batch_size=4, shuffle=shuffle)))
    for other in runs[1:]:
        assert len(other) == len(runs[0]) == 3
        for (xa, ya), (xb, yb) in zip(runs[0], other):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
            assert xb.dtype == np.float32 and yb.shape == (len(xb),)


def test_a_dataset_keeping_an_X_is_read_through_its_getitem():
    X, y = _data(6)

    class Scaled:
        def __init__(self):
            self.X, self.y = X, y

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return 2 * self.X[i], self.y[i]

    xb, _ = next(iter(DataLoader(Scaled(), batch_size=6)))
    np.testing.assert_array_equal(xb, 2 * X)


def test_fetching_counts_calls():
    X, y = _data(10)
    per_item = _Items(X, y)
    list(DataLoader(per_item, batch_size=4))
    assert per_item.calls == 10  # read one example at a time
    batched = _Batched(X, y)
    list(DataLoader(batched, batch_size=4))
    assert batched.batch_calls == 3 and batched.calls == 0  # one call per minibatch


def test_features_only_and_three_fields_and_resume():
    X, y = _data(7)
    batches = list(DataLoader(_Items(X), batch_size=3, drop_last=True))
    assert len(batches) == 2 and batches[0][1] is None
    np.testing.assert_array_equal(batches[1][0], X[3:6])

    class Three(_Items):
        def __getitem__(self, i):
            return self.X_rows[i], self.labels[i], float(i) / 2

    xb, yb, wb = next(iter(DataLoader(Three(X, y), batch_size=5)))
    np.testing.assert_array_equal(xb, X[:5])
    np.testing.assert_array_equal(yb, y[:5])
    np.testing.assert_array_equal(wb, np.arange(5) / 2)
    # a checkpoint mid-epoch resumes with the same minibatches
    loader = DataLoader(_Items(X, y), batch_size=2, shuffle=True)
    cr.manual_seed(9)
    full = [yb for _, yb in loader]
    cr.manual_seed(9)
    it = iter(loader)
    head = [next(it)[1] for _ in range(2)]
    state = loader.state_dict()
    it.close()
    other = DataLoader(_Items(X, y), batch_size=2, shuffle=True)
    other.load_state_dict(state)
    for a, b in zip(head + [yb for _, yb in other], full):
        np.testing.assert_array_equal(a, b)


def test_collate_and_errors():
    xb, yb = collate([(np.zeros(2), 1), (np.ones(2), 0)])
    np.testing.assert_array_equal(xb, [[0, 0], [1, 1]])
    np.testing.assert_array_equal(yb, [1, 0])
    with pytest.raises(ValueError, match="share one shape"):
        collate([(np.zeros(2), 1), (np.ones(3), 0)])
    with pytest.raises(ValueError, match="tuple of 2 fields"):
        collate([(np.zeros(2), 1), np.ones(2)])
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(42)
    X, y = _data(4)
    Xa, ya = dataset_arrays(_Items(X, y))
    np.testing.assert_array_equal(Xa, X)
    np.testing.assert_array_equal(ya, y)
    with pytest.raises(ValueError, match="at least one example"):
        dataset_arrays(_Items(X[:0], y[:0]))


def test_torch_dataset_is_accepted():
    torch = pytest.importorskip("torch")
    X, y = _data(6)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    xb, yb = next(iter(DataLoader(ds, batch_size=6)))
    np.testing.assert_array_equal(xb, X)
    np.testing.assert_array_equal(yb, y)
