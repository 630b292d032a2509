"""Functional forms for sequence models: GELU, SiLU, layer normalisation,
embedding lookup and scaled dot-product attention.

All are composed from differentiable primitives (no gradient code here), so
they run on every array namespace and differentiate to any order.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import device_of, from_host, namespace_of
from ..autograd import ops
from ..autograd.engine import Tensor
from ._erf import erf
from .functional_dropout import dropout

__all__ = ["embedding", "gelu", "layer_norm", "scaled_dot_product_attention", "silu"]

_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit GELU(x) = x Φ(x), Φ the standard normal CDF.

    ``approximate="none"``: x · ½ (1 + erf(x / √2)).
    ``approximate="tanh"``: x · ½ (1 + tanh(√(2/π) (x + 0.044715 x³))), as PyTorch.
    """
    if approximate == "none":
        return x * (erf(x * _SQRT_HALF) + 1.0) * 0.5
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * _SQRT_TWO_OVER_PI
        return x * (ops.tanh(inner) + 1.0) * 0.5
    raise ValueError(f"Expected approximate 'none' or 'tanh'. Received: {approximate!r}")


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """Sigmoid linear unit (swish) SiLU(x) = x σ(x) (``inplace`` is accepted and ignored)."""
    return x * ops.sigmoid(x)


def _shape_tuple(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


def layer_norm(x: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation: (x - μ) / √(σ² + ε) · γ + β over the trailing axes.

    μ and σ² (biased) are taken over the last ``len(normalized_shape)`` axes
    of each example, in training and evaluation alike (no running
    statistics, unlike batch normalisation, book §8.7.1).

    Shape:
        x (*, *normalized_shape); weight, bias normalized_shape.
    """
    shape = _shape_tuple(normalized_shape)
    k = len(shape)
    if tuple(x.shape[x.ndim - k:]) != shape or x.ndim < k:
        raise ValueError(
            f"layer_norm: expected input whose trailing axes are {shape}. "
            f"Received: input shape {tuple(x.shape)}"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    var = (centred * centred).mean(axis=axes, keepdims=True)
    out = centred / ops.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` picked by integer ids: ``weight[input]``.

    The gradient adds each output row's gradient into the row it came from
    (repeated ids accumulate).  Positions whose id is ``padding_idx`` give
    that row's vector but send it no gradient, as in PyTorch.

    Shape:
        input ``(*)`` int; weight (num_embeddings, embedding_dim) -> ``(*, embedding_dim)``.
    """
    ids = input.data if isinstance(input, Tensor) else input
    if not hasattr(ids, "dtype"):
        ids = np.asarray(ids)
    xp = namespace_of(ids)
    if not xp.isdtype(ids.dtype, "integral"):
        raise TypeError(f"embedding: expected integer ids. Received dtype={ids.dtype}")
    num = weight.shape[0]
    if math.prod(ids.shape) and (int(xp.max(ids)) >= num or int(xp.min(ids)) < 0):
        raise IndexError(
            f"embedding: expected ids in [0, {num}) for num_embeddings={num}. Received: ids "
            f"in [{int(xp.min(ids))}, {int(xp.max(ids))}]"
        )
    wns = namespace_of(weight.data)
    if wns is not xp:
        ids = from_host(_host(ids), wns, device_of(weight.data))
    out = weight[ids]
    if padding_idx is None or not weight.requires_grad:
        return out
    pad = padding_idx % num
    keep = wns.expand_dims(ids != pad, axis=-1)
    return ops.where(keep, out, out.data)


def _host(a):
    from .._backend import to_host

    return to_host(a)


def _bool_to_additive(mask, like, allowed_is_true: bool):
    """A boolean mask as an additive float mask (0 or -inf) of ``like``'s dtype and library."""
    ns = namespace_of(like)
    if namespace_of(mask) is not ns:
        mask = from_host(_host(mask), ns, device_of(like))
    blocked = mask if not allowed_is_true else ns.logical_not(mask)
    zeros = ns.zeros(blocked.shape, dtype=like.dtype, device=device_of(like))
    return ns.where(blocked, ns.full_like(zeros, -math.inf), zeros)


def _float_mask(mask, like):
    """A float additive mask (array or Tensor) in ``like``'s library and dtype."""
    if isinstance(mask, Tensor):
        return mask
    ns = namespace_of(like)
    if namespace_of(mask) is not ns:
        mask = from_host(_host(mask), ns, device_of(like), like.dtype)
    elif mask.dtype != like.dtype:
        mask = ns.astype(mask, like.dtype)
    return mask


def causal_mask(length: int, source_length: int, like):
    """Additive mask that hides key j > i from query i: 0 on and below the diagonal, -inf above."""
    ns = namespace_of(like)
    dev = device_of(like)
    rows = ns.reshape(ns.arange(length, device=dev), (length, 1))
    cols = ns.reshape(ns.arange(source_length, device=dev), (1, source_length))
    return _bool_to_additive(cols > rows, like, allowed_is_true=False)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """Attention softmax(Q Kᵀ · s + M) V, s = 1/√d by default, as PyTorch's.

    Args:
        query: (..., L, E).
        key: (..., S, E).
        value: (..., S, Ev).
        attn_mask: boolean (True = the query may attend to that key, as
            PyTorch's function) or float (added to the scores), broadcastable
            to (..., L, S).
        dropout_p: dropout on the attention weights (applied whenever > 0,
            as PyTorch's function).
        is_causal: hide key j > i from query i (no ``attn_mask`` then).
        scale: s; 1/√E when None.

    Shape:
        -> (..., L, Ev).
    """
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both")
    d = query.shape[-1]
    s = 1.0 / math.sqrt(d) if scale is None else float(scale)
    scores = ops.matmul(query, key.transpose(*range(key.ndim - 2), key.ndim - 1, key.ndim - 2))
    scores = scores * s
    like = scores.data
    if is_causal:
        scores = scores + causal_mask(query.shape[-2], key.shape[-2], like)
    elif attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) and _is_bool(attn_mask.data) else attn_mask
        if not isinstance(m, Tensor) and _is_bool(m):
            m = _bool_to_additive(m, like, allowed_is_true=True)
        scores = scores + _float_mask(m, like)
    weights = ops.softmax(scores, axis=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return ops.matmul(weights, value)


def _is_bool(a) -> bool:
    ns = namespace_of(a)
    return ns.isdtype(a.dtype, "bool")
