"""How the estimators' rows reach the Trainer, and their L2 term per minibatch;
scikit-learn's initial weights and validation split.

Shared by the minibatch solvers (:mod:`._base`) and full-batch L-BFGS
(:mod:`._lbfgs`).
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split

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


def glorot_weights(state, sizes, activation: str) -> list:
    """scikit-learn's initialisation, drawn from its ``random_state`` in its order.

    Glorot's uniform rule (book §8.4) for weights *and* biases:
    U(−b, b) with b = √(6/(fan_in + fan_out)) (√(2/…) for logistic units),
    layer by layer, W then b, in float64.  The same ``random_state``
    therefore starts the network exactly where scikit-learn's starts.
    """
    factor = 2.0 if activation == "logistic" else 6.0
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = np.sqrt(factor / (fan_in + fan_out))
        W = state.uniform(-bound, bound, (fan_in, fan_out))
        b = state.uniform(-bound, bound, fan_out)
        weights.append((W, b))
    return weights


def split_validation(name: str, X, T, weights, frac: float, state, stratify):
    """Hold out ``validation_fraction`` of the rows (stratified for classes).

    The split of scikit-learn for the same ``random_state``.
    """
    arrays = [X, T] if weights is None else [X, T, weights]
    n = X.shape[0]
    held = (f"{name}: early_stopping=True holds out "
            f"validation_fraction={frac} of the {n} samples for validation")
    try:
        parts = train_test_split(*arrays, test_size=frac, random_state=state,
                                 stratify=stratify)
    except ValueError as err:  # scikit-learn's words, then what they mean here
        raise ValueError(f"{err} ({held}, stratified: at least one row of each class on "
                         "each side. Increase validation_fraction or the data, or set "
                         "early_stopping=False.)") from None
    X_train, X_val, T_train, T_val = parts[:4]
    w_train, w_val = (None, None) if weights is None else parts[4:]
    if X_val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            f"of your dataset. ({held} and needs at least 2 validation rows. Received: "
            f"{X_val.shape[0]} row(s); or set early_stopping=False.)")
    return X_train, T_train, w_train, X_val, T_val, w_val
