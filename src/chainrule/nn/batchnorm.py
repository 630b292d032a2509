"""Batch normalisation (book §8.7.1): BatchNorm1d and BatchNorm2d.

Training mode normalises each channel with the statistics of the current
minibatch,

    μ = mean_B(x),   σ² = mean_B((x - μ)²),   x̂ = (x - μ) / √(σ² + eps),
    y = γ x̂ + β,

and back-propagates *through* μ and σ (that is what keeps the next layer
from undoing the normalisation).  Inference uses running averages gathered
during training.

Conventions (PyTorch's, decided once here):

- ``momentum`` is the weight of the *new* value:
  ``running = (1 - momentum) * running + momentum * batch_stat``.
  ``momentum=None`` gives the cumulative average over all batches seen.
- The output is normalised with the *biased* batch variance (divide by m);
  the running variance is updated with the *unbiased* one (divide by m - 1).
- ``weight`` (γ) starts at 1 and ``bias`` (β) at 0.

The training forward and its vjp are one fused primitive,
:func:`batch_norm_train`, so backward costs two reductions and one
elementwise pass instead of a dozen small ops.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._backend import namespace_of, xp
from ..autograd.engine import Tensor, _is_float, primitive
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "batch_norm", "batch_norm_train"]


def _channel_axes(ndim: int) -> tuple:
    """Axes to reduce over for (N, C, *spatial): all but the channel axis 1."""
    return (0,) + tuple(range(2, ndim))


def _channel_shape(ndim: int, c: int) -> tuple:
    """Shape that broadcasts a (C,) vector against (N, C, *spatial)."""
    return (1, c) + (1,) * (ndim - 2)


@primitive
def batch_norm_train(ns, x, weight=None, bias=None, eps=1e-5, running_mean=None,
                     running_var=None, momentum=0.1):
    """Fused training-mode batch norm y = γ (x - μ)/√(σ² + eps) + β.

    μ and σ² are the per-channel mean and biased variance of ``x`` over every
    axis except axis 1.  When ``running_mean``/``running_var`` arrays are
    given they are updated in place (unbiased variance, see module doc).

    The vjp, with m values per channel, x̂ the normalised input and sums over
    the batch axes:

        dβ = Σ g,   dγ = Σ g x̂,
        dx = γ / (m √(σ² + eps)) · (m g - dβ - x̂ dγ).
    """
    axes = _channel_axes(x.ndim)
    shape = _channel_shape(x.ndim, x.shape[1])
    m = math.prod(x.shape) // x.shape[1]
    if getattr(ns, "differentiable", False):
        # create_graph re-runs the forward on Tensors: the same formula as ops,
        # and the running statistics are not updated a second time
        xc = x - x.mean(axis=axes, keepdims=True)
        out = xc / ns.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
        if weight is not None:
            out = out * ns.reshape(weight, shape)
        if bias is not None:
            out = out + ns.reshape(bias, shape)
        return out, ns.vjp_of(out, (x, weight, bias))
    # standard names only (array_api_strict, torch, CuPy); NumPy's variant below
    mean = ns.mean(x, axis=axes, keepdims=True)
    xc = x - mean
    var = ns.mean(xc * xc, axis=axes, keepdims=True)
    invstd = 1.0 / ns.sqrt(var + float(eps))
    xhat = xc * invstd
    out = xhat if weight is None else xhat * ns.reshape(weight, shape)
    if bias is not None:
        out = out + ns.reshape(bias, shape)
    if running_mean is not None:
        running_mean *= 1.0 - momentum
        running_mean += momentum * ns.astype(ns.reshape(mean, (-1,)), running_mean.dtype)
    if running_var is not None:
        unbiased = ns.reshape(var, (-1,)) * (m / (m - 1))
        running_var *= 1.0 - momentum
        running_var += momentum * ns.astype(unbiased, running_var.dtype)

    def vjp(g, need):
        g_bias = ns.sum(g, axis=axes, keepdims=True)
        g_weight = ns.sum(g * xhat, axis=axes, keepdims=True)
        gx = None
        if need[0]:
            scale = invstd / float(m)
            if weight is not None:
                scale = scale * ns.reshape(weight, shape)
            gx = (g * float(m) - g_bias - xhat * g_weight) * scale
        gw = ns.reshape(g_weight, (-1,)) if need[1] else None
        gb = ns.reshape(g_bias, (-1,)) if need[2] else None
        return gx, gw, gb

    return out, vjp


@batch_norm_train.variant("numpy")
def _batch_norm_train_numpy(ns, x, weight=None, bias=None, eps=1e-5, running_mean=None,
                            running_var=None, momentum=0.1):
    """NumPy's batch norm: in-place updates of the temporaries."""
    axes = _channel_axes(x.ndim)
    shape = _channel_shape(x.ndim, x.shape[1])
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes, keepdims=True)
    xhat = x - mean
    var = xp.mean(xhat * xhat, axis=axes, keepdims=True)
    invstd = 1.0 / xp.sqrt(var + x.dtype.type(eps))
    xhat *= invstd
    out = xhat if weight is None else xhat * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    elif out is xhat:
        out = xhat.copy()  # xhat is kept for the vjp

    if running_mean is not None:
        mom = running_mean.dtype.type(momentum)
        running_mean *= 1 - mom
        running_mean += mom * mean.reshape(-1).astype(running_mean.dtype)
    if running_var is not None:
        mom = running_var.dtype.type(momentum)
        unbiased = var.reshape(-1) * (m / (m - 1))
        running_var *= 1 - mom
        running_var += mom * unbiased.astype(running_var.dtype)

    def vjp(g, need):
        g_bias = g.sum(axis=axes, keepdims=True)
        g_weight = (g * xhat).sum(axis=axes, keepdims=True)
        gx = None
        if need[0]:
            scale = invstd / m
            if weight is not None:
                scale = scale * weight.reshape(shape)
            gx = g * x.dtype.type(m)
            gx -= g_bias
            gx -= xhat * g_weight
            gx *= scale
        gw = g_weight.reshape(-1) if need[1] else None
        gb = g_bias.reshape(-1) if need[2] else None
        return gx, gw, gb

    return out, vjp



def batch_norm(x: Tensor, running_mean, running_var, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Functional batch norm over axis 1 of (N, C, *spatial) (as ``torch.nn.functional``).

    Args:
        x: input of shape (N, C) or (N, C, L) or (N, C, H, W).
        running_mean, running_var: (C,) arrays or None.  In training they
            are updated in place; in eval they normalise the input.
        weight, bias: γ and β of shape (C,), or None.
        training: use (and back-propagate through) the batch statistics.
        momentum: weight of the new batch statistic in the running average.
        eps: added to the variance under the square root.
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if training:
        return batch_norm_train(x, weight, bias, eps=eps, running_mean=running_mean,
                                running_var=running_var, momentum=momentum)
    if running_mean is None or running_var is None:
        raise ValueError(
            "batch_norm in eval mode needs running statistics. "
            "Received: running_mean or running_var = None"
        )
    shape = _channel_shape(x.ndim, x.shape[1])
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rns = namespace_of(rv)
    invstd = rns.astype(1.0 / rns.sqrt(rv + float(eps)), x.dtype)
    if weight is None:
        scale = invstd
        shift = -rns.astype(rm, x.dtype) * invstd
        out = x * rns.reshape(scale, shape) + rns.reshape(shift, shape)
    else:
        scale = weight * invstd
        out = x * scale.reshape(*shape)
        shift = scale * -rns.astype(rm, x.dtype)
        out = out + shift.reshape(*shape)
    if bias is not None:
        out = out + bias.reshape(*shape)
    return out


class _BatchNorm(Module):
    """Shared code of BatchNorm1d/2d; subclasses say which input ranks they take."""

    _ndims: tuple = ()
    _shape_text: str = ""
    weight: Parameter | None
    bias: Parameter | None
    running_mean: Any  # arrays, or None without track_running_stats
    running_var: Any
    num_batches_tracked: Any

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype=np.float32):
        super().__init__()
        if int(num_features) != num_features or num_features <= 0:
            raise ValueError(
                f"Expected a positive integer num_features. Received: {num_features!r}"
            )
        if eps <= 0:
            raise ValueError(f"Expected eps > 0. Received: eps={eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"Expected momentum in [0, 1] or None. Received: {momentum}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype), dtype=dtype)
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype), dtype=dtype)
        else:
            self.weight = None
            self.bias = None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.running_mean = None
            self.running_var = None
            self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, batch count 0."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """Running stats reset; γ = 1, β = 0."""
        self.reset_running_stats()
        if self.weight is not None and self.bias is not None:  # affine
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def _check_input(self, x) -> None:
        if x.ndim not in self._ndims:
            raise ValueError(
                f"{type(self).__name__} expects input of shape {self._shape_text}. "
                f"Received: shape {x.shape}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expects {self.num_features} "
                f"channels on axis 1. Received: shape {x.shape}"
            )
        if not _is_float(x.data):
            raise TypeError(
                f"{type(self).__name__} expects floating-point input. Received: dtype={x.dtype}"
            )

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        self._check_input(x)
        use_batch = self.training or not self.track_running_stats
        if use_batch and x.size // x.shape[1] <= 1:
            raise ValueError(
                f"{type(self).__name__} in training mode needs more than 1 value per "
                f"channel to compute a batch variance. Received: input shape {x.shape}. "
                "Use a larger batch, or call .eval() to use the running statistics."
            )
        momentum = self.momentum
        update = self.training and self.track_running_stats
        if update:
            self.num_batches_tracked[...] += 1
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        return batch_norm(
            x,
            self.running_mean if update or not use_batch else None,
            self.running_var if update or not use_batch else None,
            self.weight, self.bias, training=use_batch,
            momentum=momentum if momentum is not None else 0.0, eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C (book §8.7.1).

    y = γ (x - μ_B) / √(σ²_B + eps) + β in training, with μ_B, σ²_B the
    batch mean and biased variance over N (and L); in eval the running
    averages replace them.  PyTorch semantics: ``momentum`` weighs the new
    value, the running variance uses the unbiased batch variance.

    Args:
        num_features: C, the number of units/channels.
        eps: added to the variance for stability.
        momentum: weight of the new batch statistic in the running
            averages; None for a cumulative average.
        affine: learn γ (``weight``, init 1) and β (``bias``, init 0).
        track_running_stats: keep ``running_mean``/``running_var`` buffers
            (saved in ``state_dict``); if False, batch statistics are used
            in eval mode too.

    Shape:
        input (N, C) or (N, C, L) -> output of the same shape.

    Example:
        >>> net = nn.Sequential(nn.Linear(64, 100), nn.BatchNorm1d(100), nn.ReLU())
    """

    _ndims = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C (book §8.7.1).

    Statistics are taken over N, H and W for each channel, so a
    convolutional feature map is normalised the same way at every
    position.  Same arguments and conventions as :class:`BatchNorm1d`.

    Shape:
        input (N, C, H, W) -> output of the same shape.

    Example:
        >>> bn = nn.BatchNorm2d(16)
        >>> bn(cr.tensor(np.random.randn(8, 16, 5, 5))).shape
        (8, 16, 5, 5)
    """

    _ndims = (4,)
    _shape_text = "(N, C, H, W)"
