"""Nonlinear conjugate gradients (book §8.6.2): Fletcher–Reeves or Polak–Ribière directions."""

from __future__ import annotations

import math
from collections.abc import Callable

from ._closure import ClosureOptimizer, check, max_abs, n_of, sum_abs
from ._search import converged, take_step

__all__ = ["ConjugateGradient"]


class ConjugateGradient(ClosureOptimizer):
    """Nonlinear conjugate gradients with a strong-Wolfe line search and restarts.

    Each direction is conjugate to the last (book eq. 8.29-8.31):

        d_t = -g_t + β_t d_{t-1}
        β_FR = g_tᵀ g_t / g_{t-1}ᵀ g_{t-1}                    (Fletcher–Reeves)
        β_PR = max(0, g_tᵀ (g_t - g_{t-1}) / g_{t-1}ᵀ g_{t-1})   (Polak–Ribière, "PR+")

    followed by a line search along d_t.  The direction restarts at -g
    every ``restart`` iterations (default: the number of parameters) and
    whenever d_t is not a descent direction.  On a quadratic with exact line
    searches this is linear CG: the minimum in at most n iterations.  The
    trial step is min(1, 1/‖g‖₁)·lr at a (re)start and t_{k-1} g_{k-1}ᵀd_{k-1} /
    g_kᵀd_k afterwards (Nocedal & Wright eq. 3.60).

    Args:
        params: the parameters (one group).
        lr: scale of the first trial step (default 1).
        beta: "PR" (default) or "FR".
        restart: iterations between restarts (None: the number of parameters).
        max_iter: iterations per ``step`` call (default 20).
        tolerance_grad, tolerance_change: stopping tests as :class:`LBFGS`.
        c1, c2: strong Wolfe constants (default 1e-4 and 0.1: CG needs
            nearly exact searches for its directions to stay conjugate).
    """

    def __init__(self, params, lr: float = 1, beta: str = "PR", restart: int | None = None,
                 max_iter: int = 20, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, c1: float = 1e-4, c2: float = 0.1):
        super().__init__(params, {"lr": lr, "beta": beta, "restart": restart,
                                  "max_iter": max_iter, "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "line_search_fn": "strong_wolfe", "c1": c1, "c2": c2})

    def _validate(self, group: dict) -> None:
        check(group["lr"] > 0, "lr > 0", f"lr={group['lr']}")
        check(group["beta"] in ("PR", "FR"), "beta 'PR' or 'FR'", f"beta={group['beta']!r}")
        check(group["restart"] is None or int(group["restart"]) >= 1,
              "restart None or >= 1", f"restart={group['restart']!r}")
        check(int(group["max_iter"]) >= 1, "max_iter >= 1", f"max_iter={group['max_iter']}")
        check(0 < group["c1"] < group["c2"] < 1, "0 < c1 < c2 < 1",
              f"c1={group['c1']}, c2={group['c2']}")

    def _step(self, closure: Callable):
        """Run up to ``max_iter`` CG iterations; return the first closure call's loss."""
        closure, group, state = self._begin(closure, "n_iter", "func_evals")
        orig, f, g = self._evaluate(closure)
        state["func_evals"] += 1
        if max_abs(g) <= group["tolerance_grad"]:
            return orig
        restart = group["restart"] or n_of(g)
        d, prev_g = state.get("d"), state.get("prev_flat_grad")
        prev_slope, t = state.get("prev_slope"), state.get("t")
        since = state.get("since_restart", 0)
        for _ in range(int(group["max_iter"])):
            state["n_iter"] += 1
            fresh = d is None or since >= restart
            if not fresh:
                gg = float(prev_g @ prev_g)
                if group["beta"] == "FR":
                    beta = float(g @ g) / gg
                else:
                    beta = max(0.0, float(g @ (g - prev_g)) / gg)
                d = -g + beta * d
                fresh = float(g @ d) >= 0  # not a descent direction: restart
            if not fresh:
                t = t * prev_slope / float(g @ d)
                fresh = not (0 < t < math.inf)  # the last search made no step: restart
            if fresh:
                d = -g
                since = 0
                t = min(1.0, 1.0 / sum_abs(g)) * group["lr"]
            gtd = float(g @ d)
            f_new, g_new, t, evals = take_step(self, closure, d, t, f, g, gtd, group)
            state["func_evals"] += evals
            since += 1
            prev_g, prev_slope = g, gtd
            stop = converged(g_new, t, d, f_new, f, group)
            f, g = f_new, g_new
            if stop:
                break
        state.update(d=d, prev_flat_grad=prev_g, prev_slope=prev_slope, t=t,
                     since_restart=since)
        return orig
