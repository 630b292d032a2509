"""BFGS (book §8.6.3): a dense inverse-Hessian estimate built from gradient differences."""

from __future__ import annotations

from collections.abc import Callable

from .._backend import device_of, namespace_of
from ._closure import ClosureOptimizer, check, copy_array, max_abs, n_of, scalar_for, sum_abs
from ._search import converged, take_step


def _outer(xp, a, b):
    """The outer product a bᵀ of two vectors (NumPy's ``outer``, in the standard)."""
    return xp.reshape(a, (-1, 1)) * xp.reshape(b, (1, -1))

__all__ = ["BFGS"]


class BFGS(ClosureOptimizer):
    """Broyden–Fletcher–Goldfarb–Shanno with a dense inverse Hessian M (small models).

    Each iteration (book eq. 8.32-8.33; Nocedal & Wright eq. 6.17):

        d = -M g,   θ ← θ + t d   (t by a strong-Wolfe line search)
        s = Δθ, y = Δg, ρ = 1 / yᵀs
        M ← (I - ρ s yᵀ) M (I - ρ y sᵀ) + ρ s sᵀ      (skipped unless yᵀs > 1e-10)

    M starts as the identity; before the first update it is rescaled to
    (yᵀs / yᵀy) I (N&W eq. 6.20), and the very first step is
    min(1, 1/‖g‖₁)·lr as in L-BFGS.  Memory is n² for n parameters: use
    :class:`LBFGS` beyond a few thousand.  On a quadratic with exact line
    searches it ends in at most n iterations (M is then the inverse Hessian).

    Args:
        params: the parameters (one group).
        lr: the trial step of each line search (default 1).
        max_iter: iterations per ``step`` call (default 20).
        tolerance_grad, tolerance_change: stopping tests as :class:`LBFGS`.
        line_search_fn: "strong_wolfe" (default) or None (fixed step ``lr``).
        c1, c2: the strong Wolfe constants (default 1e-4, 0.9).
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 line_search_fn: str | None = "strong_wolfe", c1: float = 1e-4,
                 c2: float = 0.9):
        super().__init__(params, {"lr": lr, "max_iter": max_iter,
                                  "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "line_search_fn": line_search_fn, "c1": c1, "c2": c2})

    def _validate(self, group: dict) -> None:
        check(group["lr"] > 0, "lr > 0", f"lr={group['lr']}")
        check(int(group["max_iter"]) >= 1, "max_iter >= 1", f"max_iter={group['max_iter']}")
        check(0 < group["c1"] < group["c2"] < 1, "0 < c1 < c2 < 1",
              f"c1={group['c1']}, c2={group['c2']}")
        check(group["line_search_fn"] in (None, "strong_wolfe"),
              "line_search_fn None or 'strong_wolfe'", f"{group['line_search_fn']!r}")
        n = sum(n_of(p.data) for p in group["params"])
        check(n <= 20000, "at most 20000 parameters (a dense n×n matrix; use LBFGS)",
              f"{n} parameters")

    def _step(self, closure: Callable):
        """Run up to ``max_iter`` BFGS iterations; return the first closure call's loss."""
        closure, group, state = self._begin(closure, "n_iter", "func_evals")
        orig, f, g = self._evaluate(closure)
        state["func_evals"] += 1
        if max_abs(g) <= group["tolerance_grad"]:
            return orig
        xp = namespace_of(g)
        m = state.get("inverse_hessian")
        if m is None:
            m = xp.eye(n_of(g), dtype=g.dtype, device=device_of(g))
        else:  # updated in place below: the state's matrix stays until the step succeeds
            m = copy_array(m)
        for _ in range(int(group["max_iter"])):
            state["n_iter"] += 1
            d = -(m @ g)
            gtd = float(g @ d)
            if gtd > -group["tolerance_change"]:
                m = xp.eye(n_of(g), dtype=g.dtype, device=device_of(g))  # lost descent
                d = -g
                gtd = float(g @ d)
            first = state["n_iter"] == 1
            t = min(1.0, 1.0 / sum_abs(g)) * group["lr"] if first else group["lr"]
            f_new, g_new, t, evals = take_step(self, closure, d, t, f, g, gtd, group)
            state["func_evals"] += evals
            s, y = scalar_for(t, d) * d, g_new - g
            ys = float(y @ s)
            if ys > 1e-10:
                if first:
                    m *= ys / float(y @ y)
                rho = 1.0 / ys
                my = m @ y
                # (I - ρ s yᵀ) M (I - ρ y sᵀ) + ρ s sᵀ, expanded (M symmetric)
                m += (rho * rho * float(y @ my) + rho) * _outer(xp, s, s)
                m -= rho * (_outer(xp, my, s) + _outer(xp, s, my))
            stop = converged(g_new, t, d, f_new, f, group)
            f, g = f_new, g_new
            if stop:
                break
        state["inverse_hessian"] = m
        return orig
