"""Several losses on one model: multi-task (book §7.7) and semi-supervised (§7.6) training.

A multi-task model (:class:`chainrule.nn.MultiTask`) returns a dict of
outputs; ``fit`` then takes a dict of targets and a dict of losses::

    fit(model, X, {"digit": y, "parity": y % 2},
        loss={"digit": "cross_entropy", "parity": "bce"},
        loss_weights={"digit": 1.0, "parity": 0.5}, ...)

and minimises the weighted sum of the tasks' mean losses,

    J = Σ_t w_t · L_t,    L_t = (1/|B_t|) Σ_{i ∈ B_t} ℓ_t(f_t(x_i), y_{t,i}),

where B_t are the rows of the minibatch that have a target for task t
(all of them unless some are missing, see below).  The history logs ``loss``
(J) and ``<task>_loss`` (L_t, the mean over the epoch's rows with a target);
metrics are named per task, ``metrics={"digit": ["accuracy"]}``.

**Semi-supervised learning is the same loop.**  A task whose target is None
reconstructs the input (as ``fit(model, X)`` without y does for an
autoencoder), and ``fit(..., unlabeled=X_u)`` appends the rows of ``X_u``
to the data with the other tasks' targets marked missing (class id -1,
NaN for real targets).  Those rows then train only the reconstruction
term, i.e. P(x), through the shared encoder, while the labelled rows train
both::

    model = nn.MultiTask(encoder, {"label": classifier, "input": decoder})
    fit(model, X_l, {"label": y_l, "input": None},
        loss={"label": "cross_entropy", "input": "mse"},
        loss_weights={"input": 0.5},            # the unsupervised weight λ
        unlabeled=X_u, ...)

**Tasks labelled on different rows** (the pooled examples of §7.7) mark a
row without a task's target with :data:`MISSING_LABEL` (-1) for class ids
or NaN for real targets; such rows train the other tasks only.

Labelled and unlabelled rows are shuffled together, so each minibatch holds
them in proportion; a task's term is the mean over the rows that have its
target (0 for a minibatch with none).

Data-parallel over MPI, a dict of targets is sharded row-aligned and the
per-task logs are reduced over the ranks.  With missing targets each rank's
task mean is weighted by its share of the minibatch's rows, not of the
rows with that task's target, so the step is close to, but not exactly,
the one-process step (it is exact when every row has every target).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.engine import Tensor
from ..data.validation import check_class_labels, check_features, check_targets
from ..nn.multitask import MultiTask
from ._checks import _first_and_last_layer, check_data
from ._missing import MISSING_LABEL, _count, present_rows
from .losses import get_loss, target_kind
from .metrics import TaskMetric, task_metrics

__all__ = [
    "MISSING_LABEL",
    "MultiTaskLoss",
    "TaskMetric",
    "check_training_data",
    "task_metrics",
    "with_unlabeled",
]

def _missing(target: np.ndarray, n: int) -> np.ndarray:
    """``n`` rows shaped like ``target``'s that say "no target"."""
    fill = MISSING_LABEL if target.dtype.kind in "iu" else np.nan
    return np.full((n, *target.shape[1:]), fill, dtype=target.dtype)


def _keys_error(what: str, got, expected) -> ValueError | None:
    got, expected = list(got), list(expected)
    unknown = [k for k in got if k not in expected]
    absent = [k for k in expected if k not in got]
    if not unknown and not absent:
        return None
    parts = []
    if unknown:
        parts.append(f"unknown task(s) {unknown}")
    if absent:
        parts.append(f"missing task(s) {absent}")
    return ValueError(
        f"Expected {what} with the tasks {expected}. Received: {', '.join(parts)}"
    )


class MultiTaskLoss:
    """The weighted sum of per-task losses: J = Σ_t w_t · L_t.

    ``fit(..., loss={...}, loss_weights={...})`` builds one; it may also be
    passed as ``loss`` directly.

    Args:
        losses: ``{task: loss}``, each a loss name or callable as ``fit``
            takes (``"cross_entropy"``, ``"bce"``, ``"mse"``, ...).
        weights: ``{task: w_t >= 0}``; tasks left out weigh 1.

    Calling it with ``(outputs: {task: Tensor}, targets: {task: array})``
    returns J (a scalar Tensor) and leaves each task's term in
    :attr:`parts` as ``{task: (L_t, rows with a target)}`` for the logs.

    Raises:
        ValueError: unknown or missing task names (in the weights, the
            outputs or the targets), or a negative/non-finite weight.
    """

    def __init__(self, losses: dict, weights: dict | None = None):
        if not isinstance(losses, dict) or not losses:
            raise TypeError(
                "Expected loss as a non-empty dict {task: loss name or callable}. "
                f"Received: {type(losses).__name__}"
            )
        self.tasks = tuple(losses)
        self.losses = {}
        self.loss_names = {}
        for task, spec in losses.items():
            if not isinstance(task, str):
                raise TypeError(f"Expected task names as strings. Received: {task!r}")
            self.losses[task], self.loss_names[task] = get_loss(spec)
        weights = {} if weights is None else weights
        if not isinstance(weights, dict):
            raise TypeError(
                f"Expected loss_weights as a dict {{task: weight}}. Received: "
                f"{type(weights).__name__}"
            )
        unknown = [k for k in weights if k not in self.tasks]
        if unknown:
            raise ValueError(
                f"Expected loss_weights for the tasks {list(self.tasks)}. "
                f"Received: unknown task(s) {unknown}"
            )
        self.weights = {}
        for task in self.tasks:
            w = weights.get(task, 1.0)
            if isinstance(w, bool) or not isinstance(w, (int, float, np.number)) or not (
                math.isfinite(w) and w >= 0
            ):
                raise ValueError(
                    f"Expected a finite weight >= 0 for task {task!r}. Received: {w!r}"
                )
            self.weights[task] = float(w)
        self.parts: dict = {}

    def __repr__(self) -> str:
        terms = " + ".join(f"{self.weights[t]:g}*{self.loss_names[t]}[{t}]" for t in self.tasks)
        return f"MultiTaskLoss({terms})"

    def __call__(self, output, target) -> Tensor:
        if not isinstance(output, dict):
            raise TypeError(
                "Expected the model to return a dict {task: Tensor} (e.g. nn.MultiTask) "
                f"for a multi-task loss. Received: {type(output).__name__}"
            )
        err = _keys_error("model outputs", output, self.tasks)
        if err is None and not isinstance(target, dict):
            raise TypeError(
                f"Expected targets as a dict {{task: array}}. Received: {type(target).__name__}"
            )
        err = err or _keys_error("targets", target, self.tasks)
        if err is not None:
            raise err
        total = None
        parts = {}
        for task in self.tasks:
            out, y = output[task], target[task]
            rows = present_rows(y)
            n = y.shape[0] if rows is None else _count(rows)
            if n == 0:  # no row of this minibatch has the task's target
                parts[task] = (0.0, 0)
                continue
            if rows is not None:
                out, y = out[rows], y[rows]
            term = self.losses[task](out, y)
            parts[task] = (float(term.data), n)
            weighted = term * self.weights[task]
            total = weighted if total is None else total + weighted
        if total is None:  # no targets at all: a zero that keeps the graph
            first = output[self.tasks[0]]
            total = (first * 0.0).sum()
        self.parts = parts
        return total

    # --- the data, checked once before the loop --------------------------------
    def check_data(self, model, X, y, name: str = "X", transform=None):
        """Validate X and a dict of targets once; return ``(X, {task: array})``.

        A task's target None is the input itself (reconstruction).  Class
        ids must fit the task's head when its output size is known.  Rows
        marked missing (-1 class ids, NaN real targets) are left out of the
        checks and kept as markers (-1, NaN).
        """
        y_name = name.replace("X", "y")
        if not isinstance(y, dict):
            raise TypeError(
                f"Expected {y_name} as a dict {{task: targets}} for the tasks "
                f"{list(self.tasks)}. Received: {type(y).__name__}"
            )
        err = _keys_error(y_name, y, self.tasks)
        if err is not None:
            raise err
        X = check_features(X, name=name)
        heads = getattr(model, "heads", None)
        trunk = getattr(model, "trunk", None)
        if trunk is not None and transform is None:
            first, _ = _first_and_last_layer(trunk)
            if first is not None:
                axis, size = first
                if X.ndim <= axis or X.shape[axis] != size:
                    raise ValueError(
                        f"The model cannot take {name} of shape {X.shape}: its trunk expects "
                        f"{size} entries on axis {axis}"
                    )
        out = {}
        for task in self.tasks:
            if y[task] is None:
                out[task] = X
                continue
            kind = target_kind(self.loss_names[task])
            t_name = f"{y_name}[{task!r}]"
            if kind == "any":
                kind = "int" if np.asarray(y[task]).dtype.kind in "iu" else "float"
            raw = np.asarray(y[task])
            rows = None
            if raw.ndim and raw.shape[0] == X.shape[0] and raw.dtype.kind in "iuf":
                rows = present_rows(raw)  # rows marked missing are checked out
            if rows is not None:  # check the labelled rows where they are (row numbers)
                filled = np.zeros_like(raw)
                filled[rows] = raw[rows]
                raw = filled
            arr = check_targets(raw, X.shape[0], name=t_name, integer=kind == "int")
            if kind == "binary" and not np.all((arr == 0) | (arr == 1)):
                bad = arr[(arr != 0) & (arr != 1)][0]
                raise ValueError(f"Expected 0/1 labels in {t_name}. Received: {bad}")
            if kind == "int" and heads is not None and task in heads._modules:
                _, n_out = _first_and_last_layer(heads._modules[task])
                if n_out is not None:
                    check_class_labels(arr, n_out, name=t_name)
            if rows is not None:
                full = _missing(arr, X.shape[0])
                full[rows] = arr[rows]
                arr = full
            out[task] = arr
        return X, out

    def add_unlabeled(self, X, y: dict, raw_y: dict, unlabeled):
        """Append unlabelled rows: their input-reconstruction targets are the
        rows themselves, every other task's target is marked missing."""
        inputs = [t for t in self.tasks if raw_y[t] is None]
        if not inputs:
            raise ValueError(
                "Expected a task that reconstructs the input (target None, e.g. "
                "y={'label': y, 'input': None}) to learn from unlabeled rows. "
                f"Received: targets for every task {list(self.tasks)}"
            )
        U = check_features(unlabeled, name="unlabeled")
        if U.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"Expected unlabeled rows shaped like X's, {X.shape[1:]}. "
                f"Received: shape {U.shape}"
            )
        if U.dtype != X.dtype:
            U = U.astype(X.dtype)
        X_all = np.concatenate([X, U])
        y_all = {
            t: X_all if t in inputs else np.concatenate([y[t], _missing(y[t], len(U))])
            for t in self.tasks
        }
        return X_all, y_all



def check_training_data(model, loss_fn, loss_name: str, X, y, name: str = "X", transform=None):
    """``(X, y)`` checked once for a loss: per task for a :class:`MultiTaskLoss`,
    else by :func:`~chainrule.training.evaluation.check_data` (a
    :class:`~chainrule.nn.MultiTask` model then needs a dict of losses)."""
    if isinstance(loss_fn, MultiTaskLoss):
        return loss_fn.check_data(model, X, y, name=name, transform=transform)
    if isinstance(model, MultiTask):
        raise TypeError(
            f"Expected loss as a dict {{task: loss}} for a MultiTask model (tasks "
            f"{list(model.tasks)}). Received: loss={loss_name!r}"
        )
    return check_data(model, X, y, loss_name, name=name, transform=transform)


def with_unlabeled(loss_fn, loss_name: str, X, y, raw_y, unlabeled):
    """``(X, y)`` with unlabelled rows appended (see :meth:`MultiTaskLoss.add_unlabeled`)."""
    if unlabeled is None:
        return X, y
    if not isinstance(loss_fn, MultiTaskLoss):
        raise ValueError(  # noqa: TRY004 - a missing setting, not a wrong type
            "Expected a dict of per-task losses with a task that reconstructs the input "
            f"(target None) to learn from unlabeled rows. Received: loss={loss_name!r}"
        )
    return loss_fn.add_unlabeled(X, y, raw_y, unlabeled)
