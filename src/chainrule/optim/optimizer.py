"""The optimiser base class: parameter groups, per-parameter state, state_dict.

Every optimiser here is organised as ``torch.optim``'s:

* ``param_groups`` is a list of dicts: ``'params'`` (a list of tensors) and
  the hyperparameters of that group (``'lr'``, ...), which a scheduler or
  the user may change between steps.
* ``state[p]`` is a dict per parameter with torch.optim's names (``step``,
  ``momentum_buffer``, ``exp_avg``, ``exp_avg_sq``, ``sum``, ...), created
  on the parameter's first step (Adagrad's at construction, as in torch).
* ``step()`` applies the subclass's update rule, ``_update``, to each
  parameter that has a gradient.  The rule writes into ``p.data`` and the
  state arrays in place (ufuncs with ``out=``), so an array taken from
  ``p.data`` at any time sees every update; the optimiser never rebinds a
  parameter's array and never touches the autograd engine.  Temporaries
  come from a small per-optimiser workspace (two arrays, whose views each
  parameter reuses step after step), not from fresh allocations; state
  and workspace arrays start on 64-byte boundaries, so that SIMD loads do
  not straddle cache lines.

Large parameters (more than :data:`CHUNK` elements) are updated in chunks
of :data:`CHUNK` elements by default: the ~10 elementwise passes of an
update then reuse the L2 cache instead of streaming the whole parameter
through memory each time, and the chunks are shared among chainrule's
threads (:func:`chainrule._threads.run_parallel`; NumPy releases the GIL
inside each ufunc).  Every update is elementwise, so chunking changes no
number: ``chunked=False`` gives exactly the same results (tests compare
the two bit for bit).

Small groups (all their parameters together at most :data:`CHUNK`
elements, as in a small MLP) go the other way by default: one flat array
per state name holds the state of the whole group (each ``state[p]`` entry
is a view of its slice, with torch.optim's names and the parameter's
shape), the gradients are gathered into one flat array, and the update
rule runs once for the group instead of once per parameter, so a step
costs a few ufunc calls rather than a few per parameter.  The parameters'
own arrays are updated in place as before.  Again ``chunked=False`` gives
the same numbers, parameter by parameter.

Subnormal state: a state entry that decays geometrically (momentum,
moment averages) for a parameter whose gradient stays zero, e.g. the
weights of an input pixel that is always blank, sinks into float32's
subnormal range, and every multiply that reads or writes a subnormal
takes a slow microcode path.  So every :data:`FLUSH_EVERY` steps such
entries are set to zero; they cannot move a parameter anyway (ε times
1e-38 is far below the rounding of any parameter not itself that tiny).
The clock is the parameter's ``step``; torch's SGD keeps no step count,
so SGD flushes on the count of ``step()`` calls, which restarts at zero
in an optimiser built anew (after ``load_state_dict`` too): only entries
below float32's smallest normal number can differ.

Devices: a parameter's state lives in its array's namespace and on its
device (``state_like``).  Each group's step is the kernel
``"optim_step_group"`` of the namespace of its first parameter (looked up
once per group and step, a cached dict lookup): for NumPy, the in-place
``out=`` path above (chunked and flat); for every other namespace, one
fused update kernel per parameter (``"sgd_update"``, ``"adam_update"``,
...): CuPy's are ``ElementwiseKernel``s, the generic ones use only the
array API standard and update ``p.data`` and the state in place.  When a
group's parameters have moved (``Module.to``) since its last step, their
state is moved after them before the step.  ``state_dict`` keeps arrays
where they live; ``load_state_dict`` puts them on each parameter's device,
so checkpoints (written as host arrays) load onto any device.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import ClassVar

import numpy as np

from .._backend import device_of, from_host, namespace_of, to_host
from .._backend.kernels import kernel, register
from .._threads import get_num_threads, run_parallel
from ..autograd.engine import Tensor, enable_grad

__all__ = ["Optimizer"]

#: Elements per chunk of a large parameter: the few float32 arrays one
#: chunk of an update touches should stay in a core's L2 cache between the
#: passes of the update, and each ufunc call should be long enough that two
#: threads rarely wait for each other (chosen by measurement, BENCHMARKS.md).
CHUNK = 1 << 17

#: Flush subnormal state entries to zero every this many steps.
FLUSH_EVERY = 16


def _check(ok: bool, expected: str, received: str) -> None:
    if not ok:
        raise ValueError(f"Expected {expected}. Received: {received}")


def _flush_subnormals(arrays, scratch) -> None:
    """Set the subnormal entries of each array to zero, in place.

    Multiplies by a 0/1 mask (|a| ≥ the smallest normal number): zeros stay
    zero, infinities stay infinite, NaN stays NaN (NaN · 0 is NaN).
    """
    for a in arrays:
        np.abs(a, out=scratch)
        np.greater_equal(scratch, np.finfo(a.dtype).tiny, out=scratch)
        a *= scratch


def _aligned_empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on a 64-byte boundary.

    NumPy's arrays start 16 bytes past one; with every array of an update
    aligned, SIMD loads never straddle cache lines.
    """
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    raw = np.empty(n + 64 // dtype.itemsize, dtype)
    skip = (-raw.ctypes.data % 64) // dtype.itemsize
    return raw[skip : skip + n].reshape(shape)


@register("optim_full", "numpy")
def _full_numpy(xp, shape, dtype, device, fill):
    a = _aligned_empty(shape, dtype)
    a.fill(fill)
    return a


@register("optim_full", "generic")
def _full_generic(xp, shape, dtype, device, fill):
    return xp.full(shape, fill, dtype=dtype, device=device)


def state_like(p, fill: float = 0.0):
    """A new state array for parameter ``p``: its shape, dtype, namespace and device,
    filled with ``fill``."""
    data = p.data
    xp = namespace_of(data)
    return kernel("optim_full", xp)(xp, data.shape, data.dtype, device_of(data), fill)


def _move(value, like):
    """State array ``value`` in the namespace and on the device of array ``like``."""
    xp = namespace_of(like)
    if type(value) is type(like) and device_of(value) == device_of(like):
        return value
    host = to_host(value)
    return kernel("optim_copy", xp)(xp, host, like.dtype, device_of(like))


@register("optim_copy", "numpy")
def _copy_numpy(xp, host, dtype, device):
    a = _aligned_empty(host.shape, dtype)
    a[...] = host
    return a


@register("optim_copy", "generic")
def _copy_generic(xp, host, dtype, device):
    return from_host(np.array(host, copy=True), xp, device, dtype)


@register("optim_flush", "numpy")
def _flush_numpy(xp, arrays, scratch):
    _flush_subnormals(arrays, scratch)


@register("optim_flush", "generic")
def _flush_generic(xp, arrays, scratch):
    for a in arrays:
        tiny = xp.finfo(a.dtype).smallest_normal
        a *= xp.astype(xp.abs(a) >= tiny, a.dtype)


def _is_array(v) -> bool:
    """Whether a state value is an array (of any namespace), not a count or flag."""
    return hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(
        v, (int, float, np.generic)
    )


class _Workspace:
    """Scratch arrays for the updates, reused from step to step.

    An update needs two arrays of its parameter's size for intermediate
    results.  The workspace keeps two 1-D arrays per dtype, grown to the
    largest size asked for, and hands out reshaped views of them.  For the
    chunked path it keeps a small pool of chunk-sized pairs, one per thread
    working at a time.
    """

    def __init__(self):
        self._whole: dict = {}
        self._pool: dict = {}
        self.views: dict = {}  # parameter -> its pair of views, reused every step

    def pair(self, like: np.ndarray) -> tuple:
        """Two scratch arrays of ``like``'s shape and dtype (views)."""
        n = like.size
        bufs = self._whole.get(like.dtype)
        if bufs is None or bufs[0].size < n:
            bufs = (_aligned_empty(n, like.dtype), _aligned_empty(n, like.dtype))
            self._whole[like.dtype] = bufs
            self.views.clear()  # views of the old, smaller arrays
        shape = like.shape
        return bufs[0][:n].reshape(shape), bufs[1][:n].reshape(shape)

    def take(self, dtype, n: int) -> tuple:
        """A pair of at least n elements for one thread; give it back with :meth:`give`."""
        free = self._pool.setdefault(dtype, [])
        try:
            pair = free.pop()  # list.pop is atomic under the GIL
        except IndexError:
            pair = None
        if pair is None or pair[0].size < n:
            pair = (_aligned_empty(n, dtype), _aligned_empty(n, dtype))
        return pair

    def give(self, dtype, pair) -> None:
        self._pool[dtype].append(pair)


class Optimizer:
    """Base class of all optimisers: parameter groups, state, step().

    Args:
        params: an iterable of Tensors, or of dicts each holding
            ``'params'`` and any hyperparameters that override ``defaults``
            for that group.
        defaults: hyperparameters of the subclass and their default values.
        chunked: update parameters larger than :data:`CHUNK` elements in
            cache-sized chunks, shared among threads, and small groups as
            one flat array.  ``None`` (default) and ``True`` do so,
            ``False`` updates each parameter as one array.  The results
            are the same either way.

    Subclasses define ``_validate(group)``, ``_init_state(group, p, state)``
    (the state of a parameter's first step) and ``_update(group, theta, g,
    state, step, scratch)``, which updates the arrays ``theta`` and those of
    ``state`` in place, using the two arrays of ``scratch`` for
    intermediate results.
    """

    #: the state array names that decay and are flushed (subclasses set it)
    _decaying: tuple = ()
    #: whether the state holds a ``step`` count (torch's SGD has none)
    _counts_steps: bool = True
    #: the update kernel of the other namespaces (``_step_device``), and
    #: the keyword arguments it takes besides the common ones
    _kernel: str = ""
    _kernel_options: ClassVar[dict] = {}
    #: whether ``_update`` is elementwise and reads the parameter only for
    #: weight decay, ending with ``theta -= d``: then small groups may be
    #: updated as one flat array (``_step_flat``)
    _elementwise: bool = False

    def __init__(self, params: Iterable, defaults: dict, chunked: bool | None = None):
        if chunked not in (None, True, False):
            raise ValueError(f"Expected chunked to be None, True or False. Received: {chunked!r}")
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: defaultdict = defaultdict(dict)
        self.chunked = chunked
        self._workspace = _Workspace()
        self._flat: dict = {}  # group index -> _FlatGroup
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
        count stay as they are), as in torch.optim.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._calls += 1
        later = max(2, self._calls)
        big = []
        where = self._where
        for index, group in enumerate(self.param_groups):
            params = group["params"]
            if not params:
                continue
            data = params[0].data
            xp = namespace_of(data)
            place = (type(data), device_of(data))
            if where.get(index) != place:
                self._follow(index, group)
                where[index] = place
            kernel("optim_step_group", xp)(xp, self, index, group, later, big)
        if big:
            self._step_chunked(big)
        return loss

    def _follow(self, index: int, group: dict) -> None:
        """Move the group's state to where its parameters now are (after ``Module.to``)."""
        self._flat.pop(index, None)  # its state entries are views of host arrays
        for p in group["params"]:
            st = self.state.get(p)
            if not st:
                continue
            for k, v in st.items():
                if _is_array(v):
                    st[k] = _move(v, p.data)

    def _stepping(self, group: dict, later: int):
        """``(p, θ, g, state, step)`` for each parameter of ``group`` that has a gradient:
        the gradient made to match θ, the state created on first use, the step counted."""
        counts_steps = self._counts_steps
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            theta = p.data
            if type(g) is not type(theta) or g.shape != theta.shape or g.dtype != theta.dtype:
                g = self._as_grad(p, g)
            state = self.state[p]
            fresh = not state
            if fresh:
                self._init_state(group, p, state)
            if counts_steps:
                state["step"] += 1
                step = state["step"]
            else:
                # torch's SGD counts no steps: 1 marks a parameter's
                # first step; later, the number of step() calls (at
                # least 2) times the flush
                step = 1 if fresh else later
            yield p, theta, g, state, step

    def _step_host(self, index: int, group: dict, later: int, big: list) -> None:
        """One group's step on NumPy: flat, chunked or parameter by parameter."""
        may_chunk = self.chunked is not False
        if may_chunk and self._step_flat(index, group, later):
            return
        update = self._update
        for p, theta, g, state, step in self._stepping(group, later):
            if may_chunk and theta.size > CHUNK and _contiguous(theta, state):
                big.append((group, theta, g, state, step))
                continue
            scratch = self._scratch(p, theta)
            update(group, theta, g, state, step, scratch)
            if step % FLUSH_EVERY == 0:
                self._flush(state, scratch[0])

    def _step_device(self, xp, group: dict, later: int) -> None:
        """One group's step on any other namespace: a fused update kernel per parameter.

        The kernel (``self._kernel``, e.g. ``"adam_update"``) is looked up
        once for the group; it updates ``p.data`` and the state in place.
        """
        if not self._kernel:
            raise NotImplementedError(
                f"{type(self).__name__} has an update rule for NumPy arrays only: set its "
                "_kernel to the name of an update kernel with a 'generic' entry to step "
                f"parameters of {getattr(xp, '__name__', xp)}"
            )
        update = kernel(self._kernel, xp)
        options = self._kernel_options
        flush = None
        for _p, theta, g, state, step in self._stepping(group, later):
            update(xp, group, theta, g, state, step, None, **options)
            if step % FLUSH_EVERY == 0:
                if flush is None:
                    flush = kernel("optim_flush", xp)
                flush(xp, [state[k] for k in self._decaying if k in state], None)

    def _step_flat(self, index: int, group: dict, later: int) -> bool:
        """Update a small group as one flat array; False if it does not qualify.

        The group qualifies when the rule is elementwise (``_elementwise``),
        every parameter has a gradient of its own shape and dtype, all share
        one dtype, hold at most :data:`CHUNK` elements together (one chunk's
        worth), and their states are all fresh or all at the same step.  Each
        state array is then a view into one flat array per state name
        (``state[p]`` keeps its names and shapes), the gradients are gathered
        into one flat array, and the rule runs once.  Without weight decay
        the rules read no parameter, so ``theta`` is a :class:`_Descent`,
        which applies the rule's final ``theta -= d`` to each ``p.data``
        through views of ``d``; with weight decay the parameters are gathered
        too and the new values copied back.  Every operation is the
        per-parameter path's on the same numbers, so the results are exactly
        those of that path.
        """
        params = group["params"]
        flat = self._flat.get(index)
        if flat is None or not flat.matches(params):
            flat = self._flat[index] = _FlatGroup.build(params, self._elementwise)
        if flat.rejected:
            return False
        dtype = flat.dtype
        states = self.state
        counts_steps = self._counts_steps
        grads = []
        datas = []
        owned = flat.owned
        ok = len(owned) == flat.count
        for p, shape, own in zip(params, flat.shapes, owned or flat.shapes):
            g = p.grad
            theta = p.data
            if g is None or g.shape != shape or theta.shape != shape or g.dtype != dtype:
                return False
            grads.append(g)
            datas.append(theta)
            if ok:
                st, pairs = own
                if states.get(p) is not st:
                    ok = False
                    continue
                for name, view in pairs:
                    if st.get(name) is not view:
                        ok = False
        first = states.get(params[0])
        fresh = not first
        if ok and counts_steps:  # a step skipped by one parameter splits the clocks
            step = first["step"]
            for st, _ in owned:
                if st["step"] != step:
                    return False
        if fresh or not ok:
            # (re)build the flat state: all fresh, or all at one step
            if fresh:
                if any(states.get(p) for p in params):
                    return False
                for p in params:
                    self._init_state(group, p, states[p])
            elif counts_steps:
                step = first.get("step")
                if any(not states.get(p) or states[p].get("step") != step for p in params):
                    return False
            if not flat.adopt(params, states):
                return False
        st_flat = flat.state
        if counts_steps:
            for p in params:
                states[p]["step"] += 1
            step = st_flat["step"] = states[params[0]]["step"]
        else:
            step = 1 if fresh else later
        g = flat.grad
        np.concatenate(grads, axis=None, out=g)
        if group.get("weight_decay"):
            theta = flat.theta
            np.concatenate(datas, axis=None, out=theta)
            self._update(group, theta, g, st_flat, step, flat.scratch)
            for a, view in zip(datas, flat.theta_views):
                np.copyto(a, view)
        else:
            self._update(group, _Descent(datas, flat), g, st_flat, step, flat.scratch)
        if step % FLUSH_EVERY == 0:
            self._flush(st_flat, flat.scratch[0])
        return True

    def _scratch(self, p: Tensor, theta: np.ndarray) -> tuple:
        """The workspace views that ``p``'s updates use (looked up once per shape)."""
        ws = self._workspace
        views = ws.views.get(p)
        if views is None or views[0].shape != theta.shape or views[0].dtype != theta.dtype:
            views = ws.views[p] = ws.pair(theta)
        return views

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

    def _flush(self, state: dict, scratch) -> None:
        _flush_subnormals([state[k] for k in self._decaying if k in state], scratch)

    def _step_chunked(self, big: list) -> None:
        """Update large parameters chunk by chunk, chunks shared by threads."""
        parts = []
        for group, theta, g, state, step in big:
            flat_theta = theta.reshape(-1)
            flat_g = g.reshape(-1)
            arrays = {k: v.reshape(-1) for k, v in state.items() if isinstance(v, np.ndarray)}
            for lo in range(0, theta.size, CHUNK):
                hi = min(lo + CHUNK, theta.size)
                chunk_state = dict(state)
                for k, v in arrays.items():
                    chunk_state[k] = v[lo:hi]
                parts.append((group, flat_theta[lo:hi], flat_g[lo:hi], chunk_state, step))
        workspace = self._workspace
        update = self._update

        def run(part):
            group, theta, g, state, step = part
            n = theta.size
            pair = workspace.take(theta.dtype, CHUNK)
            try:
                scratch = (pair[0][:n], pair[1][:n])
                update(group, theta, g, state, step, scratch)
                if step % FLUSH_EVERY == 0:
                    self._flush(state, scratch[0])
            finally:
                workspace.give(theta.dtype, pair)

        if get_num_threads() > 1 and len(parts) > 1:
            run_parallel(run, parts)
        else:
            for part in parts:
                run(part)

    def _update(self, group: dict, theta, g, state: dict, step: int, scratch) -> None:
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
        new_state = defaultdict(dict)
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
                    xp = namespace_of(p.data)
                    mine[k] = kernel("optim_copy", xp)(
                        xp, to_host(v), p.data.dtype, device_of(p.data)
                    )
                else:
                    mine[k] = v
            new_state[p] = mine
        for mine, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = tuple(v) if isinstance(v, list) and k == "betas" else v
        self.state = new_state
        self._where = {}

    def __getstate__(self) -> dict:
        # a copy (pickle, copy.deepcopy) gets independent state arrays, no
        # longer views of the flat arrays: it rebuilds those on its next step
        d = self.__dict__.copy()
        d["_flat"] = {}
        return d

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


@register("optim_step_group", "numpy")
def _step_group_numpy(xp, opt, index, group, later, big):
    opt._step_host(index, group, later, big)


@register("optim_step_group", "generic")
def _step_group_generic(xp, opt, index, group, later, big):
    opt._step_device(xp, group, later)


def _contiguous(theta: np.ndarray, state: dict) -> bool:
    """True if the parameter and its state arrays can be cut into flat chunks."""
    if not theta.flags.c_contiguous:
        return False
    return all(v.flags.c_contiguous for v in state.values() if isinstance(v, np.ndarray))


class _FlatGroup:
    """The flat arrays of a small parameter group (see ``Optimizer._step_flat``).

    ``state`` maps each state name to one flat array, whose slices (reshaped)
    are the entries of the parameters' ``state[p]``; ``theta`` and ``grad``
    are flat scratch arrays the parameters and gradients are gathered into.
    ``rejected`` marks a group that cannot go flat (mixed dtypes, too large,
    non-contiguous parameters); it is rebuilt when the group's list changes.
    """

    def __init__(self, params, rejected: bool = False):
        self.params = list(params)
        self.count = len(self.params)
        self.rejected = rejected
        if rejected:
            return
        self.shapes = [p.data.shape for p in self.params]
        self.dtype = self.params[0].data.dtype
        sizes = [p.data.size for p in self.params]
        self.bounds = []
        lo = 0
        for n in sizes:
            self.bounds.append((lo, lo + n))
            lo += n
        self.size = lo
        self.theta = _aligned_empty(lo, self.dtype)
        self.grad = _aligned_empty(lo, self.dtype)
        self.scratch = (_aligned_empty(lo, self.dtype), _aligned_empty(lo, self.dtype))
        self.theta_views = self._views(self.theta)
        self.scratch_views = {id(a): (a, self._views(a)) for a in self.scratch}
        self.state: dict = {}
        self.owned: list = []  # per parameter: (its state dict, ((name, view), ...))

    @classmethod
    def build(cls, params, elementwise: bool = True):
        ok = (
            elementwise
            and len(params) > 0
            and len({p.data.dtype for p in params}) == 1
            and sum(p.data.size for p in params) <= CHUNK
        )
        return cls(params, rejected=not ok)

    def _views(self, flat: np.ndarray) -> list:
        return [flat[lo:hi].reshape(shape) for (lo, hi), shape in zip(self.bounds, self.shapes)]

    def matches(self, params) -> bool:
        if len(params) != self.count:
            return False
        for a, b in zip(params, self.params):
            if a is not b:
                return False
        return True

    def adopt(self, params, states) -> bool:
        """Move the parameters' state arrays into flat arrays; False if they differ in kind."""
        first = states[params[0]]
        names = [k for k, v in first.items() if isinstance(v, np.ndarray)]
        for p, shape in zip(params, self.shapes):
            st = states[p]
            mine = [k for k, v in st.items() if isinstance(v, np.ndarray)]
            if mine != names:
                return False
            for k in names:
                if st[k].shape != shape or st[k].dtype != self.dtype:
                    return False
            for k, v in st.items():
                if k not in names and k != "step" and v != first[k]:
                    return False
        state = {k: v for k, v in first.items() if k not in names}
        views = {}
        for k in names:
            flat = _aligned_empty(self.size, self.dtype)
            np.concatenate([states[p][k] for p in params], axis=None, out=flat)
            state[k] = flat
            views[k] = self._views(flat)
        owned = []
        for i, p in enumerate(params):
            st = states[p]
            pairs = []
            for k in names:
                st[k] = views[k][i]
                pairs.append((k, views[k][i]))
            owned.append((st, tuple(pairs)))
        self.state = state
        self.owned = owned
        return True


class _Descent:
    """The ``theta`` of a flat update without weight decay: ``theta -= d``
    subtracts each parameter's slice of the flat ``d`` from its ``p.data``."""

    __slots__ = ("datas", "flat")

    def __init__(self, datas: list, flat: _FlatGroup):
        self.datas = datas
        self.flat = flat

    def __isub__(self, d: np.ndarray):
        known = self.flat.scratch_views.get(id(d))
        if known is not None and known[0] is d:
            views = known[1]
        else:
            views = self.flat._views(d)
        for a, view in zip(self.datas, views):
            np.subtract(a, view, out=a)
        return self
