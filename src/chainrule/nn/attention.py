"""Multi-head attention with PyTorch's arguments, parameters and masks."""

from __future__ import annotations

import math

import numpy as np

from .._backend import namespace_of
from ..autograd import ops
from ..autograd.engine import Tensor
from . import functional as F
from . import init
from .functional_seq import _bool_to_additive, _float_mask, _is_bool, causal_mask
from .linear import Linear
from .module import Module, float_input
from .parameter import Parameter


class MultiheadAttention(Module):
    """Attention of several heads side by side (Vaswani et al. 2017), as PyTorch's.

    Q = query W_qᵀ + b_q, K = key W_kᵀ + b_k, V = value W_vᵀ + b_v (the
    three stacked in ``in_proj_weight`` (3E, E) and ``in_proj_bias``); each
    of the h heads attends with its E/h columns, softmax(Q Kᵀ / √(E/h) + M) V;
    the heads' outputs side by side go through ``out_proj`` (a Linear).

    Args:
        embed_dim: E, the model's width.
        num_heads: h; E must be a multiple of h.
        dropout: dropout on the attention weights, in training.
        bias: learn the projections' biases.
        batch_first: inputs and output (N, L, E) instead of (L, N, E).

    Shape:
        query (L, N, E), key and value (S, N, E) (or batch first, or
        unbatched (L, E)) -> output (L, N, E) and, with ``need_weights``,
        weights (N, L, S), or (N, h, L, S) without ``average_attn_weights``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, kdim: int | None = None, vdim: int | None = None,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, dtype=np.float32):
        super().__init__()
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError(
                "MultiheadAttention: add_bias_kv and add_zero_attn are not supported. Received: "
                f"add_bias_kv={add_bias_kv}, add_zero_attn={add_zero_attn}"
            )
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                "MultiheadAttention: expected positive embed_dim divisible by num_heads. "
                f"Received: embed_dim={embed_dim}, num_heads={num_heads}"
            )
        if (kdim is not None and kdim != embed_dim) or (vdim is not None and vdim != embed_dim):
            raise NotImplementedError(
                "MultiheadAttention: key and value widths other than embed_dim are not "
                f"supported. Received: kdim={kdim}, vdim={vdim}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected dropout in [0, 1). Received: dropout={dropout}")
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype), dtype=dtype)
        self.in_proj_bias = (Parameter(np.zeros(3 * embed_dim, dtype), dtype=dtype)
                             if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch: Xavier-uniform in-projection, zero biases
        fan_in, fan_out = self.embed_dim, 3 * self.embed_dim
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        init.uniform_(self.in_proj_weight, -bound, bound)
        if self.in_proj_bias is not None and self.out_proj.bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _project(self, x, part: int):
        """x W_partᵀ + b_part for part 0, 1, 2 (query, key, value)."""
        e = self.embed_dim
        w = self.in_proj_weight[part * e:(part + 1) * e]
        b = None if self.in_proj_bias is None else self.in_proj_bias[part * e:(part + 1) * e]
        return ops.linear(x, w.T, b)

    def _heads(self, x):
        """(N, L, E) -> (N, h, L, E/h)."""
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        dtype = self.in_proj_weight.dtype
        same = query is key and key is value
        query, key, value = (float_input(t, dtype) for t in (query, key, value))
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (t.reshape(1, *t.shape) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = _add_batch_axis(key_padding_mask)
        elif not self.batch_first:
            query, key, value = (t.transpose(1, 0, 2) for t in (query, key, value))
        if same:
            key = value = query
        self._check(query, key, value)
        n, length, _ = query.shape
        source = key.shape[1]
        if query is key and key is value:  # self-attention: one product for Q, K and V
            qkv = ops.linear(query, self.in_proj_weight.T, self.in_proj_bias)
            qkv = qkv.reshape(n, length, 3, self.num_heads, self.head_dim)
            qkv = qkv.transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0, ...], qkv[1, ...], qkv[2, ...]
        else:
            q = self._heads(self._project(query, 0))
            k = self._heads(self._project(key, 1))
            v = self._heads(self._project(value, 2))
        like = q.data
        mask = self._mask(attn_mask, key_padding_mask, is_causal, n, length, source, like)
        scores = ops.matmul(q, k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(self.head_dim))
        if mask is not None:
            scores = scores + mask
        weights = ops.softmax(scores, axis=-1)
        if self.dropout and self.training:
            weights = F.dropout(weights, self.dropout, training=True)
        out = ops.matmul(weights, v).transpose(0, 2, 1, 3).reshape(n, length, self.embed_dim)
        out = self.out_proj(out)
        if unbatched:
            out = out.reshape(length, self.embed_dim)
        elif not self.batch_first:
            out = out.transpose(1, 0, 2)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        if unbatched:
            weights = weights.reshape(*weights.shape[1:])
        return out, weights

    def _check(self, query, key, value):
        e = self.embed_dim
        if query.ndim != 3 or query.shape[-1] != e or key.shape[-1] != e or value.shape[-1] != e:
            raise ValueError(
                f"MultiheadAttention: expected query, key and value with {e} features. "
                f"Received: shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        if key.shape != value.shape or key.shape[0] != query.shape[0]:
            raise ValueError(
                "MultiheadAttention: expected key and value of one shape and the query's batch. "
                f"Received: query {tuple(query.shape)}, key {tuple(key.shape)}, "
                f"value {tuple(value.shape)}"
            )

    def _mask(self, attn_mask, key_padding_mask, is_causal, n, length, source, like):
        """The additive mask (N, h, L, S) or broadcastable, from PyTorch's arguments."""
        mask = None
        if attn_mask is not None:
            mask = _additive(attn_mask, like)
            shape = tuple(mask.shape)
            if shape == (n * self.num_heads, length, source):
                mask = _reshape(mask, (n, self.num_heads, length, source))
            elif shape != (length, source):
                raise ValueError(
                    f"MultiheadAttention: expected attn_mask of shape {(length, source)} or "
                    f"{(n * self.num_heads, length, source)}. Received: shape {shape}"
                )
        elif is_causal:
            mask = causal_mask(length, source, like)
        if key_padding_mask is not None:
            pad = _additive(key_padding_mask, like)
            if tuple(pad.shape) != (n, source):
                raise ValueError(
                    f"MultiheadAttention: expected key_padding_mask of shape {(n, source)}. "
                    f"Received: shape {tuple(pad.shape)}"
                )
            pad = _reshape(pad, (n, 1, 1, source))
            mask = pad if mask is None else mask + pad
        return mask

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")


def _add_batch_axis(mask):
    data = mask.data if isinstance(mask, Tensor) else mask
    if not hasattr(data, "shape"):
        data = np.asarray(data)
    return namespace_of(data).reshape(data, (1, *data.shape))


def _additive(mask, like):
    """A PyTorch mask (bool: True = masked out; float: added) as an additive mask."""
    data = mask.data if isinstance(mask, Tensor) else mask
    if not hasattr(data, "shape"):
        data = np.asarray(data)
    if _is_bool(data):
        return _bool_to_additive(data, like, allowed_is_true=False)
    return _float_mask(mask, like)


def _reshape(mask, shape):
    """A mask (array or Tensor) in a new shape."""
    if isinstance(mask, Tensor):
        return mask.reshape(*shape)
    return namespace_of(mask).reshape(mask, shape)


__all__ = ["MultiheadAttention"]
