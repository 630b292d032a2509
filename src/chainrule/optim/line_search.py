"""Line searches for the §8.6 methods: the strong-Wolfe search with cubic interpolation.

Along a descent direction d from θ, with φ(t) = J(θ + t d) and φ'(t) =
∇J(θ + t d)ᵀ d, a step t satisfies the *strong Wolfe conditions* when

    φ(t) ≤ φ(0) + c₁ t φ'(0)        (sufficient decrease)
    |φ'(t)| ≤ c₂ |φ'(0)|            (curvature: the slope has flattened)

(Nocedal & Wright, *Numerical Optimization*, alg. 3.5 and 3.6).  The search
first grows t until the interval [t_prev, t] brackets such a point, then
"zooms" into the bracket, each trial point the minimiser of the cubic that
matches φ and φ' at both ends.  The details (safeguards, the 0.1 minimum
progress, the bracket bookkeeping) follow torch.optim.LBFGS so that its
iterates are reproduced.
"""

from __future__ import annotations

import math

from ._closure import max_abs

__all__ = ["cubic_interpolate", "strong_wolfe"]


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2).

    Clipped to ``bounds`` (default: the interval between x1 and x2); the
    interval's midpoint when the cubic has no real minimiser.
    """
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    if x1 == x2:  # a degenerate bracket (a zero step): nothing to fit
        return (lo + hi) / 2.0
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def strong_wolfe(phi, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Search a step t along d meeting the strong Wolfe conditions.

    Args:
        phi: ``phi(t) -> (loss, flat gradient)`` at θ + t d (θ left unchanged).
        t: the first trial step.
        d: the direction (a flat array); ``gtd = gᵀ d`` must be negative.
        f, g: loss and gradient at t = 0.
        c1, c2: the sufficient-decrease and curvature constants (0 < c1 < c2 < 1).
        tolerance_change: stop zooming when the bracket is this short (scaled by max|d|).
        max_ls: the most evaluations of ``phi`` after the first (with 0 the
            step is t if it lowers the loss, else 0, as torch).

    Returns:
        ``(loss, gradient, t, evaluations)`` at the accepted step.
    """
    d_norm = float(max_abs(d))
    f_new, g_new = phi(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = None
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = [[t, f_new, g_new, gtd_new]]
            done = True
            break
        if gtd_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        # extrapolate: a cubic step, at least 1% beyond t and at most 10 t
        step = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                 bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = step
        f_new, g_new = phi(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [[0.0, f, g, gtd], [t, f_new, g_new, gtd_new]]

    # zoom: shrink the bracket until the strong Wolfe conditions hold
    insufficient = False
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    while not done and ls_iter < max_ls:
        (a, fa, _, ga), (b, fb, _, gb) = bracket
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(a, fa, ga, b, fb, gb)
        top, bottom = max(a, b), min(a, b)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            # too close to an end: only allowed once in a row, else move in by eps
            if insufficient or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = phi(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new, gtd_new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = [t, f_new, g_new, gtd_new]
    t, f_new, g_new, _ = bracket[low] if len(bracket) > 1 else bracket[0]
    return f_new, g_new, t, evals
