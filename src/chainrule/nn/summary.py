"""A model's summary table: layers, output shapes, parameter counts, memory.

:func:`summary` runs one forward pass on an example input (or zeros of a
given shape) with a forward hook on every submodule, and tabulates, in the
order of ``model.named_modules()`` (parents before children, as
``print(model)`` lists them): each layer's qualified name and type, the
shape of its output, its own parameters (those it holds directly, so the
column adds up to the total; a Parameter shared by several layers counts
once, at its first holder) and whether they train.  Totals follow, as in
Keras's ``model.summary()`` and torchinfo:

* parameters: total, trainable (``requires_grad``) and non-trainable;
  buffers (batch norm's running statistics) are counted apart, as state
  that is not a parameter;
* memory: the bytes of the input, of the parameters and buffers, and of
  the layers' outputs for this input (the activations a backward pass
  would keep: the outputs of the leaf layers), and their sum.

The pass runs in eval mode without gradients (batch norm's running
statistics are not touched) and every module's mode is put back after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._backend import device_of, from_host, namespace_of
from ..autograd.engine import Tensor, no_grad

__all__ = ["LayerSummary", "ModelSummary", "summary"]


@dataclass
class LayerSummary:
    """One row of the table: a module, its output and its own parameters.

    Attributes:
        name: qualified name in the model (``""`` for the model itself).
        type: the module's class name.
        depth: nesting level (0 for the model itself).
        output_shape: the shape of its (first call's) output: a tuple, a
            tuple of shapes for a tuple output, a dict for a dict output,
            or None when the forward pass never called it.
        num_params: scalars in the parameters it holds directly (not
            counted at an earlier row).
        trainable_params: those of them with ``requires_grad``.
        calls: how many times the forward pass called it.
        output_bytes: bytes of its first call's output.
        is_leaf: it has no submodules.
    """

    name: str
    type: str
    depth: int
    output_shape: object = None
    num_params: int = 0
    trainable_params: int = 0
    calls: int = 0
    output_bytes: int = 0
    is_leaf: bool = True

    @property
    def label(self) -> str:
        """``name (Type)`` indented by depth, as shown in the table."""
        text = f"{self.name} ({self.type})" if self.name else self.type
        return "  " * self.depth + text


@dataclass
class ModelSummary:
    """The result of :func:`summary`: rows and totals; ``str()`` is the table.

    Attributes:
        layers: the :class:`LayerSummary` rows.
        total_params, trainable_params, non_trainable_params: scalar counts.
        buffer_elements: scalars held in buffers (not parameters).
        input_bytes, param_bytes, buffer_bytes, activation_bytes: memory.
        input_shapes: the shapes of the example inputs.
    """

    layers: list[LayerSummary] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    buffer_elements: int = 0
    input_bytes: int = 0
    param_bytes: int = 0
    buffer_bytes: int = 0
    activation_bytes: int = 0
    input_shapes: list = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Input, parameters, buffers and activations together."""
        return self.input_bytes + self.param_bytes + self.buffer_bytes + self.activation_bytes

    def __getitem__(self, name: str) -> LayerSummary:
        """The row of the layer with this qualified name."""
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(f"Expected a layer name in {[r.name for r in self.layers]}. Received: {name!r}")

    def __str__(self) -> str:
        return _table(self)

    def __repr__(self) -> str:
        return _table(self)


def _shape_text(shape) -> str:
    if shape is None:
        return "--"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_shape_text(v)}" for k, v in shape.items()) + "}"
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _size(n: int) -> str:
    """Bytes in decimal units (B, kB, MB, GB)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def _table(s: ModelSummary) -> str:
    head = ("Layer (type)", "Output shape", "Param #", "Trainable")
    body = []
    for row in s.layers:
        if row.num_params:
            count = f"{row.num_params:,}"
            train = "yes" if row.trainable_params == row.num_params else (
                "no" if row.trainable_params == 0 else "partly")
        else:
            count, train = ("0", "") if row.is_leaf else ("--", "")
        body.append((row.label, _shape_text(row.output_shape), count, train))
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(4)]

    def line(cells) -> str:
        left = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
        right = [cells[2].rjust(widths[2]), cells[3].ljust(widths[3])]
        return "  ".join(left + right).rstrip()

    rule = "=" * len(line(tuple("x" * w for w in widths)))
    out = [rule, line(head), rule]
    out += [line(r) for r in body]
    out += [
        rule,
        f"Total params: {s.total_params:,}",
        f"Trainable params: {s.trainable_params:,}",
        f"Non-trainable params: {s.non_trainable_params:,}",
        f"Buffers (not parameters): {s.buffer_elements:,}",
        rule,
        f"Input size: {_size(s.input_bytes)}",
        f"Params and buffers size: {_size(s.param_bytes + s.buffer_bytes)}",
        f"Activations size (layer outputs): {_size(s.activation_bytes)}",
        f"Estimated total size: {_size(s.total_bytes)}",
        rule,
    ]
    return "\n".join(out)


def _nbytes(a) -> int:
    """Bytes of an array of any library (or of a Tensor's data)."""
    if isinstance(a, Tensor):
        a = a.data
    nbytes = getattr(a, "nbytes", None)
    if nbytes is not None:
        return int(nbytes)
    itemsize = np.dtype(str(a.dtype).rsplit(".", 1)[-1]).itemsize
    return int(math.prod(a.shape)) * int(itemsize)


def _describe(out):
    """(shape, bytes) of a module's output: a Tensor or array, or a tuple/list/dict of them."""
    if isinstance(out, Tensor):
        out = out.data
    if isinstance(out, dict):
        parts = {k: _describe(v) for k, v in out.items()}
        return {k: p[0] for k, p in parts.items()}, sum(p[1] for p in parts.values())
    if isinstance(out, (tuple, list)):
        parts = [_describe(v) for v in out]
        return tuple(p[0] for p in parts), sum(p[1] for p in parts)
    if out is None or not hasattr(out, "shape"):
        return (), 0
    return tuple(int(d) for d in out.shape), _nbytes(out)


def _as_input(a, model_dtype) -> Tensor:
    """An example input as a Tensor; floating data takes the model's float dtype."""
    if isinstance(a, Tensor):
        return a
    if not (hasattr(a, "shape") and hasattr(a, "dtype")):
        raise TypeError(
            "Expected an example input (an array or Tensor, or a tuple of them) or an input "
            f"shape (a tuple of ints, batch first). Received: {type(a).__name__}"
        )
    floating = namespace_of(a).isdtype(a.dtype, "real floating")
    return Tensor(a, dtype=model_dtype if floating else None)


def _example_inputs(model, example, dtype) -> tuple:
    """The forward pass's arguments: the example(s), or zeros of a shape on the model's device."""
    params = list(model.parameters())
    model_dtype = np.dtype(str(params[0].dtype).rsplit(".", 1)[-1]) if params else np.float32
    if isinstance(example, (tuple, list)) and example and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in example
    ):
        shape = tuple(int(d) for d in example)
        if min(shape) < 1:
            raise ValueError(f"Expected a shape of positive sizes. Received: {shape}")
        target = model_dtype if dtype is None else np.dtype(dtype)
        zeros = np.zeros(shape, dtype=target)
        if params and namespace_of(params[0].data) is not np:
            data = params[0].data
            zeros = from_host(zeros, namespace_of(data), device_of(data))
        return (Tensor(zeros, dtype=target),)
    if isinstance(example, tuple):
        return tuple(_as_input(e, model_dtype) for e in example)
    return (_as_input(example, model_dtype),)


def summary(model, input_data=None, *, input_size=None, dtype=None,
            verbose: int = 1) -> ModelSummary:
    """The table of a model's layers, output shapes, parameters and memory.

    Args:
        model: an ``nn.Module``.
        input_data: an example input (an array or Tensor; a tuple of them
            for a model with several inputs), or an input shape as a tuple
            of ints *including* the batch dimension (as torchinfo's
            ``input_size``), for which zeros are used.
        input_size: the input shape given by keyword (torchinfo's name),
            instead of ``input_data``.
        dtype: the dtype of the zeros built from a shape (default: the
            dtype of the model's first parameter; pass ``np.int64`` for a
            model that starts with an ``Embedding``).
        verbose: 1 prints the table; 0 only returns it.

    Returns:
        A :class:`ModelSummary`: ``str()`` (and ``repr()``) is the table;
        its attributes hold the numbers (``total_params``,
        ``trainable_params``, ``layers[i].output_shape``, ...).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn as nn
        >>> s = cr.summary(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), (2, 4))
        >>> s.total_params
        67
    """
    if not hasattr(model, "named_modules"):
        raise TypeError(f"Expected an nn.Module. Received: {type(model).__name__}")
    if (input_data is None) == (input_size is None):
        raise TypeError(
            "Expected one of input_data (an example or a shape) and input_size. Received: "
            f"{'both' if input_size is not None else 'neither'}"
        )
    if input_size is not None:
        input_size = tuple(input_size)
    inputs = _example_inputs(model, input_data if input_size is None else input_size, dtype)
    rows: dict[int, LayerSummary] = {}
    handles = []
    modes = []
    for name, mod in model.named_modules():
        depth = 0 if not name else name.count(".") + 1
        row = LayerSummary(name=name, type=type(mod).__name__, depth=depth,
                           is_leaf=not mod._modules)
        rows[id(mod)] = row
        modes.append((mod, mod.training))

        def hook(module, args, out, row=row):
            row.calls += 1
            if row.calls == 1:
                row.output_shape, row.output_bytes = _describe(out)

        handles.append(mod.register_forward_hook(hook))
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for mod, mode in modes:
            object.__setattr__(mod, "training", mode)
    result = ModelSummary(layers=list(rows.values()))
    seen: set[int] = set()
    for _, mod in model.named_modules():
        row = rows[id(mod)]
        for p in mod._parameters.values():
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            n = int(math.prod(p.shape))
            row.num_params += n
            row.trainable_params += n if p.requires_grad else 0
            result.param_bytes += _nbytes(p.data)
    for _, b in model.named_buffers():
        result.buffer_elements += int(math.prod(b.shape))
        result.buffer_bytes += _nbytes(b)
    result.total_params = sum(r.num_params for r in result.layers)
    result.trainable_params = sum(r.trainable_params for r in result.layers)
    result.non_trainable_params = result.total_params - result.trainable_params
    result.activation_bytes = sum(r.output_bytes for r in result.layers if r.is_leaf)
    result.input_bytes = sum(_nbytes(t.data) for t in inputs)
    result.input_shapes = [tuple(int(d) for d in t.shape) for t in inputs]
    if verbose:
        print(result)
    return result
