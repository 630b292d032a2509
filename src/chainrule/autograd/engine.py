"""The reverse-mode engine: the Tensor class, the primitive decorator, the backward walk.

Every differentiable operation is a *primitive*: a forward function
``fwd(xp, *arrays, **params)`` that returns ``(out, vjp)``, where
``vjp(g, need)`` maps the gradient of the output to one gradient per
positional input (``None`` where ``need[i]`` is false).  Forward and vjp live
side by side (``ops.py``, ``elementwise.py``, ``conv_ops.py``, ``pool_ops.py``,
``nn/batchnorm.py``) and are written once against the array namespace ``xp``
they receive.  The engine records ``(vjp, inputs, need, fwd, params)`` on the
output tensor and nothing else.  :data:`PRIMITIVES` holds every primitive by
name.  The modules defining primitives import this one, so it never imports
them: Tensor's operators and simple methods are declared by name in the class
body and *are* the primitives once ``@primitive`` gives them their forward
(``Tensor.__add__ is ops.add``: no extra call per op); the others call
``PRIMITIVES[name]``.

Two kinds of namespace run the same code:

- the raw one, the array namespace of the op's first Tensor input
  (``_backend.namespace_of``: NumPy, CuPy, array_api_strict, torch through
  array-api-compat), when a forward is recorded: the vjp closes over plain
  arrays and a first-order backward runs on arrays (the fast path, no graph
  is built).  Constants (NumPy arrays, masks, class ids) meeting Tensors of
  another library are moved to that library and device (``from_host``).
  A primitive may have per-backend forwards (``op.variant("numpy")``, a
  kernel-table entry ``"op:<name>"``): the NumPy one keeps NumPy's fast
  tricks, the generic one uses standard names only.  An op whose first
  operand is a NumPy Tensor takes a short host path (no namespace lookup:
  the tape's per-op cost on small arrays stays small);
- the differentiable one (``_namespace.GRAPH``, chainrule's own ops on
  Tensors, registered here by :func:`register_graph_namespace`) when a
  ``create_graph=True`` backward reaches the op: the engine runs the forward
  again on the input *Tensors* with that namespace, so its vjp closes over
  Tensors and every operation in it is recorded.  Gradients of gradients
  come from the same lines.

One loop, :func:`_walk`, serves ``Tensor.backward`` and :func:`grad` at
every order.  Every recorded op result gets a creation number (``_seq``)
from one global counter, so an op's result is always numbered after the
results it was computed from.  The walk therefore needs no graph sort: it
keeps the tensors that have received a gradient but not yet passed it on in
a heap keyed by creation number and always takes the newest, so each one is
handled after every op that consumed it (loop, not recursion: a chain of
100,000 ops is fine).  It undoes broadcasting in one place
(:func:`unbroadcast`), accumulates gradients of tensors used more than once,
and hands leaves their gradient last.
"""

from __future__ import annotations

import functools
import heapq
import inspect
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as _np

from .._backend import (
    as_float_array,
    device_of,
    from_host,
    parse_device,
    to_host,
    xp,
)
from .._backend import kernels as _kernels
from ._arrays import (
    _cotangent,
    _engine_kernels,
    _is_float,
    _itemsize,
    _ns,
    _own_grad_np,
)
from .grad_mode import _mode, enable_grad, is_grad_enabled, no_grad

__all__ = [
    "PRIMITIVES",
    "Tensor",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "primitive",
    "tensor",
    "unbroadcast",
]

#: name -> op, for every primitive (filled by :func:`primitive`); Tensor's
#: methods call through it, and the gradient checks are driven from it.
PRIMITIVES: dict[str, Callable[..., Tensor]] = {}

#: The differentiable namespace a create_graph backward re-runs forwards with
#: (``_namespace.GRAPH``).  It is made of the primitives, which import this
#: module, so it registers itself (:func:`register_graph_namespace`).
_graph_namespace: Any = None


def register_graph_namespace(ns) -> None:
    """Make ``ns`` the namespace of recorded backward passes (``_namespace`` calls it)."""
    global _graph_namespace
    _graph_namespace = ns


_ndarray = xp.ndarray
_new_tensor = object.__new__
_next_seq = itertools.count().__next__  # creation numbers of recorded op results

def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the vjp of NumPy broadcasting.

    ``g`` is an array of any namespace, or a gradient Tensor in a
    ``create_graph`` backward: the same sums are then recorded ops,
    differentiable again.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if isinstance(g, Tensor):
        if extra > 0:
            g = g.sum(axis=tuple(range(extra)))
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
    else:
        ns = _ns(g)
        if extra == 1 and g.ndim == 2:
            # a bias broadcast over rows: NumPy sums float columns as one BLAS product
            g = _engine_kernels(ns)[1](ns, g)
        elif extra > 0:
            g = ns.sum(g, axis=tuple(range(extra)))
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if axes:
            g = ns.sum(g, axis=axes, keepdims=True)
    if g.shape != shape:
        raise ValueError(
            f"gradient of shape {g.shape} cannot be summed down to the "
            f"input's shape {shape} (a vjp returned the wrong shape)"
        )
    return g


def primitive(fwd):
    """Turn ``fwd(xp, *arrays, **params) -> (out, vjp)`` into a differentiable op.

    Positional arguments may be Tensors or constants (arrays, scalars);
    keyword arguments are non-differentiable parameters (axis, shape...).
    ``vjp(g, need)`` returns one gradient per positional argument, computing
    only those with ``need[i]`` true.  The op is registered in PRIMITIVES
    under ``fwd``'s name (and is the Tensor operator declared with that name).

    ``xp`` is the array namespace the forward and its vjp compute with: the
    raw one when the op runs, the differentiable one when a
    ``create_graph=True`` backward re-runs it on Tensors (module doc).  A
    forward without a first parameter named ``xp`` or ``ns`` (``fwd(*arrays)``) still
    works, but its gradient cannot be differentiated again.
    """
    op = _DECLARED.pop(fwd.__name__, None) or _new_op(fwd.__name__)
    op._define(fwd)
    return op


#: ops declared by Tensor's class body whose forward is not defined yet
_DECLARED: dict = {}


def _declare(name: str) -> Callable[..., Tensor]:
    """The op ``name``, its forward to come from ``@primitive`` on a function of that name.

    Tensor's operators and simple methods are the primitives themselves
    (``Tensor.__add__ is ops.add``): no extra Python call per op, the tape's
    per-op cost on small arrays.  The modules defining the forwards import
    this one, so the class declares the ops by name and they complete them.
    """
    return _DECLARED.setdefault(name, _new_op(name))


def _new_op(name: str):
    """The op wrapper of primitive ``name`` (its forward given by ``op._define``)."""
    fwd: Any = None
    namespaced = False
    #: namespace -> the forward serving it (``fwd`` or a per-backend variant),
    #: called as ``call(*arrays, **params)`` with the namespace bound
    impls: dict = {}
    np_call = None  # impls[numpy], once resolved

    def resolve(ns):
        nonlocal np_call
        if fwd is None:
            raise RuntimeError(
                f"the primitive {name!r} has no forward: import chainrule.autograd first"
            )
        if not namespaced:
            call = fwd
        else:
            entries = _kernels.registered("op:" + name)
            call = functools.partial(entries.get(_kernels.backend_name(ns)) or fwd, ns)
        impls[ns] = call
        if ns is _np:
            np_call = call
        return call

    # This wrapper is the tape's whole per-op cost, so it is written for
    # speed: one pass over the arguments, no generator, no extra calls.
    def op(*args, **params):
        arrays = []
        need = []
        a0 = args[0] if args else None
        if isinstance(a0, Tensor) and type(a0.data) is _ndarray:
            # the host fast path: the first operand is a NumPy Tensor
            for a in args:
                if isinstance(a, Tensor):
                    arrays.append(a.data)
                    need.append(a.requires_grad)
                else:
                    arrays.append(_constant(a, args))
                    need.append(False)
            out, vjp = (np_call or resolve(_np))(*arrays, **params)
            if type(out) is not _ndarray:
                out = _np.asarray(out)  # NumPy returns scalars for 0-d results
        else:
            ns = None
            late = False
            for a in args:
                if isinstance(a, Tensor):
                    d = a.data
                    if ns is None:
                        ns = _np if type(d) is _ndarray else _ns(d)
                    elif ns is not _np and type(d) is _ndarray:
                        d = _constant(d, args, ns)  # a NumPy Tensor meeting another library
                    arrays.append(d)
                    need.append(a.requires_grad)
                elif ns is None:
                    late = True
                    arrays.append(a)
                    need.append(False)
                else:
                    arrays.append(_constant(a, args, ns))
                    need.append(False)
            if late:  # a constant came before the first Tensor: convert it now
                if ns is None:
                    ns = _np
                arrays = [arr if isinstance(a, Tensor) else _constant(a, args, ns)
                          for a, arr in zip(args, arrays)]
            try:
                call = impls[ns]
            except KeyError:
                if ns is None:  # no Tensor and no constant at all
                    ns = _np
                call = impls.get(ns) or resolve(ns)
            out, vjp = call(*arrays, **params)
            if type(out) is not _ndarray and ns is _np:
                out = _np.asarray(out)  # NumPy returns scalars for 0-d results
        t = _new_tensor(Tensor)
        t.data = out
        t.grad = None
        if _mode.enabled and True in need:
            t.requires_grad = True
            t._ctx = (vjp, args, tuple(need), fwd, params)
            t._seq = _next_seq()
        else:
            t.requires_grad = False
            t._ctx = None
        return t

    def define(f):
        nonlocal fwd, namespaced, np_call
        params_list = list(inspect.signature(f).parameters)
        # ``ns`` where a module's own raw helpers already use the name ``xp``
        namespaced = bool(params_list) and params_list[0] in ("xp", "ns")
        f._namespaced = namespaced
        fwd = f
        impls.clear()
        np_call = None
        op.__name__ = f.__name__
        op.__qualname__ = f.__qualname__
        op.__doc__ = f.__doc__
        op.__wrapped__ = f
        PRIMITIVES[name] = op

    def variant(backend: str):
        """Decorator: a forward ``fwd(xp, ...)`` serving only ``backend`` ("numpy", "cupy",
        "generic"); ``create_graph`` always re-runs the generic one."""

        def deco(f):
            nonlocal np_call
            _kernels.register("op:" + name, backend)(f)
            impls.clear()
            np_call = None
            return f

        return deco

    wrapper: Any = op  # with its two hooks
    wrapper._define = define
    wrapper.variant = variant
    return wrapper


class Tensor:
    """An array with an optional gradient and a record of how it was made.

    Args:
        data: array-like; float data becomes float32 unless ``dtype`` says.
            An array of an array-API library (NumPy, CuPy, array_api_strict,
            torch through array-api-compat) keeps its library and device:
            every op on the Tensor computes there.
        requires_grad: whether ``backward`` should fill ``.grad``.
        dtype: dtype to force (e.g. ``np.float64`` for gradient checks; a
            NumPy dtype is mapped to the same dtype of the data's library).

    Example:
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4.], dtype=float32)
    """

    __slots__ = ("__weakref__", "_ctx", "_seq", "data", "grad", "requires_grad")
    data: Any  # an array of any array-API library
    grad: Any  # None, an array, or (after a create_graph backward) a Tensor
    requires_grad: bool
    _ctx: Any  # (vjp, inputs, need, fwd, params) of the op that made it; None for leaves
    _seq: int  # creation number of a recorded op result
    # Make NumPy defer to our reflected operators (ndarray + Tensor).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = as_float_array(data, dtype)
        if requires_grad and not _is_float(self.data):
            raise TypeError(
                "Only floating-point tensors can require gradients. "
                f"Received dtype={self.data.dtype}"
            )
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None

    @classmethod
    def _result(cls, data, ctx):
        t = Tensor.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        return t

    # --- array-like facts -------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        d = self.data
        return d.size if type(d) is _ndarray else math.prod(d.shape)

    @property
    def device(self):
        """The device the data lives on (``"cpu"`` for NumPy)."""
        return device_of(self.data)

    @property
    def xp(self):
        """The array namespace the data computes with (``numpy`` for NumPy data)."""
        return _ns(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self):
        if not self.data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self):
        """The data as a host NumPy array.

        NumPy data is returned as it is (shared, not copied); data of another
        library or device is copied to the host (``_backend.to_host``, DLPack
        first).
        """
        return to_host(self.data)

    def to(self, device=None, *, xp=None) -> Tensor:
        """A new Tensor with the same values on ``device`` (and namespace ``xp``).

        ``device`` is ``"cpu"`` (NumPy), ``"cuda"``/``"cuda:N"`` (CuPy), or,
        with ``xp=`` an array namespace, one of that namespace's devices
        (``None``: its default device), e.g.
        ``t.to(xp=array_api_strict, device=array_api_strict.Device("device1"))``.
        The result is a new leaf (``to`` is not recorded); ``requires_grad``
        is kept.  Values pass through the host when the library changes.
        """
        ns, dev = parse_device(device, xp)
        data = self.data
        if _ns(data) is ns:
            if dev is not None and dev != device_of(data):
                data = ns.asarray(data, device=dev)
        elif ns is _np:
            data = to_host(data)
        else:
            data = from_host(to_host(data), ns, dev)
        t = Tensor._result(data, None)
        t.requires_grad = self.requires_grad
        return t

    def item(self):
        d = self.data
        return d.item() if type(d) is _ndarray else to_host(d).item()

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._result(self.data, None)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        data = self.data
        where = ""
        if type(data) is not _ndarray:
            where = f", device={device_of(data)!r}"
            data = to_host(data)
        body = repr(data)
        if body.startswith("array("):
            body = body[6:-1]
        return f"tensor({body}{grad}{where})"

    def __array__(self, dtype=None, copy=None):
        # the data's library decides: a device array (CuPy, strict's device1)
        # refuses, as it would itself; Tensor.numpy() is the explicit copy
        data = self.data if type(self.data) is _ndarray else _np.asarray(self.data)
        return data if dtype is None else data.astype(dtype)

    # --- operators and methods ---------------------------------------------
    # ``name = _declare("op")``: the method is the primitive ``op`` itself
    # (no extra call per op); the others call one.
    __add__ = _declare("add")
    __sub__ = _declare("sub")
    __mul__ = _declare("mul")
    __truediv__ = _declare("div")
    __matmul__ = _declare("matmul")
    __pow__ = _declare("pow")
    __neg__ = _declare("neg")
    __abs__ = _declare("abs")

    def __radd__(self, other: Any) -> Tensor: return PRIMITIVES["add"](other, self)
    def __rsub__(self, other: Any) -> Tensor: return PRIMITIVES["sub"](other, self)
    def __rmul__(self, other: Any) -> Tensor: return PRIMITIVES["mul"](other, self)
    def __rtruediv__(self, other: Any) -> Tensor: return PRIMITIVES["div"](other, self)
    def __rmatmul__(self, other: Any) -> Tensor: return PRIMITIVES["matmul"](other, self)
    def __rpow__(self, other: Any) -> Tensor: return PRIMITIVES["pow"](other, self)
    def __pos__(self) -> Tensor: return self

    def __getitem__(self, index: Any) -> Tensor:
        # Tensors used as indices (alone or inside a tuple) are plain constants
        if isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, Tensor):
            index = index.data
        return PRIMITIVES["getitem"](self, index=index)

    # comparisons give constants (no gradient), computed in the data's namespace
    def __lt__(self, other: Any) -> Tensor: return self._compare("less", other)
    def __le__(self, other: Any) -> Tensor: return self._compare("less_equal", other)
    def __gt__(self, other: Any) -> Tensor: return self._compare("greater", other)
    def __ge__(self, other: Any) -> Tensor: return self._compare("greater_equal", other)

    def _compare(self, name: str, other: Any) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        ns = _ns(self.data)
        if ns is not _np and not isinstance(other, (int, float, bool)):
            other = _constant(other, (self,), ns)
        return Tensor._result(getattr(ns, name)(self.data, other), None)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return PRIMITIVES["sum"](self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return PRIMITIVES["mean"](self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return PRIMITIVES["max"](self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return PRIMITIVES["min"](self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return PRIMITIVES["reshape"](self, shape=shape)

    def flatten(self, start_dim: int = 0) -> Tensor:
        """The dimensions from ``start_dim`` on joined into one (as torch)."""
        return self.reshape(self.shape[:start_dim] + (-1,))

    def transpose(self, *axes: Any) -> Tensor:
        """All axes reversed, or permuted as given (``t.transpose(1, 0, 2)``)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return PRIMITIVES["transpose"](self, axes=axes or None)

    T = property(_declare("transpose"), doc="All axes reversed.")

    def astype(self, dtype: Any, copy: bool = True) -> Tensor:
        return PRIMITIVES["astype"](self, dtype=dtype)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        """Values limited to ``[min, max]`` (either bound may be None; as ``torch.clamp``)."""
        return PRIMITIVES["clip"](self, min, max)

    clamp = clip

    def positive(self) -> Tensor: return self

    relu = _declare("relu")
    sigmoid = _declare("sigmoid")
    # the array API's elementwise functions (elementwise.py), named as torch's methods
    neg = negative = _declare("neg")
    abs = _declare("abs")
    sign = _declare("sign")
    reciprocal = _declare("reciprocal")
    square = _declare("square")
    sqrt = _declare("sqrt")
    exp = _declare("exp")
    expm1 = _declare("expm1")
    log = _declare("log")
    log1p = _declare("log1p")
    log2 = _declare("log2")
    log10 = _declare("log10")
    logaddexp = _declare("logaddexp")
    sin = _declare("sin")
    cos = _declare("cos")
    tan = _declare("tan")
    asin = _declare("asin")
    acos = _declare("acos")
    atan = _declare("atan")
    atan2 = _declare("atan2")
    sinh = _declare("sinh")
    cosh = _declare("cosh")
    tanh = _declare("tanh")
    asinh = _declare("asinh")
    acosh = _declare("acosh")
    atanh = _declare("atanh")
    hypot = _declare("hypot")
    minimum = _declare("minimum")
    maximum = _declare("maximum")
    floor = _declare("floor")
    ceil = _declare("ceil")
    round = _declare("round")
    trunc = _declare("trunc")

    # --- autodiff ---------------------------------------------------------
    def backward(self, grad=None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that needs it.

        Gradients add to what ``.grad`` already holds (call ``zero_grad`` or
        set it to None to start again), as in torch.

        Args:
            grad: gradient of some scalar with respect to ``self``; may be
                omitted only when ``self`` has a single element.
            create_graph: record the backward pass itself, so the gradients
                can be differentiated again (as torch).  Each leaf's ``.grad``
                is then a Tensor carrying its graph (not an array); prefer
                :func:`grad` for gradients of gradients.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: "
                "no input of the computation had requires_grad=True "
                "(or it was computed under no_grad)."
            )
        ns = _ns(self.data)
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    "backward() without a gradient needs a scalar output; "
                    f"this tensor has shape {self.shape}. Pass grad= of that shape."
                )
            grad = ns.ones_like(self.data)
        else:
            grad = _cotangent(grad.data if isinstance(grad, Tensor) else grad, self.data, ns)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(grad): grad has shape {grad.shape}, "
                    f"expected the tensor's shape {self.shape}"
                )
            # a copy: the caller's array must never become some leaf's .grad
            grad = ns.astype(grad, self.dtype, copy=True)
        if create_graph:
            with enable_grad():
                for leaf, g in _walk([self], [grad], None, True).values():
                    leaf.grad = g if leaf.grad is None else leaf.grad + g
            return
        handed_out: set = set()
        for leaf, g in _walk([self], [grad], None, False).values():
            _accumulate_leaf(leaf, g, handed_out)

    def zero_grad(self) -> None:
        self.grad = None


def _accumulate_leaf(leaf, g, handed_out):
    """Add ``g`` into ``leaf.grad`` without ever sharing one array between two grads.

    A vjp may pass its incoming gradient straight through (add, reshape,
    concatenate give views or the very same array to several inputs), and a
    reduction's vjp gives a read-only broadcast view.  A leaf's ``.grad``
    must be its own writable array (optimisers update it in place), so such
    arrays are copied; fresh ones (a matmul result) are taken as they are.
    A second backward adds into a new array: ``.grad`` may be held by the
    caller, so it is never changed in place.
    """
    ns = _np if type(g) is _ndarray else _ns(g)
    if g.dtype != leaf.data.dtype:
        g = ns.astype(g, leaf.data.dtype)
    current = leaf.grad
    if current is None:
        # a copy where g is a view, read-only, or handed out already
        # (NumPy looks at its flags; other libraries always copy)
        g = (_own_grad_np if ns is _np else _engine_kernels(ns)[0])(ns, g, handed_out)
        handed_out.add(id(g))
        leaf.grad = g
    else:
        leaf.grad = current + g  # never mutate an array the caller may hold


def _walk(roots, root_grads, targets, graph: bool) -> dict:
    """The one backward loop, for every order: push ``root_grads`` back from ``roots``.

    ``pending`` is a max-heap (by creation number) of the op results that
    hold a gradient not yet passed on.  An op's inputs were all created
    before it, so the newest pending tensor has received every contribution
    it will get: its vjp can run.  Leaves (no creation number) only collect
    their sums; they are given them at the end.

    Args:
        roots: the Tensors the gradients start from (the roots are seeded
            like the inputs of one more op whose vjp gave ``root_grads``).
        root_grads: one gradient per root: arrays of the root's namespace,
            or Tensors when ``graph``.
        targets: id -> tensor of the tensors whose gradient is wanted
            (leaves or not, as :func:`grad`), or None for every leaf reached
            (as ``backward``).
        graph: record the pass: every vjp is re-run on Tensors with the
            differentiable namespace (:func:`_graph_vjp`), so the gradients
            are Tensors with a graph (run it under ``enable_grad``).
            Otherwise the stored vjps run on arrays.

    Returns:
        id -> ``(tensor, gradient)`` for each wanted tensor that was reached.
    """
    grads: dict = {}
    found: dict = {}
    leaves = []
    pending: list = []
    pop, push = heapq.heappop, heapq.heappush
    inputs, need, in_grads = roots, (True,) * len(roots), root_grads
    while True:
        for x, n, gx in zip(inputs, need, in_grads):
            if not n or gx is None:
                continue
            if graph and not isinstance(gx, Tensor):
                if isinstance(gx, _np.generic):
                    gx = _np.asarray(gx)
                gx = Tensor._result(gx, None)  # a constant of the recorded pass
            if gx.shape != x.data.shape:
                gx = unbroadcast(gx, x.data.shape)
            key = id(x)
            prev = grads.get(key)
            if prev is not None:
                grads[key] = prev + gx
                continue
            grads[key] = gx
            if x._ctx is None:
                leaves.append(x)
            else:
                push(pending, (-x._seq, x))
        if not pending:
            break
        node = pop(pending)[1]
        g = grads.pop(id(node))
        if targets is not None and id(node) in targets:
            found[id(node)] = (node, g)
        vjp, inputs, need, _fwd, _params = node._ctx
        in_grads = _graph_vjp(node, g) if graph else vjp(g, need)
    for leaf in leaves:
        if targets is None or id(leaf) in targets:
            found[id(leaf)] = (leaf, grads[id(leaf)])
    return found


def _graph_vjp(node, g):
    """The vjp of ``node``'s op recorded as ops: its forward re-run on Tensors.

    The namespace it runs with is the differentiable one
    (:func:`register_graph_namespace`); the stored raw vjp is not used.
    """
    _vjp, args, need, fwd, params = node._ctx
    if not getattr(fwd, "_namespaced", False):
        raise RuntimeError(
            f"create_graph=True: the primitive {fwd.__name__!r} has a vjp on raw arrays only. "
            "Expected a forward written as fwd(xp, *arrays) (see chainrule.autograd.engine)."
        )
    ns = _first_namespace(args)
    targs = [a if isinstance(a, Tensor) else _constant(a, args, ns) for a in args]
    _out, vjp = fwd(_graph_namespace, *targs, **params)
    return vjp(g, need)


def _as_tuple(x):
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not stored in ``.grad``).

    Computes Σ_k J_k(inputs)ᵀ v_k for outputs y_k with cotangents v_k (ones
    for a scalar output), as ``torch.autograd.grad``.  With
    ``create_graph=True`` the result is itself recorded, so it can be
    differentiated again (Hessian-vector products, gradient penalties).

    Args:
        outputs: a Tensor or a sequence of Tensors.
        inputs: a Tensor or a sequence of Tensors (leaves or intermediate results).
        grad_outputs: the cotangents v_k (arrays or Tensors), one per output;
            None for a single-element output means 1.
        retain_graph: accepted for torch compatibility; graphs are always kept.
        create_graph: record the backward pass so the gradients are differentiable.
        allow_unused: give None for an input the outputs do not depend on
            (otherwise that is an error).

    Returns:
        A tuple of Tensors (or None), one per input.

    Example:
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
        >>> (g,) = cr.autograd.grad((x ** 3).sum(), x, create_graph=True)
        >>> (h,) = cr.autograd.grad(g.sum(), x)          # d²/dx² x³ = 6x
        >>> h.data
        array([ 6., 12.])
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(
                f"grad: expected inputs that require grad. Received: input {i} "
                f"({type(t).__name__}, requires_grad={getattr(t, 'requires_grad', None)})"
            )
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor) or hasattr(grad_outputs, "shape"):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: expected one grad_output per output ({len(outputs)}). "
            f"Received: {len(grad_outputs)}"
        )
    roots, root_grads = [], []
    for i, (y, v) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(y, Tensor) or not y.requires_grad:
            raise RuntimeError(
                f"grad: element {i} of outputs does not require grad and has no graph"
            )
        ns = _ns(y.data)
        if v is None:
            if y.size != 1:
                raise RuntimeError(
                    "grad: grad_outputs may be omitted only for single-element outputs; "
                    f"output {i} has shape {y.shape}"
                )
            v = ns.ones_like(y.data)
        elif create_graph and isinstance(v, Tensor):
            pass
        else:
            v = _cotangent(v.data if isinstance(v, Tensor) else v, y.data, ns)
            v = ns.astype(v, y.dtype, copy=False)
        if v.shape != y.shape:
            raise ValueError(
                f"grad: grad_outputs[{i}] has shape {v.shape}, expected {y.shape}"
            )
        roots.append(y)
        root_grads.append(v)
    targets = {id(t): t for t in inputs}
    if create_graph:
        with enable_grad():
            found = _walk(roots, root_grads, targets, True)
    else:
        found = _walk(roots, root_grads, targets, False)
    result: list[Tensor | None] = []
    for i, t in enumerate(inputs):
        g = found.get(id(t), (None, None))[1]
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} was not used to compute the outputs. "
                    "Set allow_unused=True to get None for it."
                )
            result.append(None)
            continue
        if not isinstance(g, Tensor):
            ns = _ns(g)
            if g.dtype != t.dtype:
                g = ns.astype(g, t.dtype)
            g = Tensor._result(_engine_kernels(ns)[0](ns, g, ()), None)
        result.append(g)
    return tuple(result)


def _first_namespace(args):
    """The namespace of the first Tensor among ``args`` (NumPy when there is none)."""
    for a in args:
        if isinstance(a, Tensor):
            return _ns(a.data)
    return _np


def _constant(value, args, ns=_np):
    """A non-Tensor operand: it takes the namespace, device and float dtype of the
    tensors it meets.

    Python scalars stay as they are (array libraries treat them as weakly
    typed, so ``x * 0.5`` keeps x's dtype).  A float array (or NumPy float
    scalar) wider than the first floating Tensor operand is cast down to its
    dtype: ``x - np.arange(3.0)`` stays float32 for a float32 ``x``, as if
    the constant had gone through ``cr.tensor``.  Integer and boolean
    constants (class ids, masks) keep their dtype.  With Tensors of another
    library than NumPy (``ns``), host constants (NumPy arrays, lists, NumPy
    scalars) are moved to that library and to the first Tensor's device.
    """
    if value is None or type(value) in (bool, int, float):  # not np.float64
        return value
    if ns is _np:
        arr = _np.asarray(value)
        if arr.dtype.kind != "f":
            return arr
        for a in args:
            if isinstance(a, Tensor) and a.data.dtype.kind == "f":
                if arr.dtype.itemsize > a.data.dtype.itemsize:
                    arr = arr.astype(a.data.dtype)
                break
        return arr
    first = None
    for a in args:
        if isinstance(a, Tensor) and _is_float(a.data):
            first = a.data
            break
    if first is None:
        for a in args:
            if isinstance(a, Tensor):
                first = a.data
                break
    if type(value) is _ndarray or isinstance(value, (_np.generic, list, tuple)):
        arr = _np.asarray(value)
        dtype = None
        if (arr.dtype.kind == "f" and first is not None and _is_float(first)
                and arr.dtype.itemsize > _itemsize(first)):
            dtype = first.dtype
        return from_host(arr, ns, None if first is None else device_of(first), dtype)
    arr = value
    if (first is not None and _is_float(first) and _is_float(arr)
            and arr.dtype != first.dtype and _itemsize(arr) > _itemsize(first)):
        arr = ns.astype(arr, first.dtype)
    return arr


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a Tensor; float data becomes float32 unless ``dtype`` is given.

    ``data`` may be an array of any array-API library (NumPy, CuPy,
    array_api_strict, torch through array-api-compat): the Tensor keeps its
    library and device, and every op on it computes there.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)

