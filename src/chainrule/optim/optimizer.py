"""The optimiser base class: parameter groups, per-parameter state, state_dict.

Every optimiser here is organised as ``torch.optim``'s:

* ``param_groups`` is a list of dicts: ``'params'`` (a list of tensors) and
  the hyperparameters of that group (``'lr'``, ...), which a scheduler or
  the user may change between steps.
* ``state[p]`` is a dict per parameter with torch.optim's names (``step``,
  ``momentum_buffer``, ``exp_avg``, ``exp_avg_sq``, ``sum``, ...), created
  on the parameter's first step (Adagrad's at construction, as in torch),
  in the parameter's namespace and on its device.
* ``step()`` calls the subclass's ``_update(group, theta, g, state, step)``
  for each parameter that has a gradient.  An update is one elementwise
  kernel (:mod:`chainrule._backend.fused`): the book's formula for one
  element, run as one compiled pass over memory on NumPy arrays (split over
  chainrule's threads), one fused kernel on CuPy, plain array operations
  elsewhere.  It writes ``p.data`` and the state arrays in place, so an
  array taken from ``p.data`` sees every update; the optimiser never
  rebinds a parameter's array and never touches the autograd engine.

Non-finite steps: before anything is written, every gradient of the step is
checked (a sum per gradient; its elements are looked at only when the sum
is not finite).  A NaN or infinite gradient raises :class:`NonFiniteStepError`
naming the optimiser, the step, the parameter and the value; parameters and
state stay as they were.  A finite gradient whose update is not finite (an
overflow, e.g. a huge learning rate) is refused inside the update: the
parameter entries concerned keep their values (their state entries and
every other entry of that parameter, and of those before it, have moved),
and the error is raised after the pass; parameters never hold a value the
step made non-finite.

Subnormal state: a state entry that decays geometrically (momentum, moment
averages) for a parameter whose gradient stays zero sinks into float32's
subnormal range, where every multiply takes a slow path.  So every
:data:`FLUSH_EVERY` steps such entries (``_decaying``) are set to zero;
they cannot move a parameter anyway.  The clock is the parameter's
``step``; torch's SGD keeps no step count, so SGD flushes on the count of
``step()`` calls.

Devices: when a group's parameters have moved (``Module.to``) since its
last step, their state is moved after them before the step.  ``state_dict``
keeps arrays where they live; ``load_state_dict`` puts them on each
parameter's device, so checkpoints (written as host arrays) load anywhere.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np

from .._backend import device_of, from_host, namespace_of, to_host
from .._backend.fused import elementwise, first_nonfinite, maximum, where
from ..autograd.engine import Tensor, enable_grad
from ._errors import NonFiniteStepError

__all__ = ["Optimizer"]

#: Flush subnormal state entries to zero every this many steps.
FLUSH_EVERY = 16


def _check(ok: bool, expected: str, received: str) -> None:
    if not ok:
        raise ValueError(f"Expected {expected}. Received: {received}")


@elementwise(outputs="x", scalars="tiny zero")
def _flush(x, tiny, zero):
    """x, with entries below the smallest normal number in magnitude set to zero."""
    return where(maximum(x, -x) >= tiny, x, zero)


def state_like(p, fill: float = 0.0):
    """A new state array for parameter ``p``: its shape, dtype, namespace and device,
    filled with ``fill``."""
    data = p.data
    xp = namespace_of(data)
    return xp.full(data.shape, fill, dtype=data.dtype, device=device_of(data))


def _copy_onto(value, like):
    """A copy of state array ``value`` in the namespace, dtype and on the device of ``like``."""
    return from_host(np.array(to_host(value), copy=True), namespace_of(like), device_of(like),
                     like.dtype)


def _move(value, like):
    """State array ``value`` in the namespace and on the device of array ``like``."""
    if type(value) is type(like) and device_of(value) == device_of(like):
        return value
    return _copy_onto(value, like)


def _is_array(v) -> bool:
    """Whether a state value is an array (of any namespace), not a count or flag."""
    return hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(
        v, (int, float, np.generic)
    )


class Optimizer:
    """Base class of all optimisers: parameter groups, state, step().

    Args:
        params: an iterable of Tensors, or of dicts each holding
            ``'params'`` and any hyperparameters that override ``defaults``
            for that group.
        defaults: hyperparameters of the subclass and their default values.

    Subclasses define ``_validate(group)``, ``_init_state(group, p, state)``
    (the state of a parameter's first step) and ``_update(group, theta, g,
    state, step)``, which updates the arrays ``theta`` and those of ``state``
    in place (``step`` counts from 1; for optimisers without a ``step``
    state it is 1 on a parameter's first step, the number of ``step()``
    calls after that).
    """

    #: the state array names that decay and are flushed (subclasses set it)
    _decaying: tuple = ()
    #: whether the state holds a ``step`` count (torch's SGD has none)
    _counts_steps: bool = True

    def __init__(self, params: Iterable, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: defaultdict = defaultdict(dict)
        self._where: dict = {}  # group index -> (array type, device) of its last step
        self._calls = 0  # step() calls: the flush clock of optimisers without 'step'
        if isinstance(params, Tensor):
            raise TypeError(
                "Expected params to be an iterable of Tensors or of dicts. "
                "Received: a single Tensor (wrap it in a list)"
            )
        groups = list(params)
        if not groups:
            raise ValueError("Expected a non-empty list of parameters. Received: []")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # --- groups -------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group (e.g. layers unfrozen later), keeping existing state."""
        if not isinstance(param_group, dict):
            raise TypeError(
                "Expected every parameter group to be a dict. "
                f"Received: {type(param_group).__name__}"
            )
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        if params is None:
            raise TypeError("Expected a parameter group with a 'params' entry. Received: none")
        params = list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"Expected parameters to be Tensors. Received: {type(p).__name__}")
            if not namespace_of(p.data).isdtype(p.data.dtype, "real floating"):
                raise TypeError(
                    f"Expected floating-point parameters. Received: dtype={p.data.dtype}"
                )
            if id(p) in seen:
                raise ValueError(
                    "Expected each parameter in at most one group. "
                    f"Received: a parameter of shape {p.shape} twice"
                )
            seen.add(id(p))
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict) -> None:
        lr = group.get("lr")
        _check(
            isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr >= 0,
            "lr >= 0",
            f"lr={lr}",
        )
        wd = group.get("weight_decay", 0.0)
        _check(wd >= 0, "weight_decay >= 0", f"weight_decay={wd}")

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        """Fill a parameter's empty state before its first step."""

    def _all_params(self) -> list:
        return [p for g in self.param_groups for p in g["params"]]

    # --- the step -----------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (default) or to zero."""
        for p in self._all_params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; return closure()'s loss.

        A parameter whose ``grad`` is None is skipped (its state and step
        count stay as they are), as in torch.optim.  A non-finite gradient
        raises :class:`NonFiniteStepError` before anything is written.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        work = self._gradients()
        self._calls += 1
        later = max(2, self._calls)
        update = self._update
        for group, p, g in work:
            state = self.state[p]
            fresh = not state
            if fresh:
                self._init_state(group, p, state)
            if self._counts_steps:
                state["step"] += 1
                step = state["step"]
            else:
                step = 1 if fresh else later
            try:
                update(group, p.data, g, state, step)
            except FloatingPointError as exc:
                raise self._refused(p, getattr(exc, "output", "?"),
                                    getattr(exc, "index", -1), getattr(exc, "value", math.nan),
                                    "its update") from None
            if step % FLUSH_EVERY == 0:
                for k in self._decaying:
                    if k in state:
                        a = state[k]
                        _flush(a, float(namespace_of(a).finfo(a.dtype).smallest_normal), 0.0)
        return loss

    def _gradients(self) -> list:
        """``(group, p, g)`` for each parameter with a gradient, the gradient made to
        match ``p.data``, after checking every gradient is finite (nothing written yet)."""
        work = []
        for index, group in enumerate(self.param_groups):
            params = group["params"]
            if not params:
                continue
            data = params[0].data
            place = (type(data), device_of(data))
            if self._where.get(index) != place:
                self._follow(group)
                self._where[index] = place
            for p in params:
                g = p.grad
                if g is None:
                    continue
                theta = p.data
                if type(g) is not type(theta) or g.shape != theta.shape or g.dtype != theta.dtype:
                    g = self._as_grad(p, g)
                work.append((group, p, g))
        bad = first_nonfinite([g for _, _, g in work])
        if bad is not None:
            k, index, value = bad
            raise self._refused(work[k][1], "gradient", index, value, "its gradient", 1)
        return work

    def _refused(self, p, what, index, value, where_, ahead=0) -> NonFiniteStepError:
        """The error of a refused step: optimiser, step, parameter and value named."""
        params = self._all_params()
        number = next((i for i, q in enumerate(params) if q is p), -1)
        kept = ("parameters and state are unchanged" if ahead else
                "the entries concerned kept their values")
        return NonFiniteStepError(
            f"{type(self).__name__} step {self._calls + ahead}: parameter {number} "
            f"(shape {tuple(p.data.shape)}) would take a non-finite step: {where_} holds "
            f"{value} ({what}, flat index {index}); {kept}. Lower the learning rate "
            "or check the loss",
            optimizer=type(self).__name__, step=self._calls + ahead, value=float(value),
        )

    def _follow(self, group: dict) -> None:
        """Move the group's state to where its parameters now are (after ``Module.to``)."""
        for p in group["params"]:
            st = self.state.get(p)
            if not st:
                continue
            for k, v in st.items():
                if _is_array(v):
                    st[k] = _move(v, p.data)

    @staticmethod
    def _as_grad(p: Tensor, g):
        """``g`` as an array like ``p.data``: its namespace, device, dtype and shape."""
        theta = p.data
        if isinstance(g, Tensor):
            g = g.data
        if type(g) is not type(theta) or device_of(g) != device_of(theta):
            g = _move(g, theta)
        xp = namespace_of(theta)
        if g.dtype != theta.dtype:
            g = xp.astype(g, theta.dtype)
        if math.prod(g.shape) != math.prod(theta.shape):
            raise ValueError(
                f"Expected a gradient of shape {theta.shape} (the parameter's). "
                f"Received: shape {g.shape}"
            )
        return xp.reshape(g, theta.shape)

    def _update(self, group: dict, theta, g, state: dict, step: int) -> None:
        raise NotImplementedError

    # --- saving and resuming ------------------------------------------------
    def state_dict(self) -> dict:
        """Copies of all state and hyperparameters; parameters by index.

        State arrays stay in their namespace and on their device (a
        checkpoint converts them to host arrays as it writes them);
        :meth:`load_state_dict` puts them back on any device.

        The layout is torch.optim's: ``{'state': {index: {name: value}},
        'param_groups': [{..., 'params': [indices]}]}``, indices counting
        parameters across groups in order; parameters that have no state
        yet (no step taken) have no entry.
        """
        params = self._all_params()
        state = {}
        for i, p in enumerate(params):
            st = self.state.get(p)
            if st:
                state[i] = {
                    k: (namespace_of(v).asarray(v, copy=True) if _is_array(v) else v)
                    for k, v in st.items()
                }
        groups = []
        start = 0
        for g in self.param_groups:
            entry = {k: v for k, v in g.items() if k != "params"}
            entry["params"] = list(range(start, start + len(g["params"])))
            start += len(g["params"])
            groups.append(entry)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict`.

        The arrays (host arrays, or arrays of any namespace and device) are
        copied onto each parameter's namespace and device, so the next steps
        are exactly those that never stopping would have given.
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"Expected a state_dict with {len(self.param_groups)} parameter groups. "
                f"Received: {len(groups)}"
            )
        for mine, saved in zip(self.param_groups, groups):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(
                    f"Expected a group of {len(mine['params'])} parameters. "
                    f"Received: {len(saved['params'])}"
                )
        params = self._all_params()
        new_state: defaultdict = defaultdict(dict)
        for i, st in state_dict["state"].items():
            p = params[int(i)]
            mine = {}
            for k, v in st.items():
                if _is_array(v):
                    if tuple(v.shape) != tuple(p.data.shape):
                        raise ValueError(
                            f"Expected state '{k}' of shape {p.data.shape}. "
                            f"Received: shape {v.shape}"
                        )
                    mine[k] = _copy_onto(v, p.data)
                else:
                    mine[k] = v
            new_state[p] = mine
        for mine, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = tuple(v) if isinstance(v, list) and k == "betas" else v
        self.state = new_state
        self._where = {}

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)
        self.__dict__.setdefault("_where", {})

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
