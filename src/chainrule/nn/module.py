"""Module: the base class of layers and models (PyTorch's design).

Parameters, buffers and submodules assigned as attributes are found
automatically, in assignment order.  Each module has its own training flag
(:meth:`train` / :meth:`eval`); there is no global mode.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..autograd.engine import Tensor
from .parameter import Parameter


class Module:
    """Base class: subclasses define ``__init__`` (layers) and ``forward``."""

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

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Keep ``array`` as non-trainable state saved in ``state_dict``."""
        object.__setattr__(self, name, array)
        self._buffers[name] = name

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            object.__setattr__(self, name, None)
            return
        setattr(self, name, param)

    def add_module(self, name: str, module: "Module") -> None:
        setattr(self, name, module)

    # --- traversal --------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        """Yield (qualified name, module) for self and all descendants."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, mod = stack.pop(0)
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            for child_name, child in mod._modules.items():
                stack.append((f"{name}.{child_name}" if name else child_name, child))

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

    def named_buffers(self):
        for mod_name, mod in self.named_modules():
            for name in mod._buffers:
                yield (f"{mod_name}.{name}" if mod_name else name), getattr(mod, name)

    # --- modes ------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode on this module and all its descendants."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Set inference mode (dropout off, batch norm uses running stats)."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.parameters():
            p.grad = None

    # --- state ------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of all parameters and buffers, by qualified name."""
        out = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = p.data.copy()
        for name, b in self.named_buffers():
            out[name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays *into* the existing parameters and buffers.

        Shapes must match exactly; with ``strict`` the key sets must too.
        Values are written in place, so optimiser buffers stay valid.
        """
        own = dict(self.named_parameters())
        bufs = {}
        for mod_name, mod in self.named_modules():
            for name in mod._buffers:
                bufs[f"{mod_name}.{name}" if mod_name else name] = (mod, name)
        if strict:
            missing = [k for k in list(own) + list(bufs) if k not in state]
            unexpected = [k for k in state if k not in own and k not in bufs]
            if missing or unexpected:
                raise KeyError(
                    "load_state_dict: state does not match this model's architecture; "
                    f"missing keys {missing}, unexpected keys {unexpected}"
                )
        for key, value in state.items():
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if key in own:
                target = own[key].data
            elif key in bufs:
                mod, name = bufs[key]
                target = getattr(mod, name)
            else:
                continue
            if target.shape != value.shape:
                raise ValueError(
                    f"load_state_dict: '{key}' has shape {value.shape} in the state "
                    f"but {target.shape} in this model"
                )
            target[...] = value

    # --- calling ----------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

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
