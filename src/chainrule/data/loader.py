"""In-memory datasets and the minibatch loader (book §5.9, §8.1.3).

Minibatch SGD draws m' examples uniformly from the training set for each
step.  :class:`DataLoader` does it the usual way: with ``shuffle=True`` it
shuffles the indices once per epoch (a uniform random permutation from
``cr.random.generator()``) and cuts them into consecutive minibatches, so
every example is seen once per epoch and each minibatch is a uniform
sample without replacement.  As in PyTorch, ``shuffle`` is off unless asked
for (``fit`` and the estimators ask for it, as Keras and scikit-learn do).

The loader remembers where it is in an epoch (:meth:`DataLoader.state_dict`),
so a checkpoint taken in the middle of an epoch resumes with the very same
remaining minibatches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from .. import random as _random
from .._backend import device_of, from_host, namespace_of, to_host
from .collate import fetch, holds_arrays, is_map_style
from .validation import check_count

__all__ = ["DataLoader", "TensorDataset", "train_val_split"]

#: datasets up to this size are permuted whole at the start of an epoch
_WHOLE_EPOCH_BYTES = 4 << 20


def _rows(a):
    """``a`` as an array with rows: NumPy for host data; an array-API array stays as it is."""
    if a is None or isinstance(a, np.ndarray):
        return a
    module = type(a).__module__.split(".")[0]
    if hasattr(a, "__array_namespace__") or module in ("cupy", "torch"):
        return a  # an array of a device library: it stays on its device
    return np.asarray(a)


def take_rows(y, index):
    """Rows ``index`` of targets: an array, None, or a dict of arrays (one per task,
    indexed alike so the tasks keep the same row order)."""
    if y is None:
        return None
    if isinstance(y, dict):
        return {k: v[index] for k, v in y.items()}
    return y[index]


def _n_rows(y) -> list:
    """(name, rows) of each target array: one entry, or one per task of a dict."""
    if isinstance(y, dict):
        return [(f"y[{k!r}]", tuple(_rows(v).shape[:1]) or (None,)) for k, v in y.items()]
    return [("y", tuple(_rows(y).shape[:1]) or (None,))]


class TensorDataset:
    """Features and (optional) targets held in memory, indexed together.

    Args:
        X: array of shape (n_samples, ...).
        y: optional array with ``n_samples`` rows (class ids or targets), or
            a dict of such arrays (multi-task targets, indexed together).

    Example:
        >>> ds = TensorDataset(np.zeros((10, 3)), np.arange(10))
        >>> len(ds), ds[2:4][0].shape
        (10, (2, 3))
    """

    #: indexing ``X`` and ``y`` by an index array gives the rows (see :mod:`.collate`)
    rows_are_arrays = True

    def __init__(self, X, y=None):
        X = _rows(X)
        if X.ndim == 0:
            raise ValueError("Expected X with one row per sample. Received: a scalar")
        if y is not None:
            if isinstance(y, dict):
                y = {k: _rows(v) for k, v in y.items()}
            else:
                y = _rows(y)
            for name, (rows,) in _n_rows(y):
                if rows != X.shape[0]:
                    raise ValueError(
                        f"Expected {name} with {X.shape[0]} rows (as X). Received: "
                        f"{'a scalar' if rows is None else f'{rows} rows'}"
                    )
        self.X = X
        self.y = y

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __getitem__(self, index):
        """Rows ``index`` (an int, slice or index array) as ``(X, y)``."""
        if not isinstance(self.X, np.ndarray):  # an array-API array: standard indexing only
            return _take(self.X, index), _take(self.y, index)
        return self.X[index], take_rows(self.y, index)


class DataLoader:
    """Iterate over a dataset in minibatches (reshuffled every epoch with ``shuffle=True``).

    Args:
        dataset: a :class:`TensorDataset` (or anything with ``X``/``y``
            arrays), a tuple ``(X, y)``, or any map-style dataset
            (``__len__`` and ``__getitem__`` returning an array or a tuple
            ``(x, y)``; see :mod:`chainrule.data.collate`): its examples are
            stacked into minibatches.
        batch_size: m', the number of examples per minibatch.
        shuffle: draw a fresh uniform permutation at the start of every
            epoch from ``cr.random.generator()`` (the generator in scope,
            else the default one: a seed fixes the order); in order
            otherwise.  Off by default, as ``torch.utils.data.DataLoader``.
        drop_last: skip the last minibatch if it has fewer than
            ``batch_size`` examples.
        transform: ``transform(xb, yb) -> (xb, yb)`` applied to every
            minibatch, e.g. data augmentation (book §7.4).  It should use
            ``cr.random.generator()`` for its randomness.
        sampler: which rows each epoch uses, in which order: an object with
            ``indices(epoch) -> int array`` and ``num_samples(epoch) -> int``
            (e.g. :class:`~chainrule.data.CurriculumSampler`), asked at the
            start of each epoch of this loader (``epoch`` counts them from 0);
            it replaces ``shuffle``.  An epoch may then use fewer rows than
            the dataset holds.

    Yields:
        ``(xb, yb)`` NumPy arrays (``yb`` is None without targets; a
        map-style dataset of longer tuples gives tuples as long); for a
        dataset held as arrays of a device library (CuPy, torch,
        array_api_strict) minibatches are gathered on that device (the
        permutation is drawn on the host and moved once per epoch).

    Example:
        >>> loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)
        >>> for xb, yb in loader: ...
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        transform: Callable | None = None,
        sampler=None,
    ):
        if isinstance(dataset, tuple):
            dataset = TensorDataset(*dataset)
        if not (holds_arrays(dataset) or is_map_style(dataset)):
            raise TypeError(
                "Expected a dataset: a TensorDataset, a tuple (X, y), or an object with "
                f"__len__ and __getitem__. Received: {type(dataset).__name__}"
            )
        batch_size = check_count(batch_size, "batch_size", 1)
        if transform is not None and not callable(transform):
            raise TypeError(
                f"Expected transform to be callable (xb, yb) -> (xb, yb). "
                f"Received: {type(transform).__name__}"
            )
        if sampler is not None:
            if not (callable(getattr(sampler, "indices", None))
                    and callable(getattr(sampler, "num_samples", None))):
                raise TypeError(
                    "Expected sampler with indices(epoch) and num_samples(epoch). "
                    f"Received: {type(sampler).__name__}"
                )
            if hasattr(sampler, "__len__") and len(sampler) != len(dataset):
                raise ValueError(
                    f"Expected a sampler over the dataset's {len(dataset)} rows. "
                    f"Received: a sampler over {len(sampler)} rows"
                )
        self.sampler = sampler
        self._epoch = 0  # epochs begun, for the sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self._order: np.ndarray | None = None  # permutation of this epoch
        self._position = 0  # minibatches handed out

    def __len__(self) -> int:
        """Number of minibatches per epoch (the current or next one, with a sampler)."""
        if self.sampler is None:
            n = len(self.dataset)
        elif self._order is not None:
            n = len(self._order)
        else:
            n = int(self.sampler.num_samples(self._epoch))
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    @property
    def position(self) -> int:
        """Minibatches already handed out in the current epoch (0 between epochs)."""
        return self._position

    def _new_order(self) -> np.ndarray:
        n = len(self.dataset)
        if self.sampler is not None:
            order = np.asarray(self.sampler.indices(self._epoch), dtype=np.int64)
            self._epoch += 1
            if order.ndim != 1 or (order.size and (order.min() < 0 or order.max() >= n)):
                raise ValueError(
                    f"Expected the sampler to give row indices in [0, {n}). Received: "
                    f"shape {order.shape}, range "
                    f"[{order.min() if order.size else None}, {order.max() if order.size else None}]"
                )
            return order
        if self.shuffle:
            return _random.generator().permutation(n)
        return np.arange(n)

    def __iter__(self) -> Iterator:
        if self._order is None:
            self._order = self._new_order()
            self._position = 0
        order = self._order
        n_batches = len(self)
        bs = self.batch_size
        if not holds_arrays(self.dataset):  # a map-style dataset: fetched per minibatch
            yield from self._serve(lambda k: fetch(self.dataset, order[k * bs : (k + 1) * bs]),
                                   n_batches)
            return
        X, y = self.dataset.X, getattr(self.dataset, "y", None)
        if not isinstance(X, np.ndarray):
            yield from self._serve(self._device_batches(X, y, order, bs), n_batches)
            return
        # a small dataset is permuted once per epoch and cut into slices
        # (views); a large one is gathered minibatch by minibatch (no copy
        # of the whole set): the same minibatches either way
        whole = (self.shuffle or self.sampler is not None) and X.nbytes <= _WHOLE_EPOCH_BYTES
        if whole:
            X = X[order]
            y = take_rows(y, order)

        def batch(k):
            idx: slice | np.ndarray
            if whole:
                idx = slice(k * bs, (k + 1) * bs)
            else:  # a copy, so a transform never edits the caller's rows
                idx = order[k * bs : (k + 1) * bs]
            return X[idx], take_rows(y, idx)

        yield from self._serve(batch, n_batches)

    def _device_batches(self, X, y, order, bs):
        """``k -> minibatch k`` of a dataset held on a device: gathered there by ``take``."""
        gather = self.shuffle or self.sampler is not None
        n = len(order) if gather else X.shape[0]
        if gather:
            order = from_host(order, namespace_of(X), device_of(X))

        def batch(k):
            stop = min((k + 1) * bs, n)  # the standard wants the stop within bounds
            rows = order[k * bs : stop] if gather else slice(k * bs, stop)
            return _take(X, rows), _take(y, rows)

        return batch

    def _serve(self, batch, n_batches: int) -> Iterator:
        """The epoch's remaining minibatches ``batch(k)``, each through ``transform``."""
        try:
            while self._position < n_batches:
                k = self._position
                fields = batch(k)
                if self.transform is not None:
                    fields = self.transform(*fields)
                # count the batch as consumed before the caller sees it, so a
                # checkpoint taken after the step resumes with the next one
                self._position = k + 1
                yield fields
        finally:
            if self._position >= n_batches:
                self._order = None
                self._position = 0

    # --- resuming -------------------------------------------------------------
    def state_dict(self) -> dict:
        """The epoch's permutation and position (None/0 between epochs), and the
        sampler's epoch count."""
        order = None if self._order is None else self._order.copy()
        return {"order": order, "position": self._position, "epoch": self._epoch}

    def load_state_dict(self, state: dict) -> None:
        """Continue an epoch saved by :meth:`state_dict`."""
        order = state.get("order")
        if order is not None:
            order = np.asarray(order, dtype=np.int64)
            if self.sampler is not None:
                if order.ndim != 1 or (order.size and order.max() >= len(self.dataset)):
                    raise ValueError(
                        f"Expected saved row indices below {len(self.dataset)}. "
                        f"Received: shape {order.shape} (was the data changed?)"
                    )
            elif order.shape != (len(self.dataset),):
                raise ValueError(
                    f"Expected a saved permutation of {len(self.dataset)} indices. "
                    f"Received: shape {order.shape} (was the data changed?)"
                )
        self._order = order
        self._position = int(state.get("position", 0)) if order is not None else 0
        self._epoch = int(state.get("epoch", self._epoch))


def _take(a, index):
    """Rows ``index`` of an array-API array (or a dict of them, one per task).

    ``index``: an int, a slice, host indices, or indices already on the device.
    """
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: _take(v, index) for k, v in a.items()}
    if isinstance(a, np.ndarray):
        return a[index]
    if isinstance(index, slice):
        return a[slice(*index.indices(a.shape[0])), ...]
    xp = namespace_of(a)
    if isinstance(index, (int, np.integer)):
        return a[int(index), ...]
    if namespace_of(index) is not xp:
        index = from_host(np.asarray(index, dtype=np.int64), xp, device_of(a))
    return xp.take(a, index, axis=0)


def train_val_split(
    X, y=None, val_fraction: float = 0.2, seed: int | None = 0, stratify: bool = False
):
    """Split rows at random into a training and a validation part.

    Uses its own generator seeded with ``seed`` (not the global one), so the
    split is the same however much randomness was used before.

    Args:
        X: features, (n_samples, ...).
        y: targets or None.
        val_fraction: share of rows held out, in (0, 1).
        seed: seed of the split; None draws one from ``cr.random.generator()``.
        stratify: keep class proportions (y must hold class ids).

    Returns:
        ``(X_train, y_train, X_val, y_val)`` (the y's are None without y).
    """
    X = _rows(X)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"Expected val_fraction in (0, 1). Received: {val_fraction}")
    n = X.shape[0] if X.ndim else 0
    n_val = round(n * val_fraction)
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"Expected a split leaving at least one row on each side. Received: "
            f"{n} rows and val_fraction={val_fraction}"
        )
    if seed is None:
        seed = int(_random.generator().integers(2**31))
    rng = np.random.default_rng(seed)
    if stratify:
        if y is None:
            raise ValueError("Expected y with stratify=True. Received: y=None")
        y_arr = to_host(y)
        classes, counts = np.unique(y_arr, return_counts=True)
        # per-class quotas summing to n_val (largest remainders get the rest)
        exact = counts * (n_val / n)
        quota = np.floor(exact).astype(int)
        rest = n_val - quota.sum()
        quota[np.argsort(quota - exact, kind="stable")[:rest]] += 1
        val_parts = []
        for c, q in zip(classes, quota):
            rows = rng.permutation(np.flatnonzero(y_arr == c))
            val_parts.append(rows[:q])
        val_idx = np.sort(np.concatenate(val_parts))
        mask = np.ones(n, bool)
        mask[val_idx] = False
        train_idx = rng.permutation(np.flatnonzero(mask))
        val_idx = rng.permutation(val_idx)
    else:
        perm = rng.permutation(n)
        val_idx, train_idx = perm[:n_val], perm[n_val:]
    if y is not None and not isinstance(y, dict):
        y = _rows(y)
    if not isinstance(X, np.ndarray):  # arrays of a device library: split on that device
        return _take(X, train_idx), _take(y, train_idx), _take(X, val_idx), _take(y, val_idx)
    return X[train_idx], take_rows(y, train_idx), X[val_idx], take_rows(y, val_idx)


def standardize(X_train: np.ndarray, *others: np.ndarray):
    """Scale features to zero mean, unit variance with the training statistics.

    Constant features get scale 1 (not 0), so they stay finite.

    Returns:
        ``(mean, scale, X_train_std, *others_std)``, all float32.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale[scale == 0] = 1.0
    out = [
        ((np.asarray(a, np.float64) - mean) / scale).astype(np.float32)
        for a in (X_train,) + others
    ]
    return (mean.astype(np.float32), scale.astype(np.float32), *out)
