"""Gradient clipping (book §10.11.1): guard against exploding gradients."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..._backend import namespace_of
from ...autograd.engine import Tensor


def _with_grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    ‖g‖ is the ``norm_type``-norm of all gradients taken as one vector
    (``inf``: the largest |gᵢ|).  Every gradient is multiplied in place by
    min(1, max_norm / (‖g‖ + 1e-6)), as PyTorch; the direction is kept.

    Args:
        parameters: tensors (or one tensor) whose ``grad`` is clipped.
        max_norm: the largest norm allowed.
        norm_type: p of the p-norm; ``float("inf")`` for the max norm.
        error_if_nonfinite: raise when the norm is NaN or infinite.
        foreach: accepted for PyTorch compatibility; it changes nothing.

    Returns:
        The norm before clipping, as a 0-d Tensor (float64 for float64 gradients).
    """
    grads = [p.grad for p in _with_grads(parameters)]
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    xp = namespace_of(grads[0])
    if norm_type == math.inf:
        parts = [xp.max(xp.abs(g)) for g in grads]
        total = parts[0]
        for p in parts[1:]:
            total = xp.maximum(total, p)
    else:
        total = sum(xp.sum(xp.abs(g) ** norm_type) for g in grads) ** (1.0 / norm_type)
    value = float(total)
    if error_if_nonfinite and not math.isfinite(value):
        raise RuntimeError(
            f"clip_grad_norm_: the total gradient norm is {value}; expected a finite norm "
            "(pass error_if_nonfinite=False to clip anyway)"
        )
    coef = min(max_norm / (value + 1e-6), 1.0)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return Tensor(total, dtype=grads[0].dtype)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clip every gradient element into [-clip_value, clip_value], in place."""
    c = float(clip_value)
    for p in _with_grads(parameters):
        g = p.grad
        g[...] = namespace_of(g).clip(g, -c, c)
