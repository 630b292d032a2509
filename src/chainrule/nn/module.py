"""Module: the base class of layers and models (PyTorch's design).

Parameters, buffers and submodules assigned as attributes are found
automatically, in assignment order.  Each module has its own training flag
(:meth:`train` / :meth:`eval`); there is no global mode.

Devices: :meth:`Module.to` moves parameters and buffers to another array
namespace or device (the Parameter objects stay the same, so optimisers
built before keep working; their state follows on their next step);
:meth:`Module.state_dict` always returns host NumPy arrays, and
:meth:`Module.load_state_dict` writes values onto each parameter's device.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .._backend import device_of, dtype_in, from_host, namespace_of, parse_device, to_host
from .._state_dict import IncompatibleKeys, StateDict
from ..autograd.engine import Tensor, _is_float
from ._state_io import load_into
from .parameter import Parameter


def _is_array(value) -> bool:
    """An array of any array-API library (a buffer's value), not a Tensor."""
    return (
        not isinstance(value, (Tensor, Module))
        and hasattr(value, "shape")
        and hasattr(value, "dtype")
        and not isinstance(value, np.generic)
    )


def _default_device(ns, device):
    """``device``, or the default device of namespace ``ns`` when None."""
    if device is not None:
        return device
    info = getattr(ns, "__array_namespace_info__", None)
    return info().default_device() if info is not None else None


def _place(a, ns, device):
    """Array ``a`` in namespace ``ns`` on ``device`` (itself if already there; else a copy)."""
    if namespace_of(a) is ns and device_of(a) == device:
        return a
    host = np.array(to_host(a), copy=True)  # never shares memory with the old array
    return from_host(host, ns, device, host.dtype)


_DTYPE_NAMES = {"float16": "float16", "half": "float16", "float32": "float32",
                "float": "float32", "float64": "float64", "double": "float64"}


def _as_dtype(obj):
    """A floating NumPy dtype for a dtype-like ``obj`` (NumPy, its name, torch's), else None."""
    if isinstance(obj, str):
        name = _DTYPE_NAMES.get(obj.removeprefix("torch."))
        return None if name is None else np.dtype(name)
    if type(obj).__module__.split(".")[0] == "torch" and not hasattr(obj, "index"):
        name = _DTYPE_NAMES.get(str(obj).removeprefix("torch."))  # a torch.dtype
        if name is None:
            raise TypeError(f"Expected a floating dtype. Received: {obj}")
        return np.dtype(name)
    try:
        dtype = np.dtype(obj)
    except TypeError:
        return None
    if dtype.kind != "f":
        raise TypeError(
            f"Expected a floating dtype (Module.to casts floating parameters and buffers). "
            f"Received: {dtype}"
        )
    return dtype


def _to_arguments(args: tuple, device, dtype):
    """(device, dtype) of ``Module.to``'s PyTorch-style positional arguments."""
    if len(args) > 2:
        raise TypeError(f"Expected to(device), to(dtype) or to(device, dtype). Received: {args}")
    for arg in args:
        as_dtype = None if arg is None or isinstance(arg, (int, Tensor)) else _as_dtype(arg)
        if as_dtype is not None:
            if dtype is not None:
                raise TypeError(f"Expected one dtype. Received: {dtype} and {arg}")
            dtype = as_dtype
        elif device is None:
            device = arg
        else:
            raise TypeError(f"Expected one device. Received: {device!r} and {arg!r}")
    if dtype is not None:
        as_dtype = _as_dtype(dtype)
        if as_dtype is None:
            raise TypeError(f"Expected a floating dtype. Received: dtype={dtype!r}")
        dtype = as_dtype
    return device, dtype


def _cast(a, dtype):
    """Array ``a`` as ``dtype`` in its own namespace (itself if it has that dtype)."""
    ns = namespace_of(a)
    target = dtype_in(ns, dtype)
    return a if a.dtype == target else ns.astype(a, target)


class _HookHandle:
    """Removes one registered hook: ``handle.remove()``."""

    _next_id = 0

    def __init__(self, hooks: OrderedDict):
        self.hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)


class Module:
    """Base class: subclasses define ``__init__`` (layers) and ``forward``."""

    # set in __init__ (object.__setattr__); declared for type checkers
    training: bool
    _parameters: OrderedDict
    _buffers: OrderedDict
    _modules: OrderedDict
    #: names of 2-D parameters kept in PyTorch's layout (Embedding's weight):
    #: ``cr.interop`` leaves them untransposed (see ``state_dict``)
    _torch_layout: tuple[str, ...] = ()

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration -----------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() "
                "before assigning attributes"
            )
        if name in self._buffers and (value is None or _is_array(value)):
            # assigning a new array to a buffer keeps it a buffer (as PyTorch)
            object.__setattr__(self, name, value)
            return
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Keep ``array`` as non-trainable state saved in ``state_dict``.

        ``array`` is an array of any array-API library (NumPy, CuPy,
        array_api_strict, torch) or None.  Later assignments
        ``self.name = new_array`` keep it a buffer; a buffer set to None is
        left out of ``state_dict``.
        """
        if array is not None and not _is_array(array):
            raise TypeError(
                f"Expected buffer '{name}' to be an array (e.g. an np.ndarray) or None. "
                f"Received: {type(array).__name__}"
            )
        for table in (self._parameters, self._modules):
            table.pop(name, None)
        object.__setattr__(self, name, array)
        self._buffers[name] = name

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            object.__setattr__(self, name, None)
            return
        setattr(self, name, param)

    def add_module(self, name: str, module: Module) -> None:
        setattr(self, name, module)

    # --- traversal --------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        """Yield (qualified name, module) for self and all descendants.

        Depth first, parents before children, children in assignment order
        (PyTorch's order, so parameter lists line up with torch's); a module
        reachable twice appears once, under its first name.
        """
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in mod._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix: str = ""):
        """Yield (qualified name, Parameter); a shared Parameter appears once."""
        seen = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalars in the parameters (a shared Parameter counted once).

        Args:
            trainable_only: count only parameters with ``requires_grad``.
        """
        return sum(
            int(np.prod(p.shape)) for p in self.parameters() if p.requires_grad or not trainable_only
        )

    def named_buffers(self):
        """Yield (qualified name, array) for every buffer that is not None."""
        for mod_name, mod in self.named_modules():
            for name in mod._buffers:
                value = getattr(mod, name)
                if value is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), value

    # --- modes ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and all its descendants."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set inference mode (dropout off, batch norm uses running stats)."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.parameters():
            p.grad = None

    # --- devices ----------------------------------------------------------
    def to(self, *args, device=None, dtype=None, xp=None) -> Module:
        """Move every parameter and buffer to ``device`` and/or cast to ``dtype`` (in place).

        Called as PyTorch's: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        or with keywords; returns self.

        Args:
            device: ``"cpu"``/``"cpu:0"`` (NumPy, the default), ``"cuda"`` or
                ``"cuda:N"`` (CuPy on that GPU; extra ``[cuda]``), a
                ``torch.device``, or, with ``xp``, one of that namespace's
                devices (None: its default device).  Parsed by
                :func:`chainrule._backend.parse_device`: anything else is refused.
            dtype: a floating dtype (``np.float64``, ``"float64"``,
                ``torch.float64``): floating parameters and buffers are cast
                to it; integer buffers (``num_batches_tracked``) stay.
            xp: any array-API namespace, e.g. ``array_api_strict`` or
                ``array_api_compat.torch``, or ``"numpy"``, ``"cupy"``, ``"torch"``.

        Each Parameter keeps its identity (optimisers built before still
        hold it; their state follows on their next step): its ``data`` is
        replaced by a copy in the new place or dtype, and a gradient it
        holds is moved or cast too.  Buffers (batch-norm running statistics)
        are treated the same way.  Values are copied through the host
        (``to_host``, DLPack first), so a move does not change the numbers.

        Example:
            >>> model.to("cuda")                              # CuPy, GPU 0
            >>> model.to(xp=array_api_strict,
            ...          device=array_api_strict.Device("device1"))
            >>> model.to(np.float64)                          # as model.double()
            >>> model.to("cpu")                               # back to NumPy
        """
        device, dtype = _to_arguments(args, device, dtype)
        if device is not None or xp is not None or dtype is None:
            ns, dev = parse_device(device, xp)
            dev = _default_device(ns, dev)
            self._apply(lambda a: _place(a, ns, dev))
        if dtype is not None:
            self._apply(lambda a: _cast(a, dtype), floating_only=True)
        return self

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64 (``to(np.float64)``); return self."""
        return self.to(dtype=np.float64)

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32 (``to(np.float32)``); return self."""
        return self.to(dtype=np.float32)

    def half(self) -> Module:
        """Cast floating parameters and buffers to float16 (``to(np.float16)``); return self."""
        return self.to(dtype=np.float16)

    def _apply(self, fn, floating_only: bool = False) -> None:
        """Replace each parameter's data and grad, and each buffer, by ``fn`` of it."""
        for p in self.parameters():
            if floating_only and not _is_float(p.data):
                continue
            p.data = fn(p.data)
            g = p.grad
            if g is not None:
                p.grad = fn(g.data if isinstance(g, Tensor) else g)
        for mod in self.modules():
            for name in mod._buffers:
                value = getattr(mod, name)
                if value is not None and (not floating_only or _is_float(value)):
                    object.__setattr__(mod, name, fn(value))

    @property
    def device(self):
        """The device of the first parameter (or buffer); ``"cpu"`` if there is none."""
        for p in self.parameters():
            return device_of(p.data)
        for _, value in self.named_buffers():
            return device_of(value)
        return "cpu"

    # --- state ------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """Copies of all parameters and buffers as host NumPy arrays, by qualified name.

        Module by module (depth first), each module's parameters then its
        buffers, as PyTorch orders them; a shared parameter appears once.
        Arrays on a device are copied to the host (``to_host``), so a state
        dict can always be saved and loaded onto any device.  The result is
        a :class:`~chainrule._state_dict.StateDict` recording chainrule's
        weight layout (Linear weights (in, out)).
        """
        out = StateDict(layout="chainrule")
        seen = set()
        out._torch_layout = self._torch_layout_keys()  # type: ignore[attr-defined]
        for mod_name, mod in self.named_modules():
            dot = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    out[dot + name] = np.array(to_host(p.data), copy=True)
            for name in mod._buffers:
                value = getattr(mod, name)
                if value is not None:
                    out[dot + name] = np.array(to_host(value), copy=True)
        return out

    def _torch_layout_keys(self) -> frozenset:
        """Qualified names of the parameters that keep PyTorch's layout."""
        return frozenset(
            (f"{mod_name}." if mod_name else "") + name
            for mod_name, mod in self.named_modules() for name in mod._torch_layout)

    def load_state_dict(self, state: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays *into* the existing parameters and buffers.

        Shapes must match exactly; with ``strict`` the key sets must too.
        Everything is checked before anything is written, so a failed load
        leaves the model unchanged.  Values are written in place
        (``p.data[...] = value``), so optimiser buffers and views stay valid;
        they may be host arrays or arrays of any namespace and device, and
        are written onto each parameter's (buffer's) device.

        ``state`` may also be what ``cr.load`` returns for a run's
        ``model.npz`` or ``checkpoint.npz``: a dict whose ``"model"`` entry
        is the state dict.

        Weight layout: a state dict in PyTorch's layout (``torch_model.
        state_dict()``, torch tensors under 2-D weights, or the result of
        ``cr.interop.to_torch_state_dict``) is refused, since a square
        Linear weight would load transposed without an error; convert it
        with ``cr.interop.from_torch_state_dict``.  A file of unknown origin
        (a ``.safetensors`` file another library wrote) is refused where a
        square 2-D weight makes the layout ambiguous.  Integer values for a
        floating parameter are refused (a file whose header misstates the
        dtype).

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``, as torch.

        Raises:
            TypeError: ``state`` is not a mapping, or an integer array for a
                floating parameter.
            KeyError: ``strict`` and keys are missing or unexpected.
            ValueError: an array's shape differs from the model's, or the
                layout is PyTorch's or ambiguous.
        """
        targets = {name: p.data for name, p in self.named_parameters()}
        targets.update(self.named_buffers())
        return load_into(targets, self._torch_layout_keys(), state, strict)

    # --- calling ----------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        out = self.forward(*args, **kwargs)
        hooks = self.__dict__.get("_forward_hooks")
        if hooks:
            for hook in tuple(hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_hook(self, hook) -> _HookHandle:
        """Call ``hook(module, args, output)`` after every forward pass (as PyTorch).

        A hook that returns a value replaces the output.  Returns a handle
        whose ``remove()`` unregisters the hook.  Used by
        ``regularization.ActivityRegularizer`` to read a layer's output.
        """
        if not callable(hook):
            raise TypeError(f"Expected a callable hook. Received: {hook!r}")
        hooks = self.__dict__.get("_forward_hooks")
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, "_forward_hooks", hooks)
        handle = _HookHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            for name, m in self._modules.items():
                child = repr(m).replace("\n", "\n  ")
                lines.append(f"  ({name}): {child}")
            return "\n".join(lines) + "\n)"
        return lines[0] + ")"


def float_input(x, dtype) -> Tensor:
    """``x`` as a Tensor; integer or boolean data become ``dtype`` (the layer's weights).

    NumPy would promote int64 times float32 to float64: a layer's output
    keeps its weights' precision instead.  Integer data carries no gradient,
    so the cast loses nothing.
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if not _is_float(x.data):
        from .._backend import dtype_in, namespace_of

        ns = namespace_of(x.data)
        x = Tensor(ns.astype(x.data, dtype_in(ns, dtype)))
    return x
