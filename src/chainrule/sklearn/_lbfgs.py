"""``solver="lbfgs"`` of the estimators: full-batch L-BFGS through the one Trainer.

scikit-learn's MLPs with ``solver="lbfgs"`` minimise the whole-data
objective (mean loss + α/(2n)·Σ‖W‖²) with scipy's L-BFGS-B: ``max_iter``
counts L-BFGS iterations, ``max_fun`` loss evaluations, ``tol`` bounds the
final max|gradient|, and a :class:`ConvergenceWarning` says when the
iteration budget ran out first.  Here the same objective goes through the
Trainer as one full batch with :class:`chainrule.optim.LBFGS` (strong-Wolfe
line search, 10 curvature pairs as L-BFGS-B's default ``maxcor``): one
Trainer epoch is one ``optimizer.step(closure)`` running up to ``max_iter``
iterations.  ``partial_fit``, ``batch_size``, ``early_stopping`` and the
learning-rate settings do not apply (as in scikit-learn).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from chainrule.optim import LBFGS
from chainrule.training import Callback, NonFiniteLossError, Trainer

__all__ = ["is_stochastic", "make_lbfgs", "train_lbfgs"]

#: curvature pairs kept, as scipy's L-BFGS-B (maxcor)
HISTORY = 10


def is_stochastic(est) -> bool:
    """Whether ``partial_fit`` applies (every solver but "lbfgs", as scikit-learn)."""
    return est.solver != "lbfgs"


def make_lbfgs(est):
    """The L-BFGS optimiser of a fit: ``max_iter`` iterations, ``max_fun`` evaluations."""
    return LBFGS(est._model.parameters(), lr=1.0, max_iter=int(est.max_iter),
                 max_eval=int(est.max_fun), tolerance_grad=float(est.tol),
                 tolerance_change=float(np.finfo(np.float32).eps) * 1e-2,
                 history_size=HISTORY, line_search_fn="strong_wolfe")


class _Curve(Callback):
    """The objective of the full-batch closure's first evaluation (the starting loss)."""

    def __init__(self):
        super().__init__()
        self.start = None

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.start = float(logs["objective"])


def train_lbfgs(est, X, T, weights, incremental: bool) -> None:
    """Fit ``est`` by full-batch L-BFGS; sets ``n_iter_``, ``loss_``, ``loss_curve_``.

    The rows reach the Trainer as in the stochastic solvers (the estimator's
    ``_RowOrder``: dtype kept, sparse rows densified, sample weights with
    the targets), here as one full batch in their given order.
    """
    if incremental:
        raise AttributeError(
            f"{type(est).__name__}: partial_fit is only available for stochastic solvers. "
            "Received: solver='lbfgs'"
        )
    from ._base import _RowOrder, _WeightedL2

    opt = est._optimizer
    curve = _Curve()
    rows = _RowOrder(X, T, weights, None, shuffle=False)
    est._l2 = _WeightedL2(float(est.alpha))
    loss = est._weighted_loss if weights is not None else est._batch_loss
    trainer = Trainer(est._model, loss=loss, optimizer=opt, regularizers=[est._l2],
                      callbacks=[rows, curve], verbose=0)
    try:
        trainer.fit(rows.placeholder, rows.placeholder, epochs=1, batch_size=X.shape[0],
                    shuffle=False, transform=rows.gather)
    except NonFiniteLossError as err:
        raise FloatingPointError(
            f"{type(est).__name__}: the training loss became {err.value} during L-BFGS; "
            "scale the inputs."
        ) from err
    finally:
        curve.trainer = curve.model = None
        rows.trainer = rows.model = None
        opt.zero_grad()
    state = opt.state[opt._params[0]]
    est.n_iter_ = int(state.get("n_iter", 0))
    est.t_ = X.shape[0] * est.n_iter_
    # the objective at the final weights (the loss_ scikit-learn reports)
    rows.on_epoch_begin(0, {})
    est.loss_ = _objective(est, *rows.gather(rows.placeholder, None))
    est.loss_curve_ = [curve.start, est.loss_]
    grad = state.get("flat_grad")
    converged = grad is not None and float(np.abs(grad).max()) <= float(est.tol)
    if not converged and (est.n_iter_ >= int(est.max_iter)
                          or state.get("func_evals", 0) >= int(est.max_fun)):
        warnings.warn(
            f"lbfgs failed to converge after {est.n_iter_} iteration(s) "
            f"(max_iter={est.max_iter}, max_fun={est.max_fun}): increase max_iter or "
            "max_fun, or scale the data.",
            ConvergenceWarning,
        )


def _objective(est, X, targets) -> float:
    """Mean loss + α/(2n)·Σ‖W‖² at the current weights (a forward pass, no gradient).

    With sample weights (``targets`` = ``(T, w)``) the loss is weighted and
    n is Σw, as in scikit-learn.
    """
    from chainrule.autograd.engine import Tensor, no_grad
    from chainrule.regularization import penalized_parameters

    model = est._model
    model.eval()
    with no_grad():
        out = model(Tensor(X, dtype=X.dtype))
        if isinstance(targets, tuple):
            T, w = targets
            denominator = float(w.sum())
            loss = float(est._batch_loss(out, T, w, denominator).data)
        else:
            denominator = X.shape[0]
            loss = float(est._batch_loss(out, targets).data)
    squares = sum(float(np.vdot(w.data, w.data)) for w in penalized_parameters(model))
    return loss + 0.5 * float(est.alpha) / denominator * squares
