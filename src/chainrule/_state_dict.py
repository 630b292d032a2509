"""A state dict that knows its layout, and what ``load_state_dict`` returns.

chainrule stores a Linear weight as (in, out) and PyTorch as (out, in); for a
square layer the shapes cannot tell them apart.  :class:`StateDict` is an
``OrderedDict`` with one more attribute, ``layout``:

* ``"chainrule"``: ``Module.state_dict()``, ``interop.from_torch_state_dict``,
  files chainrule wrote;
* ``"torch"``: ``interop.to_torch_state_dict``;
* ``None``: unknown (a ``.safetensors`` file another library wrote).

``Module.load_state_dict`` refuses a ``"torch"`` dict and, for square 2-D
weights, one of unknown origin; the interop functions refuse a dict already
in their output layout.  A plain ``dict`` counts as chainrule's layout.
This module imports nothing of chainrule, so every layer may use it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple

__all__ = ["IncompatibleKeys", "StateDict", "layout_of"]

LAYOUTS = ("chainrule", "torch", None)


class StateDict(OrderedDict):
    """An ``OrderedDict`` of names to arrays with its weight ``layout`` (see the module)."""

    def __init__(self, *args: Any, layout: str | None = "chainrule", **kwargs: Any):
        super().__init__(*args, **kwargs)
        if layout not in LAYOUTS:
            raise ValueError(
                f"Expected layout 'chainrule', 'torch' or None. Received: {layout!r}"
            )
        self.layout = layout

    def __reduce__(self):  # copy/pickle keep the layout
        return (_rebuild, (list(self.items()), self.layout))

    def copy(self) -> StateDict:
        return StateDict(self, layout=self.layout)


def _rebuild(items: list, layout: str | None) -> StateDict:
    return StateDict(items, layout=layout)


def layout_of(state: Any) -> str | None:
    """The layout of a state dict: its ``layout``; ``"torch"`` for PyTorch's own
    ``state_dict()`` (an OrderedDict with ``_metadata``); ``"chainrule"`` for any
    other mapping (torch tensors alone prove nothing: a model may live in
    torch's array namespace)."""
    if isinstance(state, StateDict):
        return state.layout
    if hasattr(state, "_metadata") and not hasattr(state, "layout"):
        return "torch"
    return "chainrule"


class IncompatibleKeys(NamedTuple):
    """``(missing_keys, unexpected_keys)`` of a ``load_state_dict``, as torch's ``_IncompatibleKeys``."""

    missing_keys: list[str]
    unexpected_keys: list[str]
