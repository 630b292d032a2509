"""Elementwise kernels written once, as a formula for one element.

A hot formula (an optimiser update, bias plus activation, an activation's
backward) is a plain Python function of scalars, using only arithmetic
operators, comparisons, ``if`` on a scalar flag or on ``x is None``, and
the math names of this module (:data:`MATH`: ``sqrt``, ``exp``, ``log``,
``log1p``, ``expm1``, ``tanh``, ``where``, ``maximum``, ``minimum``)::

    @elementwise(outputs="p m", scalars="lr mu")
    def momentum(p, g, m, lr, mu):
        m = mu * m + g
        return p - lr * m, m

From that one definition :class:`Elementwise` runs it three ways:

* **compiled** (NumPy arrays, numba importable, ``CHAINRULE_KERNELS`` not
  ``numpy``): one numba loop over the elements (one pass over memory,
  float32 and float64), compiled on first use and cached on disk, its
  range split over chainrule's helper threads with the GIL released;
* **CuPy**: one ``ElementwiseKernel`` generated from the formula's source;
* **plain**: the formula run once on whole arrays of any array-API
  namespace, the math names bound to the namespace's functions.

Arguments: the function's parameters are arrays unless named in
``scalars``.  An array may be ``None`` (an optional state: the formula
tests ``x is None``); a scalar is a Python number or bool.  Arrays named in
``rows`` are row vectors broadcast along the last axis of the others (a
bias); all other arrays have one shape.  Outputs named like an input array
are written into it in place; other outputs are new arrays (or the arrays
given in ``out=``).  The call returns the outputs in order (``None`` for
an output that is a ``None`` input).

Float scalars are cast to the arrays' dtype, so a float32 formula stays in
float32.  Convention: write no float literal next to a float32 value that
should stay float32 (numba types a literal as float64); pass it as a
scalar.  Small integer literals (``1 - b``) are fine on the plain path but
widen on the compiled one: pass ``1 - b`` as a scalar too.

``check=True`` makes the kernel refuse non-finite outputs: on the plain
path nothing is written and :class:`NonFiniteOutput` is raised; on the
compiled path an element whose outputs are not all finite keeps the old
value of the first output (an optimiser's parameter; the other outputs are
written, as are the other elements), and the error follows the pass.
(Guarding every output's store made the vectorised loop 5x slower.)

The switch: ``CHAINRULE_KERNELS=numpy`` in the environment, or
:func:`set_kernels` / the context manager :func:`kernels`, selects the
plain path for NumPy arrays; without numba it is the plain path anyway.
"""

from __future__ import annotations

import inspect
import itertools
import os
import threading
import types
from contextlib import contextmanager

import numpy as np

from .._threads import get_num_threads, run_parallel
from . import backend_name, namespace_of

__all__ = [
    "MATH",
    "Elementwise",
    "NonFiniteOutput",
    "compiled_available",
    "elementwise",
    "first_nonfinite",
    "get_kernels",
    "kernels",
    "set_kernels",
]

#: The math names a formula may use, besides arithmetic operators.
MATH = ("sqrt", "exp", "log", "log1p", "expm1", "tanh", "where", "maximum", "minimum")

#: Below this many elements a compiled kernel runs on the calling thread only.
PARALLEL_MIN = 1 << 16
#: The plain path cuts NumPy arrays larger than this into chunks of this size.
PLAIN_CHUNK = 1 << 15

_MODES = ("compiled", "numpy")
_mode: list = []  # [mode] once looked up or set


# The math names, usable directly on arrays of any namespace; a formula imports
# them (``from chainrule._backend.fused import sqrt, where``) and each path
# binds the same names to its own functions.
def sqrt(x):
    return namespace_of(x).sqrt(x)


def exp(x):
    return namespace_of(x).exp(x)


def log(x):
    return namespace_of(x).log(x)


def log1p(x):
    return namespace_of(x).log1p(x)


def expm1(x):
    return namespace_of(x).expm1(x)


def tanh(x):
    return namespace_of(x).tanh(x)


def where(cond, a, b):
    return namespace_of(cond).where(cond, a, b)


def maximum(a, b):
    return namespace_of(a).maximum(a, b)


def minimum(a, b):
    return namespace_of(a).minimum(a, b)


class NonFiniteOutput(FloatingPointError):
    """A kernel's output is NaN or infinite where ``check=True`` asked for finite values.

    Attributes: ``kernel`` (its name), ``output`` (the output's name),
    ``index`` (the flat index of the first such element), ``value``.
    """

    def __init__(self, kernel: str, output: str, index: int, value: float):
        self.kernel, self.output, self.index, self.value = kernel, output, index, value
        super().__init__(
            f"kernel {kernel!r} would write {value} into {output!r} at flat index {index}"
        )


def get_kernels() -> str:
    """Which path NumPy arrays take: ``"compiled"`` (default) or ``"numpy"``."""
    if not _mode:
        env = os.environ.get("CHAINRULE_KERNELS", "").strip().lower() or "compiled"
        if env not in _MODES:
            raise ValueError(
                f"Expected CHAINRULE_KERNELS to be 'compiled' or 'numpy'. Received: {env!r}"
            )
        _mode.append(env)
    return _mode[0]


def set_kernels(mode: str) -> None:
    """Run NumPy arrays' kernels ``"compiled"`` (numba, when importable) or ``"numpy"``
    (plain NumPy operations)."""
    if mode not in _MODES:
        raise ValueError(f"Expected kernels 'compiled' or 'numpy'. Received: {mode!r}")
    _mode[:] = [mode]


@contextmanager
def kernels(mode: str):
    """:func:`set_kernels` inside the block, the previous choice restored after."""
    before = get_kernels()
    set_kernels(mode)
    try:
        yield
    finally:
        set_kernels(before)


_numba: list = []  # [module or None] once tried


def compiled_available() -> bool:
    """Whether the compiled path can run (numba importable)."""
    if not _numba:
        try:
            from . import _fused_numba
        except ImportError:
            _numba.append(None)
        else:
            _numba.append(_fused_numba)
    return _numba[0] is not None


def _use_compiled() -> bool:
    return get_kernels() == "compiled" and compiled_available()


class Elementwise:
    """An elementwise kernel made from one per-element formula (see the module).

    Args:
        fn: the formula.
        outputs: the names of its results, in the order it returns them.
        scalars: the parameters that are scalars (the others are arrays).
        rows: the array parameters that are row vectors (last axis).
    """

    def __init__(self, fn, outputs: tuple, scalars: tuple = (), rows: tuple = ()):
        params = list(inspect.signature(fn).parameters)
        for name in (*scalars, *rows):
            if name not in params:
                raise ValueError(f"{fn.__name__}: {name!r} is not a parameter of the formula")
        self.fn = fn
        self.name = fn.__name__
        self.params = tuple(params)
        self.scalars = tuple(s for s in params if s in scalars)
        self.arrays = tuple(a for a in params if a not in scalars)
        self.rows = tuple(rows)
        self.outputs = tuple(outputs)
        #: (position in the arguments, is a row vector) of each array parameter
        self._slots = tuple((params.index(a), a in self.rows) for a in self.arrays)
        self._lead = next((k for k, row in self._slots if not row), self._slots[0][0])
        self._scalar_pos = tuple(params.index(s) for s in self.scalars)
        self._fresh = tuple(o for o in self.outputs if o not in self.arrays)
        #: (name, position in the arguments or None for a new array) of each output
        self._out_pos = tuple((o, params.index(o) if o in self.arrays else None)
                              for o in self.outputs)
        self._plain: dict = {}  # namespace id -> formula bound to its math
        self._loops: dict = {}  # (present, rows, check) -> compiled loop
        self._cupy: dict = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<elementwise kernel {self.name}: {', '.join(self.outputs)}>"

    # --- calling ------------------------------------------------------------
    def __call__(self, *args, out: dict | None = None, check: bool = False) -> tuple:
        """Run the formula over the arrays; arguments in the formula's order."""
        if len(args) != len(self.params):
            raise TypeError(
                f"{self.name} takes {len(self.params)} arguments ({', '.join(self.params)}). "
                f"Received: {len(args)}"
            )
        first = args[self._lead]
        if first is None:
            first = next(args[k] for k, row in self._slots if not row and args[k] is not None)
        if type(first) is np.ndarray and _use_compiled():
            done = self._run_compiled(args, first, out, check)
            if done is not None:
                return done
        named = dict(zip(self.params, args))
        if type(first) is np.ndarray and first.size > PLAIN_CHUNK:
            done = self._run_plain_chunked(named, first, out, check)
            if done is not None:
                return done
        xp = namespace_of(first)
        if backend_name(xp) == "cupy":
            from ._fused_cupy import run_cupy

            return run_cupy(self, named, first, out)
        return self._run_plain(xp, named, first, out, check)

    def _result(self, named: dict, fresh: dict) -> tuple:
        return tuple(fresh[o] if o in fresh else named.get(o) for o in self.outputs)

    # --- plain path -----------------------------------------------------------
    def bound(self, xp):
        """The formula with its math names bound to namespace ``xp``'s functions."""
        fn = self._plain.get(id(xp))
        if fn is None:
            env = dict(self.fn.__globals__)
            for name in MATH:
                env[name] = getattr(xp, name)
            fn = types.FunctionType(self.fn.__code__, env, self.fn.__name__,
                                    self.fn.__defaults__, self.fn.__closure__)
            self._plain[id(xp)] = fn
        return fn

    def _run_plain(self, xp, named, first, out, check) -> tuple:
        values = self.bound(xp)(*(named[p] for p in self.params))
        if len(self.outputs) == 1:
            values = (values,)
        results = dict(zip(self.outputs, values))
        if check:
            for o in self.outputs:
                v = results[o]
                if v is not None and not bool(xp.all(xp.isfinite(v))):
                    flat = xp.reshape(xp.asarray(v), (-1,))
                    index = int(xp.argmax(xp.astype(~xp.isfinite(flat), xp.int8)))
                    raise NonFiniteOutput(self.name, o, index, float(flat[index]))
        fresh = {}
        for o in self.outputs:
            v = results[o]
            if v is None:
                continue
            if o in self.arrays:
                named[o][...] = v
            elif out is not None and out.get(o) is not None:
                out[o][...] = v
                fresh[o] = out[o]
            else:
                v = xp.asarray(v, dtype=first.dtype)
                if v.shape != first.shape:
                    v = xp.broadcast_to(v, first.shape)
                fresh[o] = v
        return self._result(named, fresh)

    def _run_plain_chunked(self, named, first, out, check):
        """The plain path on large NumPy arrays, chunk by chunk: a chunk's
        temporaries stay in the cache, and the chunks are shared among
        chainrule's threads (NumPy releases the GIL in its loops).  None when
        the arrays do not qualify (row vectors, not C-contiguous)."""
        shape, size = first.shape, first.size
        flat = {}
        for a in self.arrays:
            v = named[a]
            if v is None:
                continue
            if type(v) is not np.ndarray or v.shape != shape or not v.flags.c_contiguous:
                return None
            flat[a] = v.reshape(-1)
        fresh = {}
        for o in self._fresh:
            given = None if out is None else out.get(o)
            fresh[o] = np.empty(shape, first.dtype) if given is None else given
            if not fresh[o].flags.c_contiguous or fresh[o].shape != shape:
                return None

        def run(lo):
            hi = min(lo + PLAIN_CHUNK, size)
            part = dict(named)
            for k, v in flat.items():
                part[k] = v[lo:hi]
            outs = {o: v.reshape(-1)[lo:hi] for o, v in fresh.items()}
            try:
                self._run_plain(np, part, part[next(iter(flat))], outs, check)
            except NonFiniteOutput as exc:
                raise NonFiniteOutput(self.name, exc.output, exc.index + lo, exc.value) from None

        run_parallel(run, range(0, size, PLAIN_CHUNK))
        return self._result(named, fresh)

    # --- compiled path -------------------------------------------------------
    def _run_compiled(self, args, first, out, check):
        """The compiled loop over NumPy arrays; None when they do not qualify
        (another dtype, not C-contiguous, other shapes): then the plain path runs."""
        dtype = first.dtype
        if dtype.char not in "fd":
            return None
        shape = first.shape
        row_shape = shape[-1:]
        present = []
        arrays = []
        rows = False
        for k, row in self._slots:
            v = args[k]
            if v is None:
                present.append(False)
                continue
            present.append(True)
            if (type(v) is not np.ndarray or v.dtype != dtype or not v.flags.c_contiguous
                    or v.shape != (row_shape if row else shape)):
                return None
            rows = rows or row
            arrays.append(v.reshape(-1))
        fresh = {}
        for o in self._fresh:
            given = None if out is None else out.get(o)
            v = fresh[o] = np.empty(shape, dtype) if given is None else given
            if v.dtype != dtype or v.shape != shape or not v.flags.c_contiguous:
                return None
            arrays.append(v.reshape(-1))
        key = (tuple(present), check, dtype.char)
        loop = self._loops.get(key)
        if loop is None:
            with self._lock:
                loop = self._loops.get(key)
                if loop is None:
                    loop = self._loops[key] = _numba[0].build(
                        _LoopSpec(self, fresh), key[0], rows, check, dtype.name)
        scalars = [args[k] for k in self._scalar_pos]
        size = first.size
        cols = shape[-1] if rows and shape else 1
        bad = _split(loop, arrays, scalars, size // cols, cols, size)
        if bad:
            self._raise_nonfinite(dict(zip(self.params, args)), first, np)
        return tuple(fresh[o] if k is None else args[k] for o, k in self._out_pos)

    def _raise_nonfinite(self, named, first, np=np) -> None:
        """After a checked compiled pass: find the refused element on the plain path."""
        values = self.bound(np)(*(named[p] for p in self.params))
        if len(self.outputs) == 1:
            values = (values,)
        for o, v in zip(self.outputs, values):
            if v is None:
                continue
            bad = ~np.isfinite(np.broadcast_to(v, first.shape).reshape(-1))
            if bad.any():
                index = int(np.argmax(bad))
                raise NonFiniteOutput(self.name, o, index,
                                      float(np.broadcast_to(v, first.shape).reshape(-1)[index]))
        raise NonFiniteOutput(self.name, self.outputs[0], -1, float("nan"))


class _LoopSpec:
    """What the loop generator needs: the formula, its arrays (fresh outputs appended)."""

    def __init__(self, kernel: Elementwise, fresh: dict):
        self.fn = kernel.fn
        self.name = kernel.name
        self.scalars = kernel.scalars
        self.rows = kernel.rows
        self.outputs = kernel.outputs
        self.inputs = kernel.arrays
        self.fresh = tuple(fresh)


def _split(loop, arrays, scalars, count, cols, size) -> int:
    """Run ``loop`` over ``count`` rows (or elements), in parts over chainrule's threads."""
    if size < PARALLEL_MIN:
        return loop(*arrays, *scalars, 0, count, cols)
    threads = get_num_threads()
    if threads <= 1 or size < PARALLEL_MIN:
        return loop(*arrays, *scalars, 0, count, cols)
    # a few parts per thread, claimed in turn (run_parallel): a helper that
    # loses its core for a while (to BLAS's spinning workers, to another
    # process) leaves its parts to the others instead of holding up the call
    parts = min(4 * threads, max(1, size // (PARALLEL_MIN // 2)))
    bounds = [count * k // parts for k in range(parts + 1)]
    done = run_parallel(lambda lohi: loop(*arrays, *scalars, lohi[0], lohi[1], cols),
                        list(itertools.pairwise(bounds)))
    return sum(done)


def elementwise(outputs: str, scalars: str = "", rows: str = ""):
    """Decorator: make a per-element formula an :class:`Elementwise` kernel.

    Names are given as space-separated strings, e.g.
    ``@elementwise(outputs="p m v", scalars="lr beta1")``.
    """

    def deco(fn) -> Elementwise:
        return Elementwise(fn, tuple(outputs.split()), tuple(scalars.split()),
                           tuple(rows.split()))

    return deco


def first_nonfinite(arrays) -> tuple | None:
    """``(k, index, value)`` of the first NaN or infinity in ``arrays[k]``, or None.

    For NumPy arrays a sum first (one fast pass, no allocation); only when
    that is not finite are the elements looked at.
    """
    import math

    for k, a in enumerate(arrays):
        xp = namespace_of(a)
        if type(a).__module__ == "numpy":
            if math.isfinite(float(a.sum(dtype=a.dtype))):
                continue
            flat = a.reshape(-1)
            bad = ~xp.isfinite(flat)
            if not bad.any():
                continue  # the sum overflowed; every element is finite
        else:
            flat = xp.reshape(a, (-1,))
            bad = ~xp.isfinite(flat)
            if not bool(xp.any(bad)):
                continue
        index = int(xp.argmax(xp.astype(bad, xp.int8)))
        return k, index, float(flat[index])
    return None
