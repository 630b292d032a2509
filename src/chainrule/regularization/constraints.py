"""Norm constraints applied after each optimiser step (book §7.2).

A constraint is a callable ``model -> None`` that changes parameters in
place under ``no_grad``; pass it to ``training.fit(..., constraints=[...])``
or call it after ``opt.step()`` yourself.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .._backend import namespace_of
from ..autograd.engine import Tensor, no_grad
from ..nn.module import Module
from .penalties import penalized_parameters

__all__ = ["MaxNorm"]


class MaxNorm:
    """Max-norm constraint: reproject each unit's incoming weights onto ‖w‖₂ ≤ c.

    After an unconstrained step, every weight vector w with ‖w‖ > c is
    rescaled to w · c/‖w‖; vectors inside the ball are left as they are
    (book §7.2, explicit constraints with reprojection; Srebro & Shraibman
    2005, and Hinton et al. 2012 use it with dropout).

    For ``nn.Linear`` the weight has shape (in, out), so the incoming
    vector of output unit j is column j and the norm is taken over
    ``axis=0`` (the default).  PyTorch stores (out, in) and uses
    ``torch.renorm(W, 2, 0, c)``, which is the same constraint.

    Args:
        max_norm: the radius c > 0.
        axis: axis (or axes) the norm is taken over.
        params: constrain these parameters instead of the model's weights
            (by default: all parameters with ≥ 2 dimensions and
            ``regularize`` not False).

    Example:
        >>> fit(model, X, y, ..., constraints=[MaxNorm(3.0)])
    """

    def __init__(self, max_norm: float, axis: int | tuple = 0,
                 params: Iterable[Tensor] | None = None):
        if not np.isfinite(max_norm) or max_norm <= 0:
            raise ValueError(f"Expected max_norm > 0. Received: max_norm={max_norm}")
        self.max_norm = float(max_norm)
        self.axis = axis
        self.params = None if params is None else list(params)

    @no_grad()
    def __call__(self, model: Module | None = None) -> None:
        source = self.params if self.params is not None else model
        for p in penalized_parameters(source, exclude_bias=True):
            w = p.data
            xp = namespace_of(w)  # any array-API namespace, on w's device
            norms = xp.sqrt(xp.sum(w * w, axis=self.axis, keepdims=True))
            too_long = norms > self.max_norm
            if bool(xp.any(too_long)):
                scale = xp.where(
                    too_long, self.max_norm / xp.clip(norms, min=1e-30), xp.ones_like(norms)
                )
                w *= xp.astype(scale, w.dtype)  # in place: keeps optimiser views valid

    def __repr__(self):
        return f"MaxNorm(max_norm={self.max_norm}, axis={self.axis})"
