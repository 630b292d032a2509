"""Damped Newton's method, Hessian-free (book §8.6.1): CG on Hessian-vector products."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._backend import device_of, namespace_of
from ..autograd.engine import Tensor, enable_grad, grad
from ._closure import ClosureOptimizer, check, copy_array, max_abs, n_of
from ._search import converged, take_step

__all__ = ["Newton", "cg_solve"]


def cg_solve(matvec, b, max_iter: int, tol: float):
    """Solve A x = b for symmetric A by linear conjugate gradients (A given as ``matvec``).

    Stops when ‖r‖ ≤ tol ‖b‖, after ``max_iter`` products, or at a direction
    of non-positive curvature pᵀAp ≤ 0 (the Hessian is not positive
    definite there: "truncated Newton" keeps the solution so far, or b itself
    at the first iteration, a steepest-descent step).  In exact arithmetic
    it ends in at most n iterations.

    Returns:
        (x, iterations)
    """
    x = namespace_of(b).zeros_like(b)
    r = copy_array(b)
    p = copy_array(r)
    rr = float(r @ r)
    stop = tol * np.sqrt(rr)
    for k in range(max_iter):
        if np.sqrt(rr) <= stop:
            return x, k
        ap = matvec(p)
        curvature = float(p @ ap)
        if curvature <= 0:
            return (copy_array(b) if k == 0 else x), k
        alpha = rr / curvature
        x += alpha * p
        r -= alpha * ap
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, max_iter


class Newton(ClosureOptimizer):
    """Newton's method with damping; the Hessian is never formed ("Hessian-free").

    Each iteration solves the damped Newton system (book eq. 8.27 with the
    Levenberg–Marquardt damping λ I of §8.6.1)

        (H + λ I) p = -g

    by conjugate gradients (:func:`cg_solve`) on Hessian-vector products
    H v = ∇(∇J · v) (two backward passes, ``create_graph``), then steps
    θ ← θ + t p with t = ``lr`` or a strong-Wolfe line search.  On a
    quadratic J with λ = 0 and t = 1 one iteration reaches the minimum.
    Where H is not positive definite CG stops at the first direction of
    negative curvature (falling back to -g at the start).

    The closure must return the loss *Tensor* (its graph is differentiated
    twice) and, as for :class:`LBFGS`, clear the gradients and call
    ``backward()``.

    Args:
        params: the parameters (one group; small models).
        lr: the step (default 1), or the line search's first trial.
        damping: λ ≥ 0 (default 1e-4).
        max_iter: Newton iterations per ``step`` call (default 20).
        cg_max_iter: CG iterations per solve (default: the number of parameters).
        cg_tol: relative residual at which CG stops (default 1e-10).
        tolerance_grad, tolerance_change: stopping tests as :class:`LBFGS`.
        line_search_fn: None (default) or "strong_wolfe".
        c1, c2: strong Wolfe constants (default 1e-4, 0.9).
    """

    def __init__(self, params, lr: float = 1, damping: float = 1e-4, max_iter: int = 20,
                 cg_max_iter: int | None = None, cg_tol: float = 1e-10,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 line_search_fn: str | None = None, c1: float = 1e-4, c2: float = 0.9):
        super().__init__(params, {"lr": lr, "damping": damping, "max_iter": max_iter,
                                  "cg_max_iter": cg_max_iter, "cg_tol": cg_tol,
                                  "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "line_search_fn": line_search_fn, "c1": c1, "c2": c2})

    def _validate(self, group: dict) -> None:
        check(group["lr"] > 0, "lr > 0", f"lr={group['lr']}")
        check(group["damping"] >= 0, "damping >= 0", f"damping={group['damping']}")
        check(int(group["max_iter"]) >= 1, "max_iter >= 1", f"max_iter={group['max_iter']}")
        check(group["line_search_fn"] in (None, "strong_wolfe"),
              "line_search_fn None or 'strong_wolfe'", f"{group['line_search_fn']!r}")
        check(0 < group["c1"] < group["c2"] < 1, "0 < c1 < c2 < 1",
              f"c1={group['c1']}, c2={group['c2']}")

    def _split(self, v) -> list:
        xp = namespace_of(v)
        out, start = [], 0
        for p, n in zip(self._params, self._sizes):
            out.append(xp.astype(xp.reshape(v[start:start + n], p.data.shape), p.data.dtype))
            start += n
        return out

    def _flat(self, parts):
        """The Tensors' arrays as one flat vector (zeros where a part is None)."""
        xp = self._xp()
        return xp.concat([
            xp.zeros(n_of(p.data), dtype=self._dtype, device=device_of(p.data)) if h is None
            else xp.astype(xp.reshape(h.data, (-1,)), self._dtype)
            for h, p in zip(parts, self._params)])

    def _gradient_graph(self, closure):
        """(loss, its float, the recorded gradient Tensors, the flat gradient)."""
        with enable_grad():
            loss = closure()
            if not isinstance(loss, Tensor) or not loss.requires_grad:
                raise TypeError(
                    "Expected the closure to return the loss Tensor with its graph "
                    f"(Newton differentiates it twice). Received: {type(loss).__name__}"
                )
            gs = grad(loss, self._params, create_graph=True, allow_unused=True)
        f, g = float(loss.data), self._flat(gs)
        self._check_finite(f, g)
        return loss, f, gs, g

    def _hvp(self, gs, v):
        used = [(gi, vi) for gi, vi in zip(gs, self._split(v))
                if gi is not None and gi.requires_grad]
        if not used:
            return namespace_of(v).zeros_like(v)
        with enable_grad():
            hv = grad([gi for gi, _ in used], self._params, [vi for _, vi in used],
                      allow_unused=True)
        return self._flat(hv)

    def _step(self, closure: Callable):
        """Run up to ``max_iter`` Newton iterations; return the first closure call's loss."""
        closure, group, state = self._begin(closure, "n_iter", "func_evals", "hvp_evals")
        lam = float(group["damping"])
        cg_max = int(group["cg_max_iter"] or self.numel)
        orig = None
        for _ in range(int(group["max_iter"])):
            loss, f, gs, g = self._gradient_graph(closure)
            state["func_evals"] += 1
            orig = loss if orig is None else orig
            if max_abs(g) <= group["tolerance_grad"]:
                break
            state["n_iter"] += 1

            def matvec(v, gs=gs):
                state["hvp_evals"] += 1
                return self._hvp(gs, v) + lam * v

            d, _ = cg_solve(matvec, -g, cg_max, group["cg_tol"])
            gtd = float(g @ d)
            if gtd >= 0:  # not a descent direction (numerical trouble): steepest descent
                d, gtd = -g, -float(g @ g)
            f_new, g_new, t, evals = take_step(self, closure, d, group["lr"], f, g, gtd, group)
            state["func_evals"] += evals
            if converged(g_new, t, d, f_new, f, group):
                break
        return orig
