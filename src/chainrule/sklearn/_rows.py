"""How the estimators' rows reach the Trainer, and their L2 term per minibatch.

Shared by the minibatch solvers (:mod:`._base`) and full-batch L-BFGS
(:mod:`._lbfgs`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from chainrule.regularization import MinibatchL2
from chainrule.training import Callback

__all__: list[str] = []


class WeightedL2(MinibatchL2):
    """scikit-learn's L2 term α/(2·Σw)·Σ‖W‖²: divided by the minibatch's weight sum.

    Without sample weights ``rows`` stays None and the divisor is the
    number of rows m', as in :class:`~chainrule.regularization.MinibatchL2`;
    the weighted loss sets ``rows`` to Σw before each step.
    """

    def __init__(self, alpha: float):
        super().__init__(alpha)
        self.rows = None

    def add_gradient(self, model, batch_rows: int) -> float:
        return super().add_gradient(model, batch_rows if self.rows is None else self.rows)


#: below this size the rows of an epoch are permuted in one copy, as the DataLoader does
_WHOLE_EPOCH_BYTES = 64 << 20


class RowOrder(Callback):
    """Feeds the Trainer scikit-learn's minibatches: its row order, float64, sparse, weights.

    The Trainer's loader runs over ``placeholder`` (one float32 zero per
    row) in order, and ``gather`` (its per-minibatch ``transform``) returns
    the next rows of the epoch's order instead: the order of scikit-learn,
    whose epochs compose a fresh ``state.shuffle`` with the last order.
    Rows keep their dtype (float64 trains a float64 network), sparse rows
    become dense one minibatch at a time, and with sample weights the
    targets come as ``(T, w)``.
    """

    def __init__(self, X, T, weights, state, shuffle: bool):
        super().__init__()
        self.X, self.T, self.weights = X, T, weights
        self.state = state
        self.shuffle = shuffle
        n = X.shape[0]
        self.placeholder = np.zeros((n, 1), dtype=np.float32)
        self.order: np.ndarray = np.arange(n)  # the epoch's row order (shuffled epochs)
        self.start = 0
        self.epoch_data: tuple | None = None

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        self.start = 0
        if not self.shuffle:
            self.epoch_data = (self.X, self.T, self.weights)
            return
        step = np.arange(len(self.order))
        self.state.shuffle(step)
        self.order = self.order[step]
        if not sp.issparse(self.X) and self.X.nbytes <= _WHOLE_EPOCH_BYTES:
            # a small dense set is permuted once per epoch and cut into views
            self.epoch_data = tuple(None if a is None else a[self.order]
                                    for a in (self.X, self.T, self.weights))
        else:
            self.epoch_data = None

    def gather(self, placeholder, _targets):
        stop = self.start + len(placeholder)
        if self.epoch_data is not None:
            idx = slice(self.start, stop)
            X, T, w = self.epoch_data
        else:
            idx = self.order[self.start:stop]
            X, T, w = self.X, self.T, self.weights
        self.start = stop
        xb = X[idx]
        if sp.issparse(xb):
            xb = xb.toarray()
        return xb, (T[idx] if w is None else (T[idx], w[idx]))
