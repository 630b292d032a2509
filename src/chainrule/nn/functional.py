"""Functional forms of activations, output units and losses.

Hidden units (book §6.3) and output units (§6.2.2) are primitives or built
from primitives; losses are negative (conditional) log-likelihoods (§6.2.1.1):

- Gaussian output, fixed variance  -> :func:`mse_loss` (up to constants)
- Gaussian output, learned variance -> :func:`gaussian_nll_loss`
- Bernoulli output (sigmoid)        -> :func:`binary_cross_entropy_with_logits`
- Multinoulli output (softmax)      -> :func:`cross_entropy`

Losses take logits, never probabilities, so saturation does not kill the
gradient; logits of ±1e4 give finite losses and gradients.
"""

from __future__ import annotations

import numpy as np

from .._backend import device_of, from_host, namespace_of, to_host
from ..autograd import ops
from ..autograd.engine import Tensor

__all__ = [
    "abs_rectification",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "embedding",
    "gaussian_nll_loss",
    "gelu",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "nll_loss",
    "prelu",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")

# --- hidden units --------------------------------------------------------
relu = ops.relu
sigmoid = ops.sigmoid
tanh = ops.tanh
softplus = ops.softplus


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """Leaky ReLU: g(z) = max(0, z) + α min(0, z) with α = ``negative_slope``."""
    return ops.leaky_relu(x, negative_slope=negative_slope)


def abs_rectification(x: Tensor) -> Tensor:
    """Absolute-value rectification g(z) = |z| (leaky form with α = -1)."""
    return ops.abs(x)


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """Parametric ReLU: g(z) = max(0, z) + α min(0, z) with α learned (book §6.3.3).

    Args:
        x: input; channels are axis 1 (as in PyTorch).
        weight: α, one element shared by all units, or one per channel.

    Shape:
        x (N, C, *) or (N,); weight (1,) or (C,).
    """
    w = weight
    if weight.size > 1:
        channels = x.shape[1] if x.ndim > 1 else 1
        if weight.size != channels:
            raise ValueError(
                f"prelu: expected weight of 1 or {channels} elements (the channels on "
                f"axis 1 of input shape {x.shape}). Received: weight shape {weight.shape}"
            )
        shape = [1] * x.ndim
        shape[1] = weight.size
        w = weight.reshape(*shape)
    return ops.where(x.data > 0, x, x * w)


# --- output units --------------------------------------------------------
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax(z)_i = exp(z_i) / Σ_j exp(z_j), max-subtracted."""
    return ops.softmax(x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log softmax(z)_i = z_i - logsumexp(z) (book eq. 6.30)."""
    return ops.log_softmax(x, axis=axis)


def logsumexp(x: Tensor, axis: int = -1, keepdims: bool = False) -> Tensor:
    """log Σ exp(x) along ``axis``, computed with the max subtracted."""
    return ops.logsumexp(x, axis=axis, keepdims=keepdims)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map a = x W + b (book §6.1), ``weight`` of shape (in, out)."""
    w_shape = weight.shape
    if x.shape[-1] != w_shape[0]:
        raise ValueError(
            f"linear: input has {x.shape[-1]} features (shape {x.shape}) but "
            f"weight expects {w_shape[0]} (weight shape {w_shape})"
        )
    return ops.linear(x, weight, bias)


# --- losses --------------------------------------------------------------
def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Expected reduction in {_REDUCTIONS}. Received: reduction={reduction!r}"
        )


def _targets(target):
    """Targets as an array: a Tensor's data, an array of any library as it is, else NumPy."""
    t = target.data if isinstance(target, Tensor) else target
    return np.asarray(t) if namespace_of(t) is np else t


def _check_targets(target, n_classes, n_rows):
    """Class ids checked (integer dtype, one per row, in range): NumPy, or the logits' library.

    Ids on a device are checked there; only the range check reads one
    boolean back (and the first bad id when there is one).
    """
    t = _targets(target)
    xp = namespace_of(t)
    if xp is not np:
        if not xp.isdtype(t.dtype, "integral"):
            raise TypeError(
                "cross_entropy/nll_loss expect integer class ids as targets. "
                f"Received dtype={t.dtype}"
            )
        if tuple(t.shape) != (n_rows,):
            raise ValueError(
                f"target has shape {tuple(t.shape)}; expected ({n_rows},) for {n_rows} rows "
                "of logits"
            )
        if t.shape[0] and bool(xp.any((t < 0) | (t >= n_classes))):
            host = to_host(t)
            bad = host[(host < 0) | (host >= n_classes)][0]
            raise IndexError(
                f"target label {bad} is out of range for {n_classes} classes "
                f"(expected 0..{n_classes - 1})"
            )
        return t
    if t.dtype.kind not in "iu":
        raise TypeError(
            "cross_entropy/nll_loss expect integer class ids as targets. "
            f"Received dtype={t.dtype}"
        )
    if t.shape != (n_rows,):
        raise ValueError(
            f"target has shape {t.shape}; expected ({n_rows},) for {n_rows} rows of logits"
        )
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        bad = t[(t < 0) | (t >= n_classes)][0]
        raise IndexError(
            f"target label {bad} is out of range for {n_classes} classes "
            f"(expected 0..{n_classes - 1})"
        )
    return t


def cross_entropy(logits: Tensor, target, label_smoothing: float = 0.0,
                  reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy: -log softmax(z)[y], the multinoulli NLL (§6.2.2.3).

    Args:
        logits: (N, C) unnormalised scores, or (N, C, d1, ...) for one
            softmax per position.
        target: (N,) int class ids (or (N, d1, ...)).
        label_smoothing: ε in PyTorch's form: the target puts 1-ε+ε/C on the
            true class and ε/C elsewhere.  The book's form (1-ε on the true
            class, ε/(C-1) elsewhere, §7.5.1) is the same thing with
            ε_torch = ε_book · C/(C-1).
        reduction: "mean" | "sum" | "none".
        ignore_index: rows whose target is this id (padding) add nothing
            to the loss or the gradient; "mean" averages over the other
            rows (NaN when there are none), as PyTorch.

    Forward and backward are fused: the gradient is softmax(z) - q.
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"Expected label_smoothing in [0, 1]. Received: {label_smoothing}"
        )
    if logits.ndim > 2:
        # (N, C, d...) -> (N*d..., C): one softmax per position
        c = logits.shape[1]
        axes = (0,) + tuple(range(2, logits.ndim)) + (1,)
        flat = logits.transpose(*axes).reshape(-1, c)
        t = _targets(target)
        loss = cross_entropy(flat, namespace_of(t).reshape(t, (-1,)), label_smoothing, reduction,
                             ignore_index)
        if reduction == "none":
            return loss.reshape(*t.shape)
        return loss
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy expects (N, C) logits. Received shape {logits.shape}")
    t = _targets(target)
    ignored = t == ignore_index if namespace_of(t) is not np or t.dtype.kind in "iu" else None
    if ignored is not None and bool(namespace_of(t).any(ignored)):
        return _cross_entropy_ignoring(logits, t, ignored, float(label_smoothing), reduction)
    t = _check_targets(t, logits.shape[1], logits.shape[0])
    return ops.softmax_cross_entropy(
        logits, t, smoothing=float(label_smoothing), reduction=reduction
    )


def _cross_entropy_ignoring(logits, t, ignored, smoothing, reduction):
    """Cross-entropy of the rows whose target is not ``ignore_index`` (``ignored`` false)."""
    xp = namespace_of(t)
    t = _check_targets(xp.where(ignored, xp.zeros_like(t), t), logits.shape[1], logits.shape[0])
    losses = ops.softmax_cross_entropy(logits, t, smoothing=smoothing, reduction="none")
    data = losses.data
    lns = namespace_of(data)
    keep = xp.logical_not(ignored)
    if namespace_of(keep) is not lns:
        keep = from_host(to_host(keep), lns, device_of(data))
    keep = lns.astype(keep, data.dtype)
    losses = losses * keep
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    return total / lns.sum(keep)


def nll_loss(log_probs: Tensor, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of int targets given (N, C) log-probabilities."""
    _check_reduction(reduction)
    t = _check_targets(target, log_probs.shape[1], log_probs.shape[0])
    picked = log_probs[np.arange(len(t)), t]
    return _reduce(-picked, reduction)


def binary_cross_entropy_with_logits(logits: Tensor, target,
                                     reduction: str = "mean") -> Tensor:
    """Bernoulli NLL with a sigmoid output unit, from logits (§6.2.2.2).

    -[t log σ(z) + (1-t) log(1-σ(z))] = softplus(z) - t z, computed stably.
    """
    _check_reduction(reduction)
    t = target
    if not isinstance(target, Tensor):
        xp = namespace_of(target)
        if xp is np:
            t = np.asarray(target, dtype=logits.dtype)
        elif target.dtype != logits.data.dtype:  # an array of the logits' library
            t = xp.astype(target, logits.data.dtype)
    if tuple(t.shape) != tuple(logits.shape):
        raise ValueError(
            "binary_cross_entropy_with_logits: expected target of the logits' shape "
            f"{logits.shape}. Received: target shape {t.shape}"
        )
    return _reduce(ops.bce_with_logits(logits, t), reduction)


def _check_same_shape(name, a, b):
    sa = a.shape
    sb = b.shape if hasattr(b, "shape") else np.shape(b)
    if sa != sb:
        raise ValueError(
            f"{name}: expected target of the input's shape {sa}. Received: target shape {sb}"
        )


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error mean((y - f)²) — PyTorch's form.

    The book's MSE cost ½‖y - f‖² (§6.2.1.1) is the Gaussian NLL up to
    constants; it differs from this by the factor ½ and the averaging.
    """
    _check_reduction(reduction)
    _check_same_shape("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error mean|y - f| (the Laplace NLL up to constants)."""
    _check_reduction(reduction)
    _check_same_shape("l1_loss", input, target)
    return _reduce(ops.abs(input - target), reduction)


def gaussian_nll_loss(mean: Tensor, var, target, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Gaussian negative log-likelihood with a predicted (heteroscedastic) variance.

    loss = ½ [log max(σ², eps) + (y - μ)² / max(σ², eps)] (+ ½ log 2π if
    ``full``): the NLL of a Gaussian output unit that learns its own
    variance (book §6.2.2.1).  As in PyTorch, the clamp to ``eps`` changes
    the value only; the gradient passes through it unchanged.

    Args:
        mean: predicted means μ.
        var: predicted variances σ² ≥ 0: the shape of ``mean``, or that
            shape without its last axis (one variance per row), or the same
            number of axes with 1 where it differs (shared variances).
        target: observed y, the shape of ``mean``.
        full: add the constant ½ log 2π.
        eps: the smallest variance used.
        reduction: "mean" | "sum" | "none".

    Shape:
        mean, target (*, D); var (*, D), (*) or broadcastable with 1s.
    """
    _check_reduction(reduction)
    _check_same_shape("gaussian_nll_loss", mean, target)
    if not isinstance(var, Tensor):
        var = Tensor(var)
    if var.shape != mean.shape:
        if var.shape == mean.shape[:-1]:
            var = var.reshape(*var.shape, 1)  # one variance per row
        elif var.ndim != mean.ndim or any(
            v != m and v != 1 for v, m in zip(var.shape, mean.shape)
        ):
            raise ValueError(
                f"gaussian_nll_loss: expected var of shape {mean.shape}, "
                f"{mean.shape[:-1]}, or with 1s where it differs. "
                f"Received: var shape {var.shape}"
            )
    v_data = var.data
    xp = namespace_of(v_data)
    if bool(xp.any(v_data < 0)):
        raise ValueError("gaussian_nll_loss: expected var >= 0. Received negative entries")
    shift = xp.clip(v_data, min=eps) - v_data  # value-only clamp
    v = var + (shift if shift.dtype == v_data.dtype else xp.astype(shift, v_data.dtype))
    d = mean - target
    loss = (ops.log(v) + d * d / v) * 0.5
    if full:
        loss = loss + float(0.5 * np.log(2 * np.pi))
    return _reduce(loss, reduction)


from .functional_conv import (  # noqa: F401  (conv and pooling: F.conv2d, F.max_pool2d, ...)
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    max_pool1d,
    max_pool2d,
)
from .functional_dropout import dropout
from .functional_seq import (
    embedding,
    gelu,
    layer_norm,
    scaled_dot_product_attention,
    silu,
)
