"""The reverse-mode engine: the Tensor class, the primitive decorator, backward.

Every differentiable operation is a *primitive*: a forward function
``fwd(xp, *arrays, **params)`` that returns ``(out, vjp)``, where
``vjp(g, need)`` maps the gradient of the output to one gradient per
positional input (``None`` where ``need[i]`` is false).  Forward and vjp live
side by side in ``ops.py`` and are written once against the array namespace
``xp`` they receive.  The engine records ``(vjp, inputs, need, fwd, params)``
on the output tensor and nothing else.

Two namespaces run the same code:

- the raw one (:data:`RAW`, NumPy) when a forward is recorded: the vjp
  closes over plain arrays and ``backward()`` runs on arrays (the fast
  path, no graph is built);
- the differentiable one (:data:`GRAPH`, chainrule's own ops on Tensors)
  when ``backward(create_graph=True)`` or ``grad(..., create_graph=True)``
  reaches the op: the engine runs the forward again on the input *Tensors*
  with ``xp=GRAPH``, so its vjp closes over Tensors and every operation in
  it is recorded.  Gradients of gradients come from the same lines.

Every recorded op result gets a creation number (``_seq``) from one global
counter, so an op's result is always numbered after the results it was
computed from.  ``Tensor.backward`` therefore needs no graph sort: it keeps
the tensors that have received a gradient but not yet passed it on in a
heap keyed by creation number and always takes the newest, so each one is
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
import threading

from .._backend import as_float_array, xp

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

#: name -> op, for every primitive; tests drive the gradient checks from it.
PRIMITIVES: dict = {}


class _GradModeState(threading.local):
    """Whether ops are recorded, one flag per thread (True on a new thread)."""

    enabled = True


_mode = _GradModeState()
_ndarray = xp.ndarray
#: The raw array namespace forwards and vjps compute with on the fast path.
RAW = xp
_new_tensor = object.__new__
_next_seq = itertools.count().__next__  # creation numbers of recorded op results


def is_grad_enabled() -> bool:
    """Whether operations on the calling thread are being recorded for backward."""
    return _mode.enabled


class _GradMode:
    """Context manager / decorator that sets whether ops are recorded.

    The setting is per thread (like PyTorch's): ``no_grad()`` on one thread
    leaves every other thread recording.  A new thread starts recording.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.prev = []

    def __enter__(self):
        self.prev.append(_mode.enabled)
        _mode.enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def no_grad(fn=None):
    """Record nothing inside: ``with cr.no_grad(): ...`` (on this thread only).

    Also a decorator, written ``@cr.no_grad()`` or ``@cr.no_grad``.  Results
    computed inside have ``requires_grad=False`` and no graph.
    """
    mode = _GradMode(False)
    return mode if fn is None else mode(fn)


def enable_grad(fn=None):
    """Record ops again inside a ``no_grad`` block (context or decorator)."""
    mode = _GradMode(True)
    return mode if fn is None else mode(fn)


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the vjp of NumPy broadcasting.

    ``g`` is an array, or a gradient Tensor in a ``create_graph`` backward:
    the same sums are then recorded ops, differentiable again.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra == 1 and g.ndim == 2 and g.dtype.kind == "f":
        # a bias broadcast over rows: column sums as one BLAS product, much
        # faster than NumPy's axis-0 sum of a float32 matrix (see ops._column_sums)
        g = xp.ones(g.shape[0], dtype=g.dtype) @ g
    elif extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if g.shape != shape:
        raise ValueError(
            f"gradient of shape {g.shape} cannot be summed down to the "
            f"input's shape {shape} (a vjp returned the wrong shape)"
        )
    return g


class Tensor:
    """An array with an optional gradient and a record of how it was made.

    Args:
        data: array-like; float data becomes float32 unless ``dtype`` says.
        requires_grad: whether ``backward`` should fill ``.grad``.
        dtype: NumPy dtype to force (e.g. ``np.float64`` for gradient checks).

    Example:
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([2., 4.], dtype=float32)
    """

    __slots__ = ("__weakref__", "_ctx", "_seq", "data", "grad", "requires_grad")
    # Make NumPy defer to our reflected operators (ndarray + Tensor).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = as_float_array(data, dtype)
        if requires_grad and self.data.dtype.kind not in "fc":
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
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self):
        return len(self.data)

    def numpy(self):
        """The underlying ``np.ndarray`` (shared, not copied)."""
        return self.data

    def item(self):
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._result(self.data, None)

    def __float__(self):
        return float(self.data.item())

    def __int__(self):
        return int(self.data.item())

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = repr(self.data)
        if body.startswith("array("):
            body = body[6:-1]
        return f"tensor({body}{grad})"

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    # --- autodiff ---------------------------------------------------------
    def backward(self, grad=None, create_graph: bool = False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that needs it.

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
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    "backward() without a gradient needs a scalar output; "
                    f"this tensor has shape {self.shape}. Pass grad= of that shape."
                )
            grad = xp.ones_like(self.data)
        else:
            grad = xp.asarray(grad.data if isinstance(grad, Tensor) else grad)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(grad): grad has shape {grad.shape}, "
                    f"expected the tensor's shape {self.shape}"
                )
            # a copy: the caller's array must never become some leaf's .grad
            grad = grad.astype(self.dtype, copy=True)
        if create_graph:
            grads = _backward_graph([self], [grad], None)
            for leaf, g in grads.items():
                leaf.grad = g if leaf.grad is None else leaf.grad + g
            return
        _backward(self, grad)

    def zero_grad(self):
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
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    current = leaf.grad
    if current is None:
        flags = g.flags
        if id(g) in handed_out or not (flags.owndata and flags.writeable):
            g = xp.array(g)  # a copy (and an ndarray, never a NumPy scalar)
        handed_out.add(id(g))
        leaf.grad = g
    else:
        leaf.grad = current + g  # never mutate an array the caller may hold


def _backward(root, grad):
    """Propagate ``grad`` from ``root`` to every leaf that needs it.

    ``pending`` is a max-heap (by creation number) of the op results that
    hold a gradient not yet passed on.  An op's inputs were all created
    before it, so the newest pending tensor has received every contribution
    it will get: its vjp can run.  Leaves (no creation number) only collect
    their sums in ``grads``; they are given them at the end.
    """
    handed_out = set()
    if root._ctx is None:
        _accumulate_leaf(root, grad, handed_out)
        return
    grads = {id(root): grad}
    pending = [(-root._seq, root)]
    leaves = []
    pop, push = heapq.heappop, heapq.heappush
    while pending:
        node = pop(pending)[1]
        vjp, inputs, need, _fwd, _params = node._ctx
        in_grads = vjp(grads.pop(id(node)), need)
        for x, n, gx in zip(inputs, need, in_grads):
            if not n or gx is None:
                continue
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
    for leaf in leaves:
        _accumulate_leaf(leaf, grads.pop(id(leaf)), handed_out)


def _graph_vjp(node, g):
    """The vjp of ``node``'s op recorded as ops: its forward re-run on Tensors with GRAPH."""
    from ._namespace import GRAPH  # the namespace imports the ops, which import us

    _vjp, args, need, fwd, params = node._ctx
    if not getattr(fwd, "_namespaced", False):
        raise RuntimeError(
            f"create_graph=True: the primitive {fwd.__name__!r} has a vjp on raw arrays only. "
            "Expected a forward written as fwd(xp, *arrays) (see chainrule.autograd.engine)."
        )
    targs = [a if isinstance(a, Tensor) else _constant(a, args) for a in args]
    _out, vjp = fwd(GRAPH, *targs, **params)
    return vjp(g, need)


def _propagate(roots, root_grads, targets, graph):
    """Push ``root_grads`` back from ``roots``; return {id: gradient} of ``targets``.

    ``targets`` maps id -> tensor for the tensors whose gradient is wanted
    (leaves or not); ``None`` means every leaf that requires grad (as
    ``backward``).  With ``graph`` the gradients are Tensors and every vjp
    is recorded (:func:`_graph_vjp`); otherwise they are arrays.
    """
    grads = {}
    pending = []
    leaves = {}
    found = {}

    def receive(x, gx):
        key = id(x)
        prev = grads.get(key)
        if prev is not None:
            grads[key] = prev + gx
            return
        grads[key] = gx
        if x._ctx is None:
            leaves[key] = x
        else:
            heapq.heappush(pending, (-x._seq, x))

    for r, g in zip(roots, root_grads):
        receive(r, g)
    while pending:
        node = heapq.heappop(pending)[1]
        g = grads.pop(id(node))
        if targets is not None and id(node) in targets:
            found[id(node)] = g
        need = node._ctx[2]
        in_grads = _graph_vjp(node, g) if graph else node._ctx[0](g, need)
        for x, n, gx in zip(node._ctx[1], need, in_grads):
            if not n or gx is None:
                continue
            if graph and not isinstance(gx, Tensor):
                gx = Tensor._result(xp.asarray(gx), None)
            if gx.shape != x.data.shape:
                gx = unbroadcast(gx, x.data.shape)
            receive(x, gx)
    for key in leaves:
        if targets is None or key in targets:
            found[key] = grads[key]
    return found


def _backward_graph(roots, root_grads, inputs):
    """``backward(create_graph=True)``: {leaf: gradient Tensor} for every leaf reached."""
    with enable_grad():
        root_grads = [g if isinstance(g, Tensor) else Tensor._result(g, None)
                      for g in root_grads]
        found = _propagate(roots, root_grads, None, True)
    leaves = {}
    _collect_leaves(roots, leaves)
    return {leaves[k]: g for k, g in found.items() if k in leaves}


def _collect_leaves(roots, out):
    """id -> leaf for the leaves requiring grad under ``roots`` (iterative walk)."""
    seen = set()
    stack = list(roots)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._ctx is None:
            if t.requires_grad:
                out[id(t)] = t
            continue
        stack.extend(a for a in t._ctx[1] if isinstance(a, Tensor) and a.requires_grad)


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
    elif isinstance(grad_outputs, (Tensor, xp.ndarray)):
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
        if v is None:
            if y.data.size != 1:
                raise RuntimeError(
                    "grad: grad_outputs may be omitted only for single-element outputs; "
                    f"output {i} has shape {y.shape}"
                )
            v = xp.ones_like(y.data)
        elif create_graph and isinstance(v, Tensor):
            pass
        else:
            v = xp.asarray(v.data if isinstance(v, Tensor) else v).astype(y.dtype, copy=False)
        if v.shape != y.shape:
            raise ValueError(
                f"grad: grad_outputs[{i}] has shape {v.shape}, expected {y.shape}"
            )
        roots.append(y)
        root_grads.append(v)
    targets = {id(t): t for t in inputs}
    if create_graph:
        with enable_grad():
            root_grads = [v if isinstance(v, Tensor) else Tensor._result(v, None)
                          for v in root_grads]
            found = _propagate(roots, root_grads, targets, True)
    else:
        found = _propagate(roots, root_grads, targets, False)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} was not used to compute the outputs. "
                    "Set allow_unused=True to get None for it."
                )
            result.append(None)
            continue
        if not isinstance(g, Tensor):
            if g.dtype != t.dtype:
                g = g.astype(t.dtype)
            if not (g.flags.owndata and g.flags.writeable):
                g = xp.array(g)
            g = Tensor._result(g, None)
        result.append(g)
    return tuple(result)


def _constant(value, args):
    """A non-Tensor operand: it takes the float dtype of the tensors it meets.

    Python scalars stay as they are (NumPy treats them as weakly typed, so
    ``x * 0.5`` keeps x's dtype).  A float array (or NumPy float scalar)
    wider than the first floating Tensor operand is cast down to its dtype:
    ``x - np.arange(3.0)`` stays float32 for a float32 ``x``, as if the
    constant had gone through ``cr.tensor``.  Integer and boolean constants
    (class ids, masks) are left alone, and so is everything when no
    floating Tensor is among the operands.
    """
    if value is None or type(value) in (bool, int, float):  # not np.float64
        return value
    arr = xp.asarray(value)
    if arr.dtype.kind != "f":
        return arr
    for a in args:
        if isinstance(a, Tensor) and a.data.dtype.kind == "f":
            if arr.dtype.itemsize > a.data.dtype.itemsize:
                arr = arr.astype(a.data.dtype)
            break
    return arr


def primitive(fwd):
    """Turn ``fwd(xp, *arrays, **params) -> (out, vjp)`` into a differentiable op.

    Positional arguments may be Tensors or constants (arrays, scalars);
    keyword arguments are non-differentiable parameters (axis, shape...).
    ``vjp(g, need)`` returns one gradient per positional argument, computing
    only those with ``need[i]`` true.  The op is registered in PRIMITIVES.

    ``xp`` is the array namespace the forward and its vjp compute with: the
    raw one when the op runs, the differentiable one when a
    ``create_graph=True`` backward re-runs it on Tensors (module doc).  A
    forward without a first parameter named ``xp`` or ``ns`` (``fwd(*arrays)``) still
    works, but its gradient cannot be differentiated again.
    """
    params_list = list(inspect.signature(fwd).parameters)
    # ``ns`` where a module's own raw helpers already use the name ``xp``
    namespaced = bool(params_list) and params_list[0] in ("xp", "ns")
    fwd._namespaced = namespaced
    call = functools.partial(fwd, RAW) if namespaced else fwd

    # This wrapper is the tape's whole per-op cost, so it is written for
    # speed: one pass over the arguments, no generator, no extra calls.
    def op(*args, **params):
        arrays = []
        need = []
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                need.append(a.requires_grad)
            else:
                arrays.append(_constant(a, args))
                need.append(False)
        out, vjp = call(*arrays, **params)
        if type(out) is not _ndarray:
            out = xp.asarray(out)  # NumPy returns scalars for 0-d results
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

    op.__name__ = fwd.__name__
    op.__qualname__ = fwd.__qualname__
    op.__doc__ = fwd.__doc__
    op.__wrapped__ = fwd
    PRIMITIVES[fwd.__name__] = op
    return op


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a Tensor; float data becomes float32 unless ``dtype`` is given."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)

