"""Tangent propagation (book §7.14, Simard et al., 1992).

The classifier's output should not change when the input moves along a
known direction of the data manifold (a small translation or rotation of
an image).  For tangent vectors v_tn of each input x_n the penalty is::

    Ω = (1/N) Σₙ Σₜ ‖J_f(xₙ) vₜₙ‖²

with J_f the Jacobian of the model's output with respect to its input.
J v is computed by the double-vjp trick on one forward pass: g(u) = Jᵀu is
recorded for a dummy cotangent u, and J v = ∂⟨g(u), v⟩/∂u; both backward
passes are recorded, so Ω is differentiable with respect to the
parameters (its gradient needs second derivatives of the network).

Tangent vectors of images come from :func:`image_tangents`: the central
finite difference of :func:`~chainrule.regularization.affine_transform`
in the transformation's parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..autograd.engine import Tensor, enable_grad, grad
from .augmentation import affine_transform

__all__ = ["TangentProp", "image_tangents", "tangent_prop_penalty"]

#: the transformations image_tangents knows, with their default half-steps
#: (pixels for translations, radians for rotation, zoom factor for scale)
TANGENT_KINDS = {"translate_x": 0.5, "translate_y": 0.5, "rotate": np.deg2rad(5.0),
                 "scale": 0.05}


def tangent_prop_penalty(model, x, tangents) -> Tensor:
    """Ω = (1/N) Σₙ Σₜ ‖J_f(xₙ) vₜₙ‖², differentiable w.r.t. the parameters (book §7.14).

    The Jacobian is that of the model's output for the whole batch at x in
    the model's current mode (rows are independent for models without
    batch statistics; with batch norm in training mode the batch's
    statistics count as part of f, as in ``torch.func.jvp`` of the batch).

    Args:
        model: a callable Tensor -> Tensor (an ``nn.Module``).
        x: inputs (N, ...), an array or Tensor (no gradient flows into x).
        tangents: (T, N, *x.shape[1:]): T tangent vectors for every input.

    Returns:
        A scalar Tensor in the model's dtype, with a graph to the parameters.

    Example:
        >>> v = image_tangents(X, image_shape=(8, 8))       # (4, N, 64)
        >>> loss = F.cross_entropy(model(X), y) + 0.1 * tangent_prop_penalty(model, X, v)
    """
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.dtype.kind != "f":
        data = data.astype(np.float32)
    v = tangents.data if isinstance(tangents, Tensor) else np.asarray(tangents)
    if v.ndim != data.ndim + 1 or v.shape[1:] != data.shape:
        raise ValueError(
            "Expected tangents of shape (T, N, *x.shape[1:]) = (T, "
            f"{', '.join(map(str, data.shape))}). Received: {v.shape}"
        )
    if len(data) == 0:
        raise ValueError("Expected at least one input row. Received: x with 0 rows")
    v = v.astype(data.dtype, copy=False)
    xt = Tensor(data, requires_grad=True, dtype=data.dtype)
    with enable_grad():
        out = model(xt)
        u = Tensor(np.zeros(out.shape, dtype=out.dtype), requires_grad=True, dtype=out.dtype)
        (g,) = grad(out, xt, grad_outputs=u, create_graph=True, allow_unused=True)
        total = None
        if g is not None and g.requires_grad:
            for t in range(v.shape[0]):
                (jv,) = grad(g, u, grad_outputs=v[t], create_graph=True, allow_unused=True)
                if jv is None:
                    continue
                term = (jv * jv).sum()
                total = term if total is None else total + term
    if total is None:  # the output does not depend on the input
        return Tensor(np.zeros((), dtype=out.dtype), dtype=out.dtype)
    return total / len(data)


def image_tangents(images, kinds: Sequence[str] = ("translate_x", "translate_y", "rotate",
                                                   "scale"),
                   image_shape: Sequence[int] | None = None,
                   steps: dict | None = None) -> np.ndarray:
    """Tangent vectors of images along small transformations, by central differences.

    For each kind, v = (A(+h)·x − A(−h)·x) / 2h with A the bilinear
    :func:`~chainrule.regularization.affine_transform` about the image
    centre: ``"translate_x"`` (right) and ``"translate_y"`` (down) per
    pixel, ``"rotate"`` (counter-clockwise) per radian, ``"scale"`` per
    unit of zoom factor.

    Args:
        images: (N, H, W), (N, C, H, W), or flat rows (N, H*W) / (N, C*H*W)
            with ``image_shape``.
        kinds: which transformations, in the order of the output's first axis.
        image_shape: (H, W) or (C, H, W) for flat rows.
        steps: half-steps h per kind (defaults: 0.5 pixel, 5° in radians,
            0.05 zoom).

    Returns:
        (T, *images.shape) float array (the images' dtype, float32 for
        integer images).
    """
    x = np.asarray(images)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    unknown = [k for k in kinds if k not in TANGENT_KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"Expected kinds among {sorted(TANGENT_KINDS)}. Received: {list(kinds)}"
        )
    h = dict(TANGENT_KINDS)
    if steps:
        bad = [k for k in steps if k not in TANGENT_KINDS]
        if bad:
            raise ValueError(f"Expected steps for kinds among {sorted(TANGENT_KINDS)}. "
                             f"Received: {bad}")
        h.update(steps)
    for k in kinds:
        if not np.isfinite(h[k]) or h[k] <= 0:
            raise ValueError(f"Expected a step > 0 for {k!r}. Received: {h[k]}")
    n = x.shape[0]
    imgs = x if image_shape is None else x.reshape((n,) + tuple(image_shape))
    out = np.empty((len(kinds),) + x.shape, dtype=x.dtype)
    for i, kind in enumerate(kinds):
        step = float(h[kind])
        pair = []
        for sign in (1.0, -1.0):
            if kind == "translate_x":
                moved = affine_transform(imgs, translate=(sign * step, 0.0))
            elif kind == "translate_y":
                moved = affine_transform(imgs, translate=(0.0, sign * step))
            elif kind == "rotate":
                moved = affine_transform(imgs, angle=np.rad2deg(sign * step))
            else:
                moved = affine_transform(imgs, scale=1.0 + sign * step)
            pair.append(moved.reshape(x.shape))
        out[i] = (pair[0] - pair[1]) / x.dtype.type(2 * step)
    return out


class TangentProp:
    """The tangent propagation penalty as a batch regulariser: weight · Ω on each minibatch.

    Pass it to ``training.fit(..., regularizers=[...])``: for every
    training minibatch x the loop calls :meth:`batch_penalty`, which makes
    the tangents with ``tangent_fn(x)`` and returns
    ``weight * tangent_prop_penalty(model, x, tangent_fn(x))``.

    Args:
        weight: the penalty's weight ≥ 0.
        tangent_fn: ``x (N, ...) array -> (T, N, ...) tangents``; e.g.
            ``lambda x: image_tangents(x, image_shape=(8, 8))``.
        output_fn: optional map of the model's output before the Jacobian
            (e.g. ``nn.functional.softmax``, to ask for invariant class
            probabilities rather than invariant logits).

    Example:
        >>> tp = TangentProp(0.05, lambda x: image_tangents(x, image_shape=(8, 8)))
        >>> fit(model, X, y, loss="cross_entropy", optimizer=opt, regularizers=[tp])
    """

    def __init__(self, weight: float, tangent_fn: Callable, output_fn: Callable | None = None):
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"Expected weight >= 0. Received: weight={weight}")
        if not callable(tangent_fn):
            raise TypeError(f"Expected tangent_fn to be callable. Received: {tangent_fn!r}")
        self.weight = float(weight)
        self.tangent_fn = tangent_fn
        self.output_fn = output_fn

    def batch_penalty(self, model, x, y=None, loss_fn=None, loss=None) -> Tensor:
        """weight · Ω(model, x, tangent_fn(x)) for one minibatch."""
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        f = model
        if self.output_fn is not None:
            def f(inputs):
                return self.output_fn(model(inputs))
        return tangent_prop_penalty(f, data, self.tangent_fn(data)) * self.weight

    def __repr__(self):
        return f"TangentProp(weight={self.weight})"
