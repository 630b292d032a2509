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


def _refuse_hooks(model: Module) -> None:
    """Forward hooks change outputs in ways a graph of the layers would not keep."""
    for name, m in model.named_modules():
        if m.__dict__.get("_forward_hooks"):
            where = f"module {name!r}" if name else "the model"
            raise ExportError(
                f"cr.onnx.export cannot export {where} ({type(m).__name__}): it has "
                f"{len(m.__dict__['_forward_hooks'])} forward hook(s), which the ONNX graph "
                "would not run. Remove them (handle.remove()) before exporting"
            )


def _check_opset(onnx: Any, opset: Any) -> int:
    newest = int(onnx.defs.onnx_opset_version())
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"Expected opset to be an int. Received: {opset!r}")
    if not 13 <= int(opset) <= newest:
        raise ValueError(
            f"Expected 13 <= opset <= {newest} (the newest the installed onnx knows). "
            f"Received: opset={opset}"
        )
    return int(opset)


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-4,
                                                        atol=1e-5 * max(1.0, scale)))


def _verify(model: Module, proto: Any, xv: np.ndarray, yv: np.ndarray) -> None:
    """Refuse a graph that does not compute what the model computes on ``xv``."""
    with no_grad():
        want = np.asarray(model(Tensor(xv)).data, dtype=np.float32)
    if not _same(yv, want):
        raise ExportError(
            f"cr.onnx.export cannot export {type(model).__name__} faithfully: its output "
            "differs from its layers applied in turn (a custom forward or __call__?)"
        )
    try:
        import onnxruntime
    except ImportError:  # the graph is checked by onnx.checker only
        return
    try:
        session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {session.get_inputs()[0].name: xv})
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own classes
        raise ExportError(
            f"cr.onnx.export: onnxruntime {onnxruntime.__version__} cannot run the exported "
            f"graph (opset {proto.opset_import[0].version}): {str(err).splitlines()[0]}"
        ) from None
    if not _same(np.asarray(got), want):
        diff = float(np.max(np.abs(np.asarray(got) - want))) if got.shape == want.shape \
            else float("nan")
        raise ExportError(
            f"cr.onnx.export: the exported graph differs from the model in onnxruntime "
            f"(max |difference| {diff:.3g}); not written"
        )


def _value_info(onnx: Any, name: str, shape: tuple, dynamic_batch: bool) -> Any:
    dims: list[Any] = list(shape)
    if dynamic_batch and dims:
        dims[0] = "batch"
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims)


def export(model: Module, path: str | os.PathLike | None, example_input: Any,
           opset: int | None = None, dynamic_batch: bool = True, verify: bool = True) -> Any:
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
    ``onnx.checker`` and, with ``verify``, run on the example input (in
    onnxruntime when installed) against the model before anything is
    written.  Forward hooks, module types without a conversion and opsets
    outside 13 .. the newest the installed onnx knows are refused.

    Args:
        model: a supported module (usually an ``nn.Sequential``).
        path: output file (``*.onnx``), or None to only return the model.
        example_input: an array (or Tensor) with the input's shape; its
            values are not stored.
        opset: ONNX opset version (default 17).
        dynamic_batch: leave the first axis free (``"batch"``), so any
            batch size runs.
        verify: compare the graph's output on ``example_input`` with the
            model's (default True).

    Returns:
        The ``onnx.ModelProto``.

    Raises:
        ExportError: a module of a type it cannot convert (named by its
            qualified name and type), a forward hook, or a graph whose
            output differs from the model's.
        ValueError: an opset outside the supported range.
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
    opset = DEFAULT_OPSET if opset is None else _check_opset(onnx, opset)
    _refuse_hooks(model)
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
        proto = _build(onnx, g, model, x, y, xv, yv, opset, dynamic_batch)
        if verify:
            _verify(model, proto, xv, yv)
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    if path is not None:
        onnx.save_model(proto, os.fspath(path))
    return proto


def _build(onnx: Any, g: GraphBuilder, model: Module, x: str, y: str, xv: np.ndarray,
           yv: np.ndarray, opset: int, dynamic_batch: bool) -> Any:
    """The checked ModelProto of the nodes in ``g`` (input ``x``, output ``y``)."""
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
    return proto
