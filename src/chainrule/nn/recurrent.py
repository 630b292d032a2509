"""Recurrent layers RNN, GRU and LSTM, with PyTorch's arguments, parameter
names, gate order and initialisation (book §10.2, §10.10).

A layer of one direction computes the input projections of all steps as
one matrix product, then runs the recurrence with ``recurrent_scan`` (one
primitive: the time loop forward, back-propagation through time in its
vjp).  Stacked layers feed each the previous one's output, with dropout
between them in training; a bidirectional layer runs a second recurrence
from the last step back and concatenates the two outputs.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import device_of, namespace_of
from ..autograd import ops
from ..autograd.engine import Tensor
from . import functional as F
from . import init
from ._scan import recurrent_scan
from .module import Module, float_input
from .parameter import Parameter

_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


class RNNBase(Module):
    """The stacked, optionally bidirectional recurrence shared by RNN, GRU and LSTM.

    Parameters (PyTorch's names; k the layer, ``_reverse`` the backward
    direction): ``weight_ih_l{k}`` (G·H, in), ``weight_hh_l{k}`` (G·H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G·H,), G = 1 (RNN), 3 (GRU: r, z,
    n), 4 (LSTM: i, f, g, o); all drawn from U(-1/√H, 1/√H).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{name} needs positive sizes. Received: input_size={input_size}, "
                f"hidden_size={hidden_size}, num_layers={num_layers}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected {name} dropout in [0, 1). Received: dropout={dropout}")
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        gates = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * directions
            for suffix in self._suffixes():
                tag = f"l{layer}{suffix}"
                self.register_parameter(
                    f"weight_ih_{tag}", Parameter(np.empty((gates, layer_in), dtype), dtype=dtype))
                self.register_parameter(
                    f"weight_hh_{tag}", Parameter(np.empty((gates, hidden_size), dtype), dtype=dtype))
                if bias:
                    self.register_parameter(
                        f"bias_ih_{tag}", Parameter(np.empty(gates, dtype), dtype=dtype))
                    self.register_parameter(
                        f"bias_hh_{tag}", Parameter(np.empty(gates, dtype), dtype=dtype))
        self.reset_parameters()

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    # --- forward ----------------------------------------------------------
    def _check_input(self, x: Tensor) -> bool:
        """Whether ``x`` is unbatched; raises on a wrong shape."""
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
            raise ValueError(
                f"{type(self).__name__}: expected input {layout} or (seq, input_size) with "
                f"input_size={self.input_size}. Received: shape {tuple(x.shape)}"
            )
        return x.ndim == 2

    def _initial(self, state, batch: int, unbatched: bool, like, what: str):
        """An initial state as a Tensor (L·D, B, H), zeros when None."""
        directions = 2 if self.bidirectional else 1
        want = (self.num_layers * directions, batch, self.hidden_size)
        if state is None:
            ns = namespace_of(like)
            return Tensor._result(ns.zeros(want, dtype=like.dtype, device=device_of(like)), None)
        state = float_input(state, like.dtype)
        if unbatched and state.ndim == 2:
            state = state.reshape(want[0], 1, want[2])
        if tuple(state.shape) != want:
            raise ValueError(
                f"{type(self).__name__}: expected {what} of shape {want if not unbatched else (want[0], want[2])}. "
                f"Received: shape {tuple(state.shape)}"
            )
        return state

    def _run(self, x: Tensor, h0: Tensor, c0: Tensor | None):
        """The stacked recurrence on time-major ``x``: (output, [h_n per layer·direction], [c_n...])."""
        hidden = self.hidden_size
        lstm = self.mode == "lstm"
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes()):
                tag = f"l{layer}{suffix}"
                index = layer * (2 if self.bidirectional else 1) + d
                w_ih = getattr(self, f"weight_ih_{tag}")
                b_ih = getattr(self, f"bias_ih_{tag}", None)
                xw = ops.linear(layer_input, w_ih.T, b_ih)
                out = recurrent_scan(
                    xw, getattr(self, f"weight_hh_{tag}"), getattr(self, f"bias_hh_{tag}", None),
                    h0[index, ...], None if c0 is None else c0[index, ...], mode=self.mode, reverse=d == 1)
                last = out[0, ...] if d == 1 else out[out.shape[0] - 1, ...]
                if lstm:
                    h_n.append(last[:, :hidden])
                    c_n.append(last[:, hidden:])
                    out = out[:, :, :hidden]
                else:
                    h_n.append(last)
                outs.append(out)
            layer_input = outs[0] if len(outs) == 1 else ops.concatenate(*outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, h_n, c_n

    def _forward(self, input, hx):
        w = self.weight_ih_l0
        x = float_input(input, w.dtype)
        unbatched = self._check_input(x)
        if unbatched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        batch = x.shape[1]
        lstm = self.mode == "lstm"
        if lstm:
            if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise ValueError("LSTM: expected hx = (h_0, c_0) or None. Received: "
                                 f"{type(hx).__name__}")
            h0 = self._initial(None if hx is None else hx[0], batch, unbatched, x.data, "h_0")
            c0 = self._initial(None if hx is None else hx[1], batch, unbatched, x.data, "c_0")
        else:
            h0 = self._initial(hx, batch, unbatched, x.data, "h_0")
            c0 = None
        out, h_n, c_n = self._run(x, h0, c0)
        h_last = ops.stack(*h_n, axis=0)
        c_last = ops.stack(*c_n, axis=0) if lstm else None
        if unbatched:
            out = out.reshape(out.shape[0], out.shape[2])
            h_last = h_last.reshape(h_last.shape[0], h_last.shape[2])
            if lstm:
                c_last = c_last.reshape(c_last.shape[0], c_last.shape[2])
        elif self.batch_first:
            out = out.transpose(1, 0, 2)
        return out, h_last, c_last

    def extra_repr(self):
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if not self.bias:
            parts.append("bias=False")
        if self.batch_first:
            parts.append("batch_first=True")
        if self.dropout:
            parts.append(f"dropout={self.dropout}")
        if self.bidirectional:
            parts.append("bidirectional=True")
        return ", ".join(parts)


class RNN(RNNBase):
    """Elman recurrence hₜ = f(xₜ W_ihᵀ + b_ih + hₜ₋₁ W_hhᵀ + b_hh), f = tanh or ReLU.

    Args:
        input_size: features of xₜ.
        hidden_size: features of hₜ.
        num_layers: stacked layers.
        nonlinearity: "tanh" or "relu".
        bias: learn b_ih and b_hh.
        batch_first: input and output (batch, seq, feature) instead of (seq, batch, feature).
        dropout: dropout on the outputs of every layer but the last, in training.
        bidirectional: a second recurrence from the last step back.

    Shape:
        input (T, B, I) (or (B, T, I) when batch_first, or (T, I)); h_0
        (L·D, B, H) -> output (T, B, D·H), h_n (L·D, B, H), D = 2 if bidirectional.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Expected nonlinearity 'tanh' or 'relu'. Received: {nonlinearity!r}")
        super().__init__("rnn_" + nonlinearity, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        out, h_n, _ = self._forward(input, hx)
        return out, h_n

    def extra_repr(self):
        extra = "" if self.nonlinearity == "tanh" else ", nonlinearity='relu'"
        return super().extra_repr() + extra


class GRU(RNNBase):
    """Gated recurrent unit (PyTorch's formulas, gates r, z, n):
    r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr), z likewise,
    n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn)), h' = (1 - z) n + z h.

    Arguments and shapes as :class:`RNN` (no ``nonlinearity``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype=np.float32):
        super().__init__("gru", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)

    def forward(self, input, hx=None):
        out, h_n, _ = self._forward(input, hx)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory (PyTorch's formulas, gates i, f, g, o):
    [i f g o] = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh; c' = σ(f) c + σ(i) tanh(g); h' = σ(o) tanh(c').

    Arguments and shapes as :class:`RNN` (no ``nonlinearity``); the state is
    a pair: ``forward(input, (h_0, c_0))`` returns ``(output, (h_n, c_n))``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype=np.float32):
        super().__init__("lstm", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)

    def forward(self, input, hx=None):
        out, h_n, c_n = self._forward(input, hx)
        return out, (h_n, c_n)
