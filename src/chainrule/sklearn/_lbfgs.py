"""``solver="lbfgs"`` of the estimators: full-batch L-BFGS-B through the one Trainer.

scikit-learn's MLPs with ``solver="lbfgs"`` minimise the whole-data
objective (mean loss + α/(2n)·Σ‖W‖²) with SciPy's L-BFGS-B: ``max_iter``
counts its iterations, ``max_fun`` its loss evaluations, ``tol`` is its
``gtol`` (max |projected gradient|), and a :class:`ConvergenceWarning` says
when it stopped for any other reason than convergence.  Here the same
objective goes through the Trainer as one full batch, and
:class:`chainrule.optim.ScipyMinimize` hands it to the same SciPy routine
with the same options, so iterations, evaluations and warnings are
scikit-learn's.  One Trainer epoch is one ``optimizer.step(closure)``.
``partial_fit``, ``batch_size``, ``early_stopping`` and the learning-rate
settings do not apply (as in scikit-learn).
"""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning

from chainrule.optim import ScipyMinimize
from chainrule.training import Callback, NonFiniteLossError, Trainer

from ._rows import RowOrder, WeightedL2

__all__ = ["make_lbfgs", "stochastic_solver", "train_lbfgs"]


def stochastic_solver(est) -> bool:
    """``partial_fit`` exists only for the minibatch solvers (not ``"lbfgs"``), as scikit-learn."""
    if est.solver == "lbfgs":
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. "
            f"{est.solver} is not stochastic."
        )
    return True


def make_lbfgs(est):
    """SciPy's L-BFGS-B with scikit-learn's options: ``max_iter``, ``max_fun``, ``tol``."""
    return ScipyMinimize(est._model.parameters(), method="L-BFGS-B",
                         options={"maxiter": int(est.max_iter), "maxfun": int(est.max_fun),
                                  "gtol": float(est.tol)})


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
    :class:`~._rows.RowOrder`: dtype kept, sparse rows densified, sample weights with
    the targets), here as one full batch in their given order.
    """
    if incremental:
        raise AttributeError(
            f"{type(est).__name__}: partial_fit is only available for stochastic solvers. "
            "Received: solver='lbfgs'"
        )
    opt = est._optimizer
    curve = _Curve()
    rows = RowOrder(X, T, weights, None, shuffle=False)
    est._l2 = WeightedL2(float(est.alpha))
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
    est.n_iter_ = min(int(state.get("n_iter", 0)), int(est.max_iter))
    est.t_ = X.shape[0] * est.n_iter_
    est.loss_ = float(state["fun"])  # the objective at the final weights
    est.loss_curve_ = [curve.start, est.loss_]
    if state.get("status", 0) != 0:
        warnings.warn(
            f"lbfgs failed to converge after {est.n_iter_} iteration(s) "
            f"(status={state['status']}: {state.get('message', '')}): increase max_iter "
            f"(now {est.max_iter}) or max_fun (now {est.max_fun}), or scale the data.",
            ConvergenceWarning,
        )
