"""The step-size choice shared by the §8.6 methods: a fixed step or a strong-Wolfe search."""

from __future__ import annotations

from ._closure import max_abs, scalar_for
from .line_search import strong_wolfe

__all__ = ["take_step"]


def take_step(opt, closure, d, t, f, g, gtd, group):
    """Move the parameters of ``opt`` along ``d``; return (loss, gradient, t, evaluations).

    With ``group["line_search_fn"] == "strong_wolfe"`` the step is searched
    from the trial ``t`` (constants ``c1``, ``c2`` of the group); otherwise
    θ ← θ + t d and the closure is evaluated once at the new point.
    """
    if group.get("line_search_fn") == "strong_wolfe":
        x0 = opt._get_flat()

        def phi(step):
            return opt._directional(closure, x0, step, d)

        f, g, t, evals = strong_wolfe(phi, t, d, f, g, gtd, c1=group["c1"], c2=group["c2"],
                                      tolerance_change=group["tolerance_change"])
        opt._add(t, d)
        return f, g, t, evals
    opt._add(t, d)
    _, f, g = opt._evaluate(closure)
    return f, g, t, 1


def converged(g, t, d, f, f_prev, group) -> bool:
    """torch.optim.LBFGS's stopping tests: small gradient, step or loss change."""
    return bool(max_abs(g) <= group["tolerance_grad"]
                or max_abs(scalar_for(t, d) * d) <= group["tolerance_change"]
                or abs(f - f_prev) < group["tolerance_change"])
