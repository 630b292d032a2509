"""Loading a state dict into a module's arrays: every check first, then every write.

``Module.load_state_dict`` gathers the module's arrays by qualified name and
hands them here, with the names of the weights it keeps in PyTorch's
layout (Embedding, recurrent layers).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._backend import device_of, from_host, namespace_of, to_host
from .._state_dict import IncompatibleKeys, layout_of
from ..autograd.engine import Tensor, _is_float

__all__ = ["load_into"]


def _check_layout(key: str, target, value, layout) -> None:
    """Refuse a 2-D weight in PyTorch's layout, or one of unknown layout where square."""
    if len(target.shape) != 2 or not key.endswith("weight"):
        return
    if layout == "torch":
        raise ValueError(
            f"load_state_dict: '{key}' comes from a state dict in PyTorch's layout (Linear "
            "weights (out, in)); convert it first: "
            "model.load_state_dict(cr.interop.from_torch_state_dict(state))"
        )
    if layout is None and target.shape[0] == target.shape[1]:
        raise ValueError(
            f"load_state_dict: '{key}' is square {tuple(target.shape)} and the state's origin "
            "is unknown (a file chainrule did not write), so its layout is ambiguous. For "
            "a PyTorch file use cr.interop.from_torch_state_dict(state); if it is in "
            "chainrule's (in, out) layout, set state.layout = 'chainrule'"
        )


def load_into(targets: dict, torch_layout: frozenset, state, strict: bool) -> IncompatibleKeys:
    """Write ``state`` into the arrays ``targets`` (name -> array), as
    :meth:`chainrule.nn.Module.load_state_dict` describes; nothing is
    written unless every entry passes."""
    if not isinstance(state, Mapping):
        raise TypeError(
            "load_state_dict: expected a state dict (a mapping of names to arrays, "
            f"e.g. model.state_dict() or cr.load(path)). Received: {type(state).__name__}"
        )
    inner = state.get("model") if "model" not in targets else None
    if isinstance(inner, dict):  # a saved checkpoint: {"model": ..., "extra": ...}
        state = inner
    missing = [k for k in targets if k not in state]
    unexpected = [k for k in state if k not in targets]
    if strict and (missing or unexpected):
        raise KeyError(
            "load_state_dict: state does not match this model's architecture; "
            f"missing keys {missing}, unexpected keys {unexpected}"
        )
    layout = layout_of(state)
    writes = []
    # cr.interop.from_torch_state_dict transposes every 2-D weight: undo it where
    # this model keeps PyTorch's layout
    flipped: frozenset[str] = getattr(state, "_transposed_from_torch", frozenset())
    keep = torch_layout & flipped if flipped else frozenset()
    for key, value in state.items():
        if key not in targets:
            continue
        target = targets[key]
        _check_layout(key, target, value, layout)
        value = to_host(value.data if isinstance(value, Tensor) else value)
        if key in keep:
            value = value.T
        if target.shape != value.shape:
            hint = (" (PyTorch's (out, in) layout? convert with "
                    "cr.interop.from_torch_state_dict)"
                    if len(target.shape) == 2 and value.shape == target.shape[::-1] else "")
            raise ValueError(
                f"load_state_dict: '{key}' has shape {value.shape} in the state "
                f"but {target.shape} in this model{hint}"
            )
        if _is_float(target) and np.asarray(value).dtype.kind in "biu":
            raise TypeError(
                f"load_state_dict: '{key}' is {np.asarray(value).dtype} in the state but "
                f"{target.dtype} in this model (a file whose header misstates the dtype?)"
            )
        writes.append((target, value))
    for target, value in writes:
        target[...] = from_host(value, namespace_of(target), device_of(target), target.dtype)
    return IncompatibleKeys(missing, unexpected)
