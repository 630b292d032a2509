"""Exchanging weights with PyTorch: state-dict layout conversion.

chainrule's module tree and key names follow PyTorch's (``"0.weight"``,
``"1.running_mean"``, ``"1.num_batches_tracked"``), so a ``torch.nn.Sequential``
of the same layers has the same keys.  One layout differs:

========================  ==========================  ==========================
entry                     chainrule                   PyTorch
========================  ==========================  ==========================
Linear ``weight``         (in, out), ``y = x W + b``  (out, in), ``y = x Wᵀ + b``
Conv1d/2d ``weight``      (out, in, *kernel)          (out, in, *kernel) (same)
BatchNorm buffers         running_mean/var (float),   the same; num_batches_tracked
                          num_batches_tracked int64   int64, 0-d
PReLU ``weight``          (num_parameters,)           (num_parameters,) (same)
========================  ==========================  ==========================

The conversion transposes every 2-D entry whose name ends in ``weight`` and
copies the rest.  The recurrent and attention layers keep PyTorch's layout
under names of their own (``weight_ih_l0``, ``in_proj_weight``: copied
as they are; ``out_proj.weight`` is a Linear's).  Embedding's 2-D
``weight`` (num_embeddings, embedding_dim) is PyTorch's layout too: a
chainrule state dict names such entries (its ``_torch_layout`` attribute),
which ``to_torch_state_dict`` copies untransposed, and
``from_torch_state_dict`` names the entries it transposed
(``_transposed_from_torch``), which ``Module.load_state_dict`` transposes
back where the model keeps PyTorch's layout.  Pass the dicts these
functions return as they are (a copy of the dict loses the names).  torch is never imported: the functions take any arrays
``np.asarray`` accepts (NumPy arrays, CPU torch tensors) and return NumPy
arrays; ``torch.from_numpy`` turns them into tensors for
``torch_model.load_state_dict(..., strict=True)``.

For a square Linear layer the shapes cannot tell the layouts apart, so the
results are :class:`~chainrule._state_dict.StateDict` objects that record
their layout, and each function refuses a state dict already in the layout
it produces (converting twice would transpose back); ``Module.load_state_dict``
refuses one in PyTorch's layout.

Example:
    >>> sd = cr.interop.to_torch_state_dict(model.state_dict())
    >>> torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    >>> model.load_state_dict(cr.interop.from_torch_state_dict(torch_model.state_dict()))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._state_dict import StateDict, layout_of

__all__ = ["from_torch_state_dict", "to_torch_state_dict"]


def _is_linear_weight(key: str, array: np.ndarray) -> bool:
    return array.ndim == 2 and (key == "weight" or key.endswith(".weight"))


def _as_array(key: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach") and not isinstance(value, np.ndarray):
        value = value.detach()  # a torch tensor: np.asarray needs it off the graph
    try:
        array = np.asarray(value)
    except (TypeError, RuntimeError) as err:
        raise TypeError(
            f"Expected arrays (or CPU tensors) in the state dict. Received: {key!r} of "
            f"type {type(value).__name__} ({err})"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Expected numeric arrays in the state dict. Received: {key!r} with dtype "
            f"{array.dtype}"
        )
    return array


def _convert(state: Mapping[str, Any], to: str) -> StateDict:
    if not isinstance(state, Mapping):
        raise TypeError(
            f"Expected a state dict (a mapping of names to arrays). Received: "
            f"{type(state).__name__}"
        )
    known = state.layout if isinstance(state, StateDict) else layout_of(state)
    if known == to and (isinstance(state, StateDict) or to == "torch"):
        source = "chainrule's" if to == "chainrule" else "PyTorch's"
        raise ValueError(
            f"Expected a state dict in {'PyTorch' if to == 'chainrule' else 'chainrule'}'s "
            f"layout. Received: one already in {source} layout (converted before, or "
            "from a model of the other library?): converting again would transpose the "
            "Linear weights back"
        )
    out = StateDict(layout=to)
    # entries a chainrule model keeps in PyTorch's layout (Embedding, recurrent weights)
    keep: frozenset[str] = (getattr(state, "_torch_layout", frozenset()) if to == "torch"
                            else frozenset())
    transposed = []
    for key, value in state.items():
        array = _as_array(key, value)
        if _is_linear_weight(key, array) and key not in keep:
            out[key] = array.T.copy(order="C")
            transposed.append(key)
        else:
            out[key] = np.array(array, copy=True)
    out._transposed_from_torch = frozenset(transposed)  # type: ignore[attr-defined]
    return out


def to_torch_state_dict(state: Mapping[str, Any]) -> StateDict:
    """A chainrule state dict in PyTorch's layout (Linear weights (out, in)).

    Args:
        state: ``model.state_dict()`` of a chainrule model.

    Returns:
        New NumPy arrays under the same keys, ready for
        ``torch.from_numpy`` and ``load_state_dict(strict=True)`` on a torch
        model of the same layers (a ``StateDict`` with ``layout="torch"``).

    Raises:
        ValueError: ``state`` is already in PyTorch's layout.
    """
    return _convert(state, "torch")


def from_torch_state_dict(state: Mapping[str, Any]) -> StateDict:
    """A PyTorch state dict in chainrule's layout (Linear weights (in, out)).

    Args:
        state: ``torch_model.state_dict()`` (CPU tensors or NumPy arrays).

    Returns:
        New NumPy arrays under the same keys, for ``model.load_state_dict``
        (a ``StateDict`` with ``layout="chainrule"``).

    Raises:
        ValueError: ``state`` is already in chainrule's layout (a
            ``model.state_dict()``, or the result of this function).
    """
    return _convert(state, "chainrule")
