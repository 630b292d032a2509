"""A small base for optimisers that re-evaluate the loss: one flat vector, step(closure).

The second-order and line-search methods of §8.6 (L-BFGS, BFGS, nonlinear
conjugate gradients, Newton) see all parameters as one vector θ and call a
``closure`` that recomputes the loss and its gradient, as torch.optim.LBFGS.
This base gives them that view and nothing else: it gathers the parameters'
gradients into one float vector, adds ``t · d`` to the parameters in place
(``p.data`` is updated, never rebound), and saves/restores θ for line
searches.  A step never leaves non-finite values in the parameters: a
NaN or infinite loss or gradient met by any closure call of the step (or
a non-finite result) raises :class:`NonFiniteStepError` with the
parameters and the state put back as they were before the step.  It subclasses :class:`Optimizer` for ``isinstance`` checks only
and keeps its own groups and state (so it does not depend on the flat
buffers of the first-order optimisers); ``state_dict`` copies everything.

The flat vectors live in the parameters' namespace and on their device
(looked up from the first parameter at each use, a cached dict lookup),
and the methods use only standard functions on them (:func:`max_abs`,
:func:`sum_abs`, :func:`copy_array`, ``@``), so they run on any array-API
namespace; the few scalars they decide with (slopes, norms) come back to
the host as Python floats or 0-d values of the namespace.  :class:`ScipyMinimize` converts at the host
boundary instead.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Callable, Iterable

from .._backend import device_of, namespace_of
from ..autograd.engine import Tensor, enable_grad
from ._errors import NonFiniteStepError
from .optimizer import Optimizer

__all__ = ["ClosureOptimizer"]


def n_of(a) -> int:
    """The number of elements of array ``a`` (torch's ``size`` is a method)."""
    return math.prod(a.shape)


def max_abs(a):
    """max |aᵢ| of a flat vector of any namespace (a 0-d value of its namespace and dtype)."""
    xp = namespace_of(a)
    return xp.max(xp.abs(a))


def sum_abs(a):
    """Σ |aᵢ| of a flat vector of any namespace (a 0-d value of its namespace and dtype)."""
    xp = namespace_of(a)
    return xp.sum(xp.abs(a))


def scalar_for(t, a):
    """Step ``t`` as a factor for array ``a``: NumPy scalars (whose precision
    NumPy honours) stay for NumPy arrays; other namespaces get a Python float."""
    if isinstance(t, (int, float)) or type(t) is type(a) or namespace_of(a) is namespace_of(t):
        return t
    return float(t)


def copy_array(a):
    """A copy of array ``a`` in its own namespace and device."""
    return namespace_of(a).asarray(a, copy=True)


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

    Subclasses implement ``_step(closure)`` (called by :meth:`step`, which
    keeps the parameters and state of a step that meets a non-finite value);
    helpers: :meth:`_evaluate`
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
            if not isinstance(p, Tensor) or not namespace_of(p.data).isdtype(
                p.data.dtype, "real floating"
            ):
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
        self._sizes = [math.prod(p.data.shape) for p in params]
        self._calls = 0  # step() calls, named in errors
        self._guarded = False  # inside step(): closure values are checked

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

    @property
    def _dtype(self):
        """The common dtype of the parameters now (``Module.to(dtype)`` may change it)."""
        return self._xp().result_type(*[p.data.dtype for p in self._params])

    def _xp(self):
        """The namespace of the parameters (of the first; all must share it)."""
        return namespace_of(self._params[0].data)

    def _flat_grad(self):
        """All gradients as one vector (zeros for a parameter without one)."""
        xp = self._xp()
        dtype = self._dtype
        parts = []
        for p in self._params:
            g = p.grad
            if g is None:
                parts.append(xp.zeros(n_of(p.data), dtype=dtype, device=device_of(p.data)))
            else:
                g = g.data if isinstance(g, Tensor) else g
                if type(g) is not type(p.data):
                    g = xp.asarray(g, device=device_of(p.data))
                parts.append(xp.reshape(xp.astype(g, dtype), (-1,)))
        return xp.concat(parts)

    def _get_flat(self):
        xp, dtype = self._xp(), self._dtype
        return xp.concat([xp.astype(xp.reshape(p.data, (-1,)), dtype) for p in self._params])

    def _set_flat(self, flat) -> None:
        xp = self._xp()
        start = 0
        for p, n in zip(self._params, self._sizes):
            p.data[...] = xp.astype(xp.reshape(flat[start:start + n], p.data.shape), p.data.dtype)
            start += n

    def _add(self, t: float, d) -> None:
        """θ ← θ + t d, in place in each parameter's array."""
        xp = self._xp()
        t = scalar_for(t, d)
        start = 0
        for p, n in zip(self._params, self._sizes):
            step = xp.reshape(t * d[start:start + n], p.data.shape)
            p.data += xp.astype(step, p.data.dtype, copy=False)
            start += n

    @staticmethod
    def _call(closure: Callable) -> float:
        with enable_grad():
            loss = closure()
        return loss

    def _evaluate(self, closure: Callable):
        """(closure()'s loss as returned, its float, the flat gradient)."""
        loss = self._call(closure)
        f, g = float(loss), self._flat_grad()
        self._check_finite(f, g)
        return loss, f, g

    # --- non-finite values ---------------------------------------------------
    def step(self, closure: Callable | None = None):
        """One step of the subclass (:meth:`_step`); a step that meets a NaN or
        infinite loss, gradient or parameter raises :class:`NonFiniteStepError`
        and leaves the parameters and the state as they were."""
        closure = self._need_closure(closure, type(self).__name__)
        saved = [copy_array(p.data) for p in self._params]
        state = self.state[self._params[0]]
        # one level deep: lists are appended to in place, arrays are replaced
        before = {k: list(v) if isinstance(v, list) else v for k, v in state.items()}
        self._calls += 1
        self._guarded = True
        try:
            loss = self._step(closure)
            for p in self._params:
                self._check_array(p.data, "the parameters after the step hold")
        except NonFiniteStepError:
            for p, a in zip(self._params, saved):
                p.data[...] = a
            state.clear()
            state.update(before)
            raise
        finally:
            self._guarded = False
        return loss

    def _step(self, closure: Callable):
        """The subclass's step (the parameters already saved by :meth:`step`)."""
        raise NotImplementedError

    def _fail(self, what: str, value: float) -> None:
        name = type(self).__name__
        n_iter = self.state[self._params[0]].get("n_iter")
        where = f"step {self._calls}" + (f", iteration {n_iter}" if n_iter else "")
        raise NonFiniteStepError(
            f"{name}.step ({where}): {what} {value}; the step was not taken (parameters "
            "and optimiser state are as before it). Try a smaller lr or more damping, "
            "or check the data and the loss for extreme values.",
            name, self._calls, value)

    def _check_finite(self, f: float, g) -> None:
        """Raise :class:`NonFiniteStepError` if loss ``f`` or gradient ``g`` is not finite."""
        if not self._guarded:
            return
        if not math.isfinite(f):
            self._fail("the closure returned a non-finite loss", f)
        self._check_array(g, "the closure's gradient holds")

    def _check_array(self, a, what: str) -> None:
        xp = namespace_of(a)
        finite = xp.isfinite(a)
        if not bool(xp.all(finite)):
            bad = xp.reshape(a, (-1,))[xp.reshape(xp.logical_not(finite), (-1,))]
            self._fail(f"{what} {n_of(bad)} non-finite value(s), the first", float(bad[0]))

    def _directional(self, closure: Callable, x, t: float, d):
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
                p.grad = namespace_of(p.data).zeros_like(p.data)

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
