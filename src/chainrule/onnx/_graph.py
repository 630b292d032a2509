"""A small ONNX graph builder and one converter per ``chainrule.nn`` layer.

Each converter receives the builder, the module, the name of its input
value and the example input the module sees (a NumPy array, so shapes and
ranks are known), and returns the name of its output value.  Layers are
converted in inference mode: Dropout (inverted) and GaussianNoise become
Identity, BatchNorm uses its running statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import nn
from ..nn import functional_conv as Fc


class ExportError(ValueError):
    """A model (or one of its modules) that ``cr.onnx.export`` cannot convert."""


class GraphBuilder:
    """Collects ONNX nodes and initializers under unique names."""

    def __init__(self, onnx_module: Any, namer: Callable[[str], str] | None = None):
        self.onnx = onnx_module
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = set()
        self._namer = namer

    def name(self, hint: str) -> str:
        """A value name not used before, based on ``hint``."""
        base = hint.replace("/", "_").replace(".", "_") or "v"
        if self._namer is not None:  # a host graph (skl2onnx) owns the names
            return self._namer(base)
        name, i = base, 1
        while name in self._used:
            name = f"{base}_{i}"
            i += 1
        self._used.add(name)
        return name

    def constant(self, hint: str, array: np.ndarray) -> str:
        """Add ``array`` as an initializer; return its name."""
        name = self.name(hint)
        tensor = self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name)
        self.initializers.append(tensor)
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        """Add one node with a single output; return the output's name."""
        out = self.name(hint)
        node = self.onnx.helper.make_node(op, inputs, [out], name=self.name(f"{hint}/{op}"),
                                          **attrs)
        self.nodes.append(node)
        return out


Converter = Callable[[GraphBuilder, Any, str, np.ndarray, str], str]
_CONVERTERS: dict[type, Converter] = {}


def _converts(*types: type) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for t in types:
            _CONVERTERS[t] = fn
        return fn

    return register


def _f32(array: Any) -> np.ndarray:
    return np.asarray(getattr(array, "data", array), dtype=np.float32)


# --- dense layers and activations -------------------------------------------------
@_converts(nn.Linear)
def _linear(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    # weight is (in, out): y = x W + b is MatMul then Add, for any leading axes
    y = g.node("MatMul", [x, g.constant(f"{hint}.weight", _f32(m.weight))], hint)
    if m.bias is not None:
        y = g.node("Add", [y, g.constant(f"{hint}.bias", _f32(m.bias))], hint)
    return y


_SIMPLE = {
    nn.ReLU: "Relu",
    nn.Sigmoid: "Sigmoid",
    nn.Tanh: "Tanh",
    nn.Softplus: "Softplus",
    nn.Abs: "Abs",
    nn.Identity: "Identity",
}


def _simple(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    return g.node(_SIMPLE[type(m)], [x], hint)


for _type in _SIMPLE:
    _CONVERTERS[_type] = _simple


@_converts(nn.LeakyReLU)
def _leaky_relu(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    return g.node("LeakyRelu", [x], hint, alpha=float(m.negative_slope))


@_converts(nn.PReLU)
def _prelu(g: GraphBuilder, m: Any, x: str, xv: np.ndarray, hint: str) -> str:
    slope: np.ndarray = _f32(m.weight).reshape(-1)
    if slope.size > 1:  # one slope per channel (axis 1): shape (C, 1, ..., 1)
        slope = slope.reshape((slope.size,) + (1,) * (xv.ndim - 2))
    return g.node("PRelu", [x, g.constant(f"{hint}.weight", slope)], hint)


@_converts(nn.Softmax, nn.LogSoftmax)
def _softmax(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    op = "Softmax" if isinstance(m, nn.Softmax) else "LogSoftmax"
    return g.node(op, [x], hint, axis=int(m.axis))


@_converts(nn.Dropout)
def _dropout(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    if m.mode == "weight_scaling" and m.p > 0:  # the book's rule: scale by 1-p at inference
        keep = np.asarray(1.0 - m.p, dtype=np.float32)
        return g.node("Mul", [x, g.constant(f"{hint}.keep", keep)], hint)
    return g.node("Identity", [x], hint)


@_converts(nn.GaussianNoise)
def _noise(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    return g.node("Identity", [x], hint)


@_converts(nn.BatchNorm1d, nn.BatchNorm2d)
def _batchnorm(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    if m.running_mean is None:
        raise ExportError(
            f"cr.onnx.export cannot export module {hint!r} ({type(m).__name__}) with "
            "track_running_stats=False: inference uses batch statistics"
        )
    c = m.num_features
    scale = _f32(m.weight) if m.weight is not None else np.ones(c, np.float32)
    bias = _f32(m.bias) if m.bias is not None else np.zeros(c, np.float32)
    inputs = [
        x,
        g.constant(f"{hint}.weight", scale),
        g.constant(f"{hint}.bias", bias),
        g.constant(f"{hint}.running_mean", _f32(m.running_mean)),
        g.constant(f"{hint}.running_var", _f32(m.running_var)),
    ]
    return g.node("BatchNormalization", inputs, hint, epsilon=float(m.eps))


# --- convolution, pooling, reshaping -------------------------------------------------
def _onnx_pads(pairs: tuple) -> list[int]:
    """((lo, hi), ...) per axis -> ONNX's [lo_1, lo_2, ..., hi_1, hi_2, ...]."""
    return [int(lo) for lo, _ in pairs] + [int(hi) for _, hi in pairs]


@_converts(nn.Conv1d, nn.Conv2d)
def _conv(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    d = m._d
    pairs = Fc._padding(m.padding, d, m.kernel_size, m.dilation, m.stride)
    inputs = [x, g.constant(f"{hint}.weight", _f32(m.weight))]
    if m.bias is not None:
        inputs.append(g.constant(f"{hint}.bias", _f32(m.bias)))
    return g.node("Conv", inputs, hint, kernel_shape=list(m.kernel_size),
                  strides=list(m.stride), dilations=list(m.dilation),
                  pads=_onnx_pads(pairs), group=1)


def _pool_geometry(m: Any, d: int) -> tuple[list[int], list[int], list[int]]:
    kernel = Fc._tuple(m.kernel_size, d, "kernel_size")
    stride = Fc._tuple(m.stride, d, "stride")
    pairs = Fc._padding(m.padding, d)
    return list(kernel), list(stride), _onnx_pads(pairs)


@_converts(nn.MaxPool1d, nn.MaxPool2d)
def _max_pool(g: GraphBuilder, m: Any, x: str, xv: np.ndarray, hint: str) -> str:
    d = xv.ndim - 2
    kernel, stride, pads = _pool_geometry(m, d)
    dilation = list(Fc._tuple(m.dilation, d, "dilation"))
    return g.node("MaxPool", [x], hint, kernel_shape=kernel, strides=stride, pads=pads,
                  dilations=dilation)


@_converts(nn.AvgPool1d, nn.AvgPool2d)
def _avg_pool(g: GraphBuilder, m: Any, x: str, xv: np.ndarray, hint: str) -> str:
    d = xv.ndim - 2
    kernel, stride, pads = _pool_geometry(m, d)
    return g.node("AveragePool", [x], hint, kernel_shape=kernel, strides=stride, pads=pads,
                  count_include_pad=int(bool(m.count_include_pad)))


@_converts(nn.Flatten)
def _flatten(g: GraphBuilder, m: Any, x: str, xv: np.ndarray, hint: str) -> str:
    rank = xv.ndim
    start = m.start_dim % rank
    end = m.end_dim % rank
    if start == 1 and end == rank - 1:
        return g.node("Flatten", [x], hint, axis=1)
    # Reshape: 0 copies the (free) batch size; the merged axes become -1
    shape = list(xv.shape[:start]) + [-1] + list(xv.shape[end + 1:])
    if start > 0:
        shape[0] = 0
    target = g.constant(f"{hint}.shape", np.asarray(shape, dtype=np.int64))
    return g.node("Reshape", [x, target], hint)


def converter_for(module: Any) -> Converter | None:
    """The converter of exactly this module type (subclasses may change forward)."""
    return _CONVERTERS.get(type(module))


def supported_types() -> list[str]:
    """Names of the module types the exporter converts."""
    return sorted({t.__name__ for t, fn in _CONVERTERS.items()
                   if not getattr(fn, "refuses", False)} | {"Sequential"})

