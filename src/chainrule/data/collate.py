"""Map-style datasets: any object with ``__len__`` and ``__getitem__``, as in PyTorch.

A map-style dataset returns one example per index: an array (features
only) or a tuple ``(x, y)`` (or longer) of arrays or numbers.  A
minibatch is the examples of its indices stacked along a new first axis
(:func:`collate`), PyTorch's default collation.

How the rows are fetched:

* a dataset that holds arrays, :class:`~chainrule.data.TensorDataset` or
  an object with an ``X`` array (and optional ``y``) and no ``__getitem__``,
  is indexed by a whole index array at once (no Python loop over examples);
* a dataset with ``__getitems__(indices)`` (PyTorch's batched protocol)
  gets one call per minibatch and returns the list of examples (or the
  already stacked batch);
* any other dataset is read one item at a time, ``dataset[i]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["collate", "dataset_arrays", "fetch", "is_map_style"]


def holds_arrays(dataset) -> bool:
    """Whether a dataset keeps its rows as arrays ``X`` (and ``y``) to be indexed directly.

    True for :class:`~chainrule.data.TensorDataset` (its class says
    ``rows_are_arrays = True``) and for plain holders of an ``X`` array
    without ``__getitem__``; a dataset with its own ``__getitem__`` is read
    through it, even if it keeps an ``X`` (its items may transform rows).
    """
    if getattr(type(dataset), "rows_are_arrays", False):
        return True
    return hasattr(dataset, "X") and hasattr(dataset.X, "shape") and not hasattr(
        dataset, "__getitem__")


def is_map_style(dataset) -> bool:
    """Whether ``dataset`` has ``__len__`` and ``__getitem__`` (and is not an array)."""
    if hasattr(dataset, "shape") and hasattr(dataset, "dtype"):
        return False  # an array is data, not a dataset
    return hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")


def _stack(values: Sequence, where: str):
    first = values[0]
    if first is None:
        return None
    if isinstance(first, dict):
        return {k: _stack([v[k] for v in values], f"{where}[{k!r}]") for k in first}
    try:
        return np.stack([np.asarray(v) for v in values])
    except ValueError as err:
        shapes = sorted({np.shape(v) for v in values}, key=str)
        raise ValueError(
            f"Expected the examples' {where} to share one shape to stack into a minibatch. "
            f"Received: shapes {shapes[:4]}"
        ) from err


def collate(items: Sequence):
    """Stack a list of examples into a minibatch (PyTorch's default collation).

    Examples that are arrays (or numbers) give ``(batch, None)``; tuples
    ``(x, y, ...)`` give a tuple of stacked arrays, field by field; a
    ``None`` field (no target) stays None.

    Raises:
        ValueError: an empty list, examples of different kinds, or fields
        whose shapes differ.
    """
    if len(items) == 0:
        raise ValueError("Expected at least one example to collate. Received: none")
    first = items[0]
    if isinstance(first, (tuple, list)):
        width = len(first)
        if any(not isinstance(it, (tuple, list)) or len(it) != width for it in items):
            raise ValueError(
                f"Expected every example to be a tuple of {width} fields, as the first. "
                f"Received: {[type(it).__name__ for it in items[:4]]}"
            )
        fields = tuple(_stack([it[j] for it in items], f"field {j}") for j in range(width))
        return fields if width != 1 else (fields[0], None)
    return _stack(list(items), "features"), None


def _as_pair(batch):
    """A fetched minibatch as ``(xb, yb, ...)``: an already stacked batch passes through."""
    if isinstance(batch, (tuple, list)) and batch and all(hasattr(b, "shape") or b is None
                                                         for b in batch):
        return tuple(batch) if len(batch) != 1 else (batch[0], None)
    if hasattr(batch, "shape") and hasattr(batch, "dtype"):
        return batch, None
    return collate(batch)


def fetch(dataset, indices):
    """The minibatch of rows ``indices`` of a map-style dataset, collated.

    Args:
        dataset: a map-style dataset (see the module docstring).
        indices: a 1-D integer array of row numbers.
    """
    indices = np.asarray(indices, dtype=np.int64)
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None:
        batch = getitems(indices.tolist())
        if isinstance(batch, list) and batch and isinstance(batch[0], (tuple, list)):
            return collate(batch)
        return _as_pair(batch)
    return collate([dataset[int(i)] for i in indices])


def dataset_arrays(dataset, name: str = "dataset"):
    """All rows of a map-style dataset as arrays ``(X, y)`` (y None without targets).

    A dataset that holds arrays gives them as they are; another is read
    whole through :func:`fetch`.  Examples of more than two fields are
    refused (``fit`` reads ``(x, y)``).
    """
    if holds_arrays(dataset):
        return dataset.X, getattr(dataset, "y", None)
    n = len(dataset)
    if n == 0:
        raise ValueError(f"Expected a {name} with at least one example. Received: an empty one")
    batch = fetch(dataset, np.arange(n))
    if len(batch) != 2:
        raise ValueError(
            f"Expected the {name}'s examples to be x or (x, y). Received: {len(batch)} fields"
        )
    return batch
