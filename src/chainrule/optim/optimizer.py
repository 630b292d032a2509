"""The optimiser base class: parameter groups, flat buffers, state_dict.

Every optimiser here updates parameters with the same machinery:

* ``param_groups`` is a list of dicts, as in PyTorch: ``'params'`` (a list
  of tensors) plus the hyperparameters of that group (``'lr'``, ...), which
  a scheduler or the user may change between steps.
* At construction the optimiser moves all its float parameters into one
  flat, contiguous array (``p.data`` becomes a view into it, each view
  64-byte aligned), and keeps one flat gradient array; each step copies
  the gradients backward produced into it.  The parameters of one group are adjacent, so a
  group is one slice of the flat arrays, and so is each state buffer
  (``momentum_buffer``, ``grad_sum``, ...).
* ``step()`` applies the update rule of the subclass, ``_update``, written
  once on plain arrays with preallocated scratch (no temporaries).  The
  *fast path* calls it on a whole group slice, cut into chunks that fit the
  L2 cache so that the ~10 elementwise passes of an update reuse it; large
  groups are shared by two threads (NumPy releases the GIL inside each
  ufunc).  The *per-parameter path* calls it on each parameter's views,
  for groups where some gradient is missing (PyTorch skips such parameters
  and so do we) or whose parameters have taken different numbers of steps.
  Both paths compute exactly the same numbers.
* If user code rebinds ``p.data`` or sets ``p.grad`` to another array, the
  next step copies it back into the flat buffers ("adopts" it).

Conventions (decided once): the update rules and argument names follow
``torch.optim``, so a trajectory matches PyTorch's step for step; each
subclass docstring shows how that is the book's algorithm.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .._threads import run_parallel
from ..autograd.engine import Tensor, enable_grad

__all__ = ["Optimizer"]

# Elements per chunk of the fast path.  The ~5 float32 arrays one chunk of
# an update touches should mostly stay in the L2 cache (2 MiB per core on
# the benchmark machine) between its passes; and each ufunc call should be
# long enough that two threads rarely wait for the GIL.  Measured: 2^16 to
# 2^17 are best with one thread, 2^17 with two (BENCHMARKS.md).
CHUNK = 1 << 17
# Groups at least this large are updated by two threads at once.
PARALLEL_MIN = 1 << 18



# State that decays geometrically (momentum, moment averages) of a parameter
# whose gradient stays zero, e.g. the weights of an input pixel that is
# always blank, sinks into float32's subnormal range (|x| < 1.2e-38), and
# every multiply that reads or writes a subnormal takes a slow microcode
# path: 900 such entries made SGD's step of a 26 K-parameter MLP five times
# slower (62 instead of 12 µs).  So every FLUSH_EVERY steps such entries are
# set to zero.  They cannot move a parameter anyway (ε times 1e-38 is far
# below the rounding of any parameter that is not itself that tiny).
FLUSH_EVERY = 16


def _flush_subnormals(arrays, scratch) -> None:
    """Set the subnormal entries of each array to zero, in place.

    Multiplies by a 0/1 mask (|a| ≥ the smallest normal number): zeros stay
    zero, infinities stay infinite, NaN stays NaN (NaN · 0 is NaN).
    """
    for a in arrays:
        np.abs(a, out=scratch)
        np.greater_equal(scratch, np.finfo(a.dtype).tiny, out=scratch)
        a *= scratch


# Each parameter starts on a 64-byte boundary (16 float32), so that the
# per-parameter views are as well aligned for BLAS and SIMD as fresh arrays.
ALIGN = 16


def _aligned_zeros(n: int, dtype) -> np.ndarray:
    """A zeroed 1-D array of n elements whose first element is 64-byte aligned."""
    dtype = np.dtype(dtype)
    pad = 64 // dtype.itemsize
    raw = np.zeros(n + pad, dtype=dtype)
    skip = (-raw.ctypes.data % 64) // dtype.itemsize
    return raw[skip : skip + n]


class _Layout:
    """Where each parameter lives in the flat buffers of one optimiser.

    Parameters are laid out in group order, each at an aligned offset; the
    few elements between them stay zero in every buffer (zero parameter,
    gradient and state), so an update over a whole group leaves them zero.
    """

    def __init__(self, params: list, dtype):
        self.dtype = np.dtype(dtype)
        self.offsets = {}
        start = 0
        for p in params:
            self.offsets[id(p)] = (start, start + p.data.size)
            start += -(-p.data.size // ALIGN) * ALIGN
        self.size = start
        self.param_buf = _aligned_zeros(start, self.dtype)
        self.grad_buf = _aligned_zeros(start, self.dtype)
        # scratch for the updates (so they never allocate temporaries): two
        # chunk-sized arrays per thread, reused for every chunk so that they
        # stay in that core's cache instead of streaming through memory
        n = min(CHUNK, start)
        self.scratch = [
            (_aligned_zeros(n, self.dtype), _aligned_zeros(n, self.dtype)) for _ in range(2)
        ]
        self.views = {}
        for p in params:
            a, b = self.offsets[id(p)]
            pv = self.param_buf[a:b].reshape(p.data.shape)
            gv = self.grad_buf[a:b].reshape(p.data.shape)
            pv[...] = p.data
            if p.grad is not None:
                gv[...] = p.grad
                p.grad = gv
            p.data = pv
            self.views[id(p)] = (pv, gv)


def _check(ok: bool, expected: str, received: str) -> None:
    if not ok:
        raise ValueError(f"Expected {expected}. Received: {received}")


class Optimizer:
    """Base class of all optimisers: groups, state, flat buffers, step().

    Args:
        params: an iterable of Tensors, or of dicts each holding
            ``'params'`` and any hyperparameters that override ``defaults``
            for that group.
        defaults: hyperparameters of the subclass and their default values.

    Subclasses define ``_validate(group)``, ``_state_names(group)`` (the
    buffers each parameter needs, zero-initialised unless
    ``_state_fill`` says otherwise) and ``_update(group, theta, g, state,
    step, scratch)``, which updates ``theta`` and ``state`` in place.
    """

    #: take the fast path where possible (tests switch it off to compare)
    _use_flat = True

    def __init__(self, params: Iterable, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}
        self._layout: _Layout | None = None
        self._layout_version = 0
        self._chunk_cache: dict = {}
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
            self._add_group(group)
        self._build_layout()

    # --- groups -------------------------------------------------------------
    def _add_group(self, group: dict) -> None:
        if not isinstance(group, dict):
            raise TypeError(
                f"Expected every parameter group to be a dict. Received: {type(group).__name__}"
            )
        group = dict(group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        params = list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"Expected parameters to be Tensors. Received: {type(p).__name__}")
            if p.data.dtype.kind != "f":
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

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (e.g. layers unfrozen later), keeping existing state."""
        self._add_group(param_group)
        self._build_layout()

    def _validate(self, group: dict) -> None:
        lr = group.get("lr")
        _check(isinstance(lr, (int, float)) and lr >= 0, "lr >= 0", f"lr={lr}")
        wd = group.get("weight_decay", 0.0)
        _check(wd >= 0, "weight_decay >= 0", f"weight_decay={wd}")

    def _state_names(self, group: dict) -> tuple:
        return ()

    def _state_fill(self, group: dict, name: str) -> float:
        return 0.0

    def _init_state(self, group: dict, state: dict) -> None:
        """Add any non-array entries a fresh parameter state needs."""

    def _prepare(self, group: dict) -> None:
        """Called once per group and step, before the update (a hook)."""

    def _all_params(self) -> list:
        return [p for g in self.param_groups for p in g["params"]]

    # --- flat buffers -------------------------------------------------------
    def _build_layout(self) -> None:
        params = self._all_params()
        old_state = {id(p): self.state.get(p) for p in params}
        dtypes = {p.data.dtype for p in params}
        self._layout = _Layout(params, dtypes.pop()) if len(dtypes) == 1 else None
        self._layout_version += 1
        self.state = {}
        bufs = {}
        for group in self.param_groups:
            for name in self._state_names(group):
                if name not in bufs:
                    bufs[name] = self._new_buffer()
        self._state_bufs = bufs
        for group in self.param_groups:
            names = self._state_names(group)
            for p in group["params"]:
                st = {"step": 0}
                self._init_state(group, st)
                for name in names:
                    view = self._buffer_view(bufs[name], p)
                    view.fill(self._state_fill(group, name))
                    st[name] = view
                old = old_state.get(id(p))
                if old:
                    for key, value in old.items():
                        if not isinstance(value, np.ndarray):
                            st[key] = value
                        elif key in st:
                            st[key][...] = value
                self.state[p] = st

    def _new_buffer(self):
        if self._layout is None:
            return None
        return _aligned_zeros(self._layout.size, self._layout.dtype)

    def _buffer_view(self, buf, p):
        if buf is None:
            return np.empty_like(p.data)
        a, b = self._layout.offsets[id(p)]
        return buf[a:b].reshape(p.data.shape)

    def _adopt(self, p) -> None:
        """Bring ``p.data``/``p.grad`` back into the flat buffers if replaced."""
        pv, gv = self._layout.views[id(p)]
        if p.data is not pv:
            if p.data.shape != pv.shape:
                raise ValueError(
                    f"Expected parameter data of shape {pv.shape} (as when the "
                    f"optimiser was built). Received: shape {p.data.shape}"
                )
            pv[...] = p.data
            p.data = pv
        if p.grad is not None and p.grad is not gv:
            gv[...] = p.grad
            p.grad = gv

    # --- the step -----------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients."""
        for p in self._all_params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; return closure()'s loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        layout = self._layout
        for group in self.param_groups:
            self._prepare(group)
            if layout is not None and self._sync(group) and self._use_flat:
                self._step_flat(group)
            else:
                self._step_each(group)
        return loss

    def _sync(self, group: dict) -> bool:
        """Adopt replaced arrays; True if every parameter has a gradient and
        all have taken the same number of steps (the fast path applies)."""
        views = self._layout.views
        state = self.state
        params = group["params"]
        step = state[params[0]]["step"]
        uniform = True
        for p in params:
            pv, gv = views[id(p)]
            g = p.grad
            if p.data is not pv or (g is not gv and g is not None):
                self._adopt(p)
            if g is None or state[p]["step"] != step:
                uniform = False
        return uniform

    def _chunks(self, group: dict) -> list:
        """The group's slice of every flat buffer, cut into CHUNK-sized views."""
        key = (id(group), self._layout_version)
        cached = self._chunk_cache.get(id(group))
        if cached is not None and cached[0] == key:
            return cached[1]
        layout = self._layout
        params = group["params"]
        a = layout.offsets[id(params[0])][0]
        b = layout.offsets[id(params[-1])][1]
        names = self._state_names(group)
        n = min(CHUNK, layout.size)
        if layout.scratch[0][0].size < n:  # CHUNK was raised since the layout was built
            layout.scratch = [
                (_aligned_zeros(n, layout.dtype), _aligned_zeros(n, layout.dtype))
                for _ in range(2)
            ]
        chunks = []
        for lo in range(a, b, CHUNK):
            hi = min(lo + CHUNK, b)
            state = {n: self._state_bufs[n][lo:hi] for n in names}
            chunks.append((layout.param_buf[lo:hi], layout.grad_buf[lo:hi], state))
        self._chunk_cache[id(group)] = (key, chunks)
        return chunks

    def _step_flat(self, group: dict) -> None:
        params = group["params"]
        step = self.state[params[0]]["step"] + 1
        chunks = self._chunks(group)
        update = self._update
        flush = step % FLUSH_EVERY == 0

        def run(part, scratch):
            s1, s2 = scratch
            for theta, g, state in part:
                n = theta.size
                update(group, theta, g, state, step, (s1[:n], s2[:n]))
                if flush:
                    _flush_subnormals(state.values(), s1[:n])

        scratch = self._layout.scratch
        if len(chunks) * CHUNK < PARALLEL_MIN:
            run(chunks, scratch[0])
        else:
            # NumPy releases the GIL inside each ufunc, so two threads can
            # work at once.  They take chunks from one shared iterator (next()
            # on a list iterator is atomic under the GIL): if the worker gets
            # no core (BLAS threads spin for a while after each GEMM), the
            # main thread simply does more of the chunks.
            shared = iter(chunks)
            run_parallel(lambda own: run(shared, own), scratch[:2])
        for p in params:
            self.state[p]["step"] = step

    def _step_each(self, group: dict) -> None:
        layout = self._layout
        for p in group["params"]:
            if p.grad is None:
                continue
            st = self.state[p]
            st["step"] += 1
            g = p.grad
            if g.dtype != p.data.dtype or g.shape != p.data.shape:
                g = np.asarray(g, dtype=p.data.dtype).reshape(p.data.shape)
            n = p.data.size
            if layout is not None and n <= layout.scratch[0][0].size:
                shape = p.data.shape
                scratch = tuple(s[:n].reshape(shape) for s in layout.scratch[0])
            else:
                scratch = (np.empty_like(p.data), np.empty_like(p.data))
            self._update(group, p.data, g, st, st["step"], scratch)
            if st["step"] % FLUSH_EVERY == 0:
                _flush_subnormals([st[k] for k in self._state_names(group)], scratch[0])

    def _update(self, group: dict, theta, g, state: dict, step: int, scratch) -> None:
        raise NotImplementedError

    # --- saving and resuming ------------------------------------------------
    def state_dict(self) -> dict:
        """Copies of all state and hyperparameters; parameters by index.

        The layout follows PyTorch: ``{'state': {index: {...}},
        'param_groups': [{..., 'params': [indices]}]}`` with indices
        counting parameters across groups in order.
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        state = {}
        for p, st in self.state.items():
            state[index[id(p)]] = {
                k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()
            }
        groups = []
        for g in self.param_groups:
            entry = {k: v for k, v in g.items() if k != "params"}
            entry["params"] = [index[id(p)] for p in g["params"]]
            groups.append(entry)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict`.

        Arrays are copied into the existing buffers, so resuming gives
        exactly the steps that never stopping would have given.
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"Expected a state_dict with {len(self.param_groups)} parameter groups. "
                f"Received: {len(groups)}"
            )
        params = self._all_params()
        for mine, saved in zip(self.param_groups, groups):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(
                    f"Expected a group of {len(mine['params'])} parameters. "
                    f"Received: {len(saved['params'])}"
                )
        for mine, saved in zip(self.param_groups, groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = v
        # the state buffers a group needs may depend on its hyperparameters
        self._build_layout()
        for i, st in state_dict["state"].items():
            p = params[int(i)]
            mine = self.state[p]
            for k, v in st.items():
                if isinstance(v, np.ndarray):
                    if k not in mine or mine[k].shape != v.shape:
                        raise ValueError(
                            f"Expected state '{k}' of shape {p.shape}. "
                            f"Received: {getattr(v, 'shape', v)}"
                        )
                    mine[k][...] = v
                else:
                    mine[k] = v

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
