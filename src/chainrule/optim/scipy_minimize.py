"""Quasi-Newton minimisation by SciPy, driven by a chainrule closure.

``scipy.optimize.minimize`` is the established engine for full-batch
quasi-Newton methods on small problems (L-BFGS-B, BFGS, CG, trust-region
Newton-CG); scikit-learn's ``solver="lbfgs"`` is exactly its L-BFGS-B.
:class:`ScipyMinimize` hands it chainrule's loss and gradient, so a
chainrule model is minimised with the very same algorithm, iteration
counts and stopping rules as scikit-learn's MLPs.  chainrule's own
:class:`~chainrule.optim.LBFGS` (torch.optim.LBFGS's iterates) stays the
book-style implementation; use this one where SciPy's semantics matter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .._backend import device_of, from_host, to_host
from ._closure import ClosureOptimizer

__all__ = ["ScipyMinimize"]


class ScipyMinimize(ClosureOptimizer):
    """Run ``scipy.optimize.minimize`` on the closure's loss from the current parameters.

    One :meth:`step` is one whole minimisation: SciPy calls ``closure()`` (which
    clears the gradients, computes the loss, calls ``backward()`` and returns
    the loss) as often as its method needs, in float64, and the parameters end
    at its answer ``res.x``.

    Args:
        params: the parameters (one group, seen as one vector).
        method: a gradient-based method of ``scipy.optimize.minimize``
            (default ``"L-BFGS-B"``).
        options: its options, e.g. ``{"maxiter": 200, "maxfun": 15000,
            "gtol": 1e-4}`` for L-BFGS-B.

    After a step, ``state[params[0]]`` holds ``n_iter`` (``res.nit``),
    ``func_evals`` (``res.nfev``), ``status`` and ``message`` (0: converged),
    ``fun`` (the final loss) and ``flat_grad`` (its gradient).

    Example:
        >>> opt = ScipyMinimize(model.parameters(), options={"maxiter": 100})
        >>> opt.step(closure)
    """

    def __init__(self, params: Iterable, method: str = "L-BFGS-B",
                 options: dict | None = None):
        super().__init__(params, {"method": method, "options": dict(options or {})})

    def _validate(self, group: dict) -> None:
        if not isinstance(group["method"], str):
            raise TypeError(f"Expected method to be a str. Received: {group['method']!r}")
        if not isinstance(group["options"], dict):
            raise TypeError(f"Expected options to be a dict. Received: {group['options']!r}")

    def step(self, closure: Callable | None = None):
        """Minimise; returns the loss at the final parameters (as a float)."""
        closure, group, state = self._begin(closure)
        try:
            from scipy.optimize import minimize
        except ImportError:  # pragma: no cover - scipy comes with scikit-learn
            raise ImportError(
                'ScipyMinimize needs SciPy: pip install scipy (or "chainrule[data]")'
            ) from None

        # SciPy works on the host: θ and g cross the boundary at each evaluation
        xp = self._xp()
        device = device_of(self._params[0].data)

        def fun(x):
            self._set_flat(from_host(x, xp, device))
            _, f, g = self._evaluate(closure)
            return f, to_host(g).astype(np.float64)

        x0 = to_host(self._get_flat()).astype(np.float64)
        res = minimize(fun, x0, jac=True, method=group["method"], options=group["options"])
        self._set_flat(from_host(np.asarray(res.x), xp, device))
        state.update(n_iter=int(res.nit), func_evals=int(res.nfev), status=int(res.status),
                     message=str(res.message), fun=float(res.fun),
                     flat_grad=np.asarray(res.jac, dtype=np.float64))
        return float(res.fun)
