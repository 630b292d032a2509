"""L-BFGS (book §8.6.3): BFGS with the inverse Hessian kept as its last m updates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._closure import ClosureOptimizer, check, copy_array, max_abs, scalar_for, sum_abs
from .line_search import strong_wolfe

__all__ = ["LBFGS"]


def two_loop(g: np.ndarray, steps: list, diffs: list, rhos: list, gamma: float) -> np.ndarray:
    """The L-BFGS direction d = -H g by the two-loop recursion (Nocedal & Wright alg. 7.4).

    H is the inverse-Hessian estimate built from the pairs s_i = θ_{i+1} - θ_i,
    y_i = g_{i+1} - g_i (ρ_i = 1 / y_iᵀ s_i), starting from γ I.
    """
    q = -g
    alphas = [0.0] * len(steps)
    for i in range(len(steps) - 1, -1, -1):
        alphas[i] = rhos[i] * float(steps[i] @ q)
        q -= alphas[i] * diffs[i]
    r = q * gamma
    for i in range(len(steps)):
        beta = rhos[i] * float(diffs[i] @ r)
        r += (alphas[i] - beta) * steps[i]
    return r


class LBFGS(ClosureOptimizer):
    """Limited-memory BFGS, the same iterates as ``torch.optim.LBFGS``.

    Each ``step(closure)`` runs up to ``max_iter`` iterations::

        d_k = -H_k g_k
        θ_{k+1} = θ_k + t_k d_k

    where H_k g_k comes from the two-loop recursion over the last
    ``history_size`` pairs s = Δθ, y = Δg with yᵀs > 1e-10 (H_0 = (yᵀs / yᵀy) I),
    with t_k = ``lr`` (the first step of all: min(1, 1/‖g‖₁)·lr), or, with
    ``line_search_fn="strong_wolfe"``, a step meeting the strong Wolfe
    conditions (:func:`~chainrule.optim.line_search.strong_wolfe`).  The
    iterations stop early when max|g| ≤ ``tolerance_grad``, the directional
    derivative gᵀd > -``tolerance_change``, max|t d| ≤ ``tolerance_change``, the
    loss changes by less than ``tolerance_change``, or ``max_eval`` closure
    calls were made.  The curvature pairs persist across ``step`` calls.

    Args:
        params: the parameters (one group).
        lr: step size (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: first-order optimality tolerance on max|g| (default 1e-7).
        tolerance_change: tolerance on step, loss and slope changes (default 1e-9).
        history_size: pairs (s, y) kept (default 100).
        line_search_fn: None (fixed step) or ``"strong_wolfe"``.

    Example:
        >>> opt = cr.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = F.mse_loss(model(x), y)
        ...     loss.backward()
        ...     return loss
        >>> opt.step(closure)
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn: str | None = None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                      "tolerance_grad": tolerance_grad,
                                      "tolerance_change": tolerance_change,
                                      "history_size": history_size,
                                      "line_search_fn": line_search_fn})

    def _validate(self, group: dict) -> None:
        check(group["lr"] > 0, "lr > 0", f"lr={group['lr']}")
        check(int(group["max_iter"]) >= 1, "max_iter >= 1", f"max_iter={group['max_iter']}")
        check(int(group["max_eval"]) >= 1, "max_eval >= 1", f"max_eval={group['max_eval']}")
        check(int(group["history_size"]) >= 1, "history_size >= 1",
              f"history_size={group['history_size']}")
        check(group["line_search_fn"] in (None, "strong_wolfe"),
              "line_search_fn None or 'strong_wolfe'", f"{group['line_search_fn']!r}")

    def _step(self, closure: Callable):
        """Run up to ``max_iter`` iterations; return the loss of the first closure call."""
        closure, group, state = self._begin(closure, "func_evals", "n_iter")
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history, line_search = group["history_size"], group["line_search_fn"]

        orig_loss, loss, g = self._evaluate(closure)
        evals = 1
        state["func_evals"] += 1
        if max_abs(g) <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        steps, diffs, rhos = state.get("old_stps"), state.get("old_dirs"), state.get("ro")
        gamma = state.get("H_diag")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                steps, diffs, rhos, gamma = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * scalar_for(t, d)
                ys = float(y @ s)
                if ys > 1e-10:  # keep the pair only if it has positive curvature
                    if len(steps) == history:
                        steps.pop(0)
                        diffs.pop(0)
                        rhos.pop(0)
                    steps.append(s)
                    diffs.append(y)
                    rhos.append(1.0 / ys)
                    gamma = ys / float(y @ y)
                d = two_loop(g, steps, diffs, rhos, gamma)
            prev_g = copy_array(g)
            prev_loss = loss
            t = min(1.0, 1.0 / sum_abs(g)) * lr if state["n_iter"] == 1 else lr
            gtd = float(g @ d)
            if gtd > -tol_change:  # not a descent direction any more
                break
            ls_evals = 0
            if line_search is not None:
                x0 = self._get_flat()

                def phi(step, x0=x0, d=d):
                    return self._directional(closure, x0, step, d)

                # as torch: the search may use only the evaluations left in max_eval
                loss, g, t, ls_evals = strong_wolfe(phi, t, d, loss, g, gtd,
                                                    tolerance_change=tol_change,
                                                    max_ls=max_eval - evals)
                self._add(t, d)
                optimal = max_abs(g) <= tol_grad
            else:
                self._add(t, d)
                optimal = False
                if n_iter != max_iter:
                    _, loss, g = self._evaluate(closure)
                    optimal = max_abs(g) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or optimal:
                break
            if max_abs(d * scalar_for(t, d)) <= tol_change or abs(loss - prev_loss) < tol_change:
                break

        # flat_grad: the last gradient evaluated (at the final point when a line
        # search ran); not in torch's state, read by the estimators' convergence test
        state.update(d=d, t=t, old_stps=steps, old_dirs=diffs, ro=rhos, H_diag=gamma,
                     prev_flat_grad=prev_g, prev_loss=prev_loss, flat_grad=g)
        return orig_loss
