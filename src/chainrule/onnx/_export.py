"""``cr.onnx.export``: a ``chainrule.nn`` model as an ONNX graph."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..autograd import Tensor, no_grad
from ..nn import Module, Sequential
from ._graph import ExportError, GraphBuilder, converter_for, supported_types

DEFAULT_OPSET = 17


def import_onnx() -> Any:
    """The ``onnx`` package, or an ImportError that names the extra to install."""
    try:
        import onnx
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            'ONNX export needs the onnx package: pip install "chainrule[onnx]"'
        ) from None
    return onnx


def _emit(g: GraphBuilder, module: Module, name: str, x: str, xv: np.ndarray) -> tuple:
    """Add ``module``'s nodes reading value ``x``; return (output name, output array)."""
    if type(module) is Sequential:
        for child_name, child in vars(module)["_modules"].items():
            x, xv = _emit(g, child, f"{name}.{child_name}" if name else child_name, x, xv)
        return x, xv
    convert = converter_for(module)
    if convert is None:
        where = f"module {name!r}" if name else "the model"
        raise ExportError(
            f"cr.onnx.export cannot export {where} ({type(module).__name__}): no ONNX "
            f"conversion for this type. Expected one of: {', '.join(supported_types())}"
        )
    out = convert(g, module, x, xv, name or type(module).__name__.lower())
    with no_grad():
        yv = module(Tensor(xv)).data
    return out, np.asarray(yv, dtype=np.float32)


def _value_info(onnx: Any, name: str, shape: tuple, dynamic_batch: bool) -> Any:
    dims: list[Any] = list(shape)
    if dynamic_batch and dims:
        dims[0] = "batch"
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims)


def export(model: Module, path: str | os.PathLike | None, example_input: Any,
           opset: int | None = None, dynamic_batch: bool = True) -> Any:
    """Write ``model`` as an ONNX file that runs in onnxruntime and other runtimes.

    The model is converted in inference mode (``model.eval()`` semantics;
    its own mode is left as it was): Dropout and GaussianNoise become
    Identity (Dropout's ``"weight_scaling"`` mode a multiplication by 1-p),
    BatchNorm uses its running statistics.  Linear's (in, out) weight
    becomes a MatMul.  Supported: ``Sequential`` containers of Linear,
    Conv1d/2d (any padding, stride, dilation), Max/AvgPool1d/2d,
    BatchNorm1d/2d, Flatten, Dropout, GaussianNoise, Identity, ReLU,
    LeakyReLU, PReLU, Abs, Sigmoid, Tanh, Softplus, Softmax, LogSoftmax.
    The graph computes in float32; the result is checked with
    ``onnx.checker``.

    Args:
        model: a supported module (usually an ``nn.Sequential``).
        path: output file (``*.onnx``), or None to only return the model.
        example_input: an array (or Tensor) with the input's shape; its
            values are not stored.
        opset: ONNX opset version (default 17).
        dynamic_batch: leave the first axis free (``"batch"``), so any
            batch size runs.

    Returns:
        The ``onnx.ModelProto``.

    Raises:
        ExportError: a module of a type it cannot convert (named by its
            qualified name and type).
        ImportError: the ``onnx`` package is missing (extra ``[onnx]``).

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> cr.onnx.export(net, "net.onnx", np.zeros((1, 4), np.float32))
    """
    onnx = import_onnx()
    if not isinstance(model, Module):
        raise TypeError(
            f"Expected a chainrule.nn.Module to export. Received: {type(model).__name__}"
        )
    opset = DEFAULT_OPSET if opset is None else int(opset)
    if opset < 13:
        raise ValueError(f"Expected opset >= 13. Received: opset={opset}")
    xv = np.asarray(getattr(example_input, "data", example_input), dtype=np.float32)
    if xv.ndim < 1:
        raise ValueError(
            f"Expected an example input with a batch axis. Received: shape {xv.shape}"
        )
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        g = GraphBuilder(onnx)
        x = g.name("input")
        y, yv = _emit(g, model, "", x, xv)
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    out = g.name("output")
    g.nodes.append(onnx.helper.make_node("Identity", [y], [out], name="output/Identity"))
    graph = onnx.helper.make_graph(
        g.nodes, type(model).__name__,
        [_value_info(onnx, x, xv.shape, dynamic_batch)],
        [_value_info(onnx, out, yv.shape, dynamic_batch)],
        initializer=g.initializers,
    )
    proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="chainrule",
    )
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        onnx.save_model(proto, os.fspath(path))
    return proto
