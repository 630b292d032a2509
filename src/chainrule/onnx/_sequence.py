"""ONNX converters for the sequence layers that map one tensor to one tensor
(LayerNorm, GELU, SiLU), and clear refusals for those that do not
(Embedding takes integer ids; RNN, GRU, LSTM and MultiheadAttention return
tuples and take several inputs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import nn
from ._graph import ExportError, GraphBuilder, _converts, _f32


@_converts(nn.LayerNorm)
def _layer_norm(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    # LayerNormalization (opset 17): statistics over the last len(normalized_shape) axes
    shape = m.normalized_shape
    scale = _f32(m.weight) if m.weight is not None else np.ones(shape, np.float32)
    inputs = [x, g.constant(f"{hint}.weight", scale)]
    if m.bias is not None:
        inputs.append(g.constant(f"{hint}.bias", _f32(m.bias)))
    return g.node("LayerNormalization", inputs, hint, axis=-len(shape), epsilon=float(m.eps))


def _scalar(g: GraphBuilder, hint: str, value: float) -> str:
    return g.constant(hint, np.asarray(value, dtype=np.float32))


@_converts(nn.GELU)
def _gelu(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    if m.approximate == "tanh":
        # x · ½ (1 + tanh(√(2/π) (x + 0.044715 x³)))
        cube = g.node("Mul", [g.node("Mul", [x, x], hint), x], hint)
        inner = g.node("Add", [x, g.node("Mul", [cube, _scalar(g, f"{hint}.c", 0.044715)],
                                         hint)], hint)
        inner = g.node("Mul", [inner, _scalar(g, f"{hint}.k", math.sqrt(2.0 / math.pi))], hint)
        phi = g.node("Tanh", [inner], hint)
    else:
        # x · ½ (1 + erf(x / √2))
        phi = g.node("Erf", [g.node("Mul", [x, _scalar(g, f"{hint}.r", math.sqrt(0.5))],
                                    hint)], hint)
    phi = g.node("Add", [phi, _scalar(g, f"{hint}.one", 1.0)], hint)
    return g.node("Mul", [g.node("Mul", [x, phi], hint), _scalar(g, f"{hint}.half", 0.5)], hint)


@_converts(nn.SiLU)
def _silu(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    return g.node("Mul", [x, g.node("Sigmoid", [x], hint)], hint)


_REASONS = {
    nn.Embedding: "it takes integer ids, and the exporter's graph has one float input",
    nn.RNN: "a recurrent layer returns (output, state), not one tensor",
    nn.GRU: "a recurrent layer returns (output, state), not one tensor",
    nn.LSTM: "a recurrent layer returns (output, (h, c)), not one tensor",
    nn.MultiheadAttention: "it takes query, key and value and returns (output, weights)",
}


def _refuse(g: GraphBuilder, m: Any, x: str, _: np.ndarray, hint: str) -> str:
    raise ExportError(
        f"cr.onnx.export cannot export module {hint!r} ({type(m).__name__}): "
        f"{_REASONS[type(m)]}. Export the feed-forward parts, or save the weights with "
        "cr.save (safetensors) instead"
    )


_refuse.refuses = True  # type: ignore[attr-defined]
for _type in _REASONS:
    _converts(_type)(_refuse)
