"""A small base for optimisers that re-evaluate the loss: one flat vector, step(closure).

The second-order and line-search methods of §8.6 (L-BFGS, BFGS, nonlinear
conjugate gradients, Newton) see all parameters as one vector θ and call a
``closure`` that recomputes the loss and its gradient, as torch.optim.LBFGS.
This base gives them that view and nothing else: it gathers the parameters'
gradients into one float vector, adds ``t · d`` to the parameters in place
(``p.data`` is updated, never rebound), and saves/restores θ for line
searches.  It subclasses :class:`Optimizer` for ``isinstance`` checks only
and keeps its own groups and state (so it does not depend on the flat
buffers of the first-order optimisers); ``state_dict`` copies everything.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np

from ..autograd.engine import Tensor, enable_grad
from .optimizer import Optimizer

__all__ = ["ClosureOptimizer"]


def check(ok: bool, expected: str, received: str) -> None:
    """Raise ``ValueError("Expected ... Received: ...")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"Expected {expected}. Received: {received}")


class ClosureOptimizer(Optimizer):
    """Base of the closure-driven optimisers: one parameter group seen as one vector.

    Args:
        params: an iterable of Tensors (one group; these methods keep one
            curvature model for all parameters, as torch.optim.LBFGS).
        defaults: the hyperparameters of the subclass.

    Subclasses implement ``step(closure)``; helpers: :meth:`_evaluate`
    (loss and flat gradient at the current θ), :meth:`_add` (θ += t d),
    :meth:`_get_flat` / :meth:`_set_flat`, :meth:`_directional` (loss and
    gradient at θ + t d, θ restored).
    """

    #: the Trainer passes a closure to step() (it re-evaluates the loss)
    needs_closure = True

    def __init__(self, params: Iterable, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError(
                "Expected params to be an iterable of Tensors. "
                "Received: a single Tensor (wrap it in a list)"
            )
        params = list(params)
        if params and isinstance(params[0], dict):
            if len(params) != 1:
                raise ValueError(
                    f"Expected one parameter group ({type(self).__name__} keeps one model "
                    f"of all parameters). Received: {len(params)} groups"
                )
            group = dict(params[0])
            params = list(group.pop("params"))
        else:
            group = {}
        check(len(params) > 0, "a non-empty list of parameters", "[]")
        for p in params:
            if not isinstance(p, Tensor) or p.data.dtype.kind != "f":
                raise TypeError(
                    "Expected floating-point Tensors as parameters. "
                    f"Received: {type(p).__name__}"
                )
        self.defaults = dict(defaults)
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        group["params"] = params
        self._validate(group)
        self.param_groups = [group]
        self.state = defaultdict(dict)
        self._params = params
        self._sizes = [p.data.size for p in params]
        self._dtype = np.result_type(*[p.data.dtype for p in params])

    def _validate(self, group: dict) -> None:
        """Check the group's hyperparameters (subclasses extend)."""

    def add_param_group(self, param_group: dict) -> None:
        raise ValueError(
            f"{type(self).__name__} keeps one parameter group. "
            "Received: a call to add_param_group"
        )

    # --- the flat view -------------------------------------------------------
    @property
    def numel(self) -> int:
        return sum(self._sizes)

    def _flat_grad(self) -> np.ndarray:
        """All gradients as one vector (zeros for a parameter without one)."""
        parts = []
        for p in self._params:
            g = p.grad
            if g is None:
                parts.append(np.zeros(p.data.size, dtype=self._dtype))
            else:
                g = g.data if isinstance(g, Tensor) else g
                parts.append(np.asarray(g, dtype=self._dtype).reshape(-1))
        return np.concatenate(parts)

    def _get_flat(self) -> np.ndarray:
        return np.concatenate([p.data.reshape(-1).astype(self._dtype) for p in self._params])

    def _set_flat(self, flat: np.ndarray) -> None:
        start = 0
        for p, n in zip(self._params, self._sizes):
            p.data[...] = flat[start:start + n].reshape(p.data.shape)
            start += n

    def _add(self, t: float, d: np.ndarray) -> None:
        """θ ← θ + t d, in place in each parameter's array."""
        start = 0
        for p, n in zip(self._params, self._sizes):
            step = (t * d[start:start + n]).reshape(p.data.shape)
            p.data += step.astype(p.data.dtype, copy=False)
            start += n

    @staticmethod
    def _call(closure: Callable) -> float:
        with enable_grad():
            loss = closure()
        return loss

    def _evaluate(self, closure: Callable):
        """(closure()'s loss as returned, its float, the flat gradient)."""
        loss = self._call(closure)
        return loss, float(loss), self._flat_grad()

    def _directional(self, closure: Callable, x: np.ndarray, t: float, d: np.ndarray):
        """Loss and flat gradient at x + t d; the parameters are set back to x."""
        self._add(t, d)
        _, f, g = self._evaluate(closure)
        self._set_flat(x)
        return f, g

    def _begin(self, closure, *counters: str):
        """The checked closure, the one group and the shared state of a step.

        The state (kept on the first parameter, as torch.optim.LBFGS does)
        gets each counter in ``counters`` set to 0 on the first step.
        """
        closure = self._need_closure(closure, type(self).__name__)
        state = self.state[self._params[0]]
        for name in counters:
            state.setdefault(name, 0)
        return closure, self.param_groups[0], state

    @staticmethod
    def _need_closure(closure, name) -> Callable:
        if closure is None:
            raise RuntimeError(
                f"{name}.step needs a closure that clears the gradients, computes the "
                "loss, calls backward() and returns the loss. Received: closure=None"
            )
        return closure

    # --- state ---------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (default) or to zero."""
        for p in self._params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.data)

    def state_dict(self) -> dict:
        """A deep copy of the state and hyperparameters (torch's layout, params by index)."""
        state = {i: copy.deepcopy(self.state[p]) for i, p in enumerate(self._params)
                 if self.state.get(p)}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        group["params"] = list(range(len(self._params)))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` saved (copied)."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self._params):
            raise ValueError(
                f"Expected a state_dict of one group of {len(self._params)} parameters. "
                f"Received: {[len(g['params']) for g in groups]}"
            )
        self.state = defaultdict(dict)
        for i, st in state_dict["state"].items():
            self.state[self._params[int(i)]] = copy.deepcopy(st)
        for k, v in groups[0].items():
            if k != "params":
                self.param_groups[0][k] = v

    def __repr__(self) -> str:
        g = self.param_groups[0]
        body = "\n".join(f"    {k}: {g[k]}" for k in sorted(g) if k != "params")
        return f"{type(self).__name__} (\nParameter Group 0\n{body}\n)"
