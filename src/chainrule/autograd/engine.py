"""The reverse-mode engine: the Tensor class, the primitive decorator, backward.

Every differentiable operation is a *primitive*: a forward function on plain
arrays that returns ``(out, vjp)``, where ``vjp(g, need)`` maps the gradient
of the output to one gradient per positional input (``None`` where
``need[i]`` is false).  Forward and vjp live side by side in ``ops.py``; the
engine records ``(vjp, inputs, need)`` on the output tensor and nothing else.

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
import itertools
import threading

from .._backend import as_float_array, xp

__all__ = [
    "PRIMITIVES",
    "Tensor",
    "enable_grad",
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
    """Sum ``g`` down to ``shape``: the vjp of NumPy broadcasting."""
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
    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that needs it.

        Args:
            grad: gradient of some scalar with respect to ``self``; may be
                omitted only when ``self`` has a single element.
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
        vjp, inputs, need = node._ctx
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
    """Turn ``fwd(*arrays, **params) -> (out, vjp)`` into a differentiable op.

    Positional arguments may be Tensors or constants (arrays, scalars);
    keyword arguments are non-differentiable parameters (axis, shape...).
    ``vjp(g, need)`` returns one gradient per positional argument, computing
    only those with ``need[i]`` true.  The op is registered in PRIMITIVES.
    """

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
        out, vjp = fwd(*arrays, **params)
        if type(out) is not _ndarray:
            out = xp.asarray(out)  # NumPy returns scalars for 0-d results
        t = _new_tensor(Tensor)
        t.data = out
        t.grad = None
        if _mode.enabled and True in need:
            t.requires_grad = True
            t._ctx = (vjp, args, tuple(need))
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

