"""Functional convolution and pooling: ``F.conv1d``, ``F.conv2d``, ``F.max_pool*``, ``F.avg_pool*``.

Convolution is the book's canonical case of parameter sharing (§7.9): one
kernel of a few weights is reused at every position.  Layout and argument
names are PyTorch's: inputs are channels-first, (N, C, L) or (N, C, H, W)
(an unbatched (C, L) / (C, H, W) input also works), and a kernel has shape
(out_channels, in_channels, *kernel_size).  As in every deep-learning
library, "convolution" is the cross-correlation (no kernel flip).

Output size along each spatial axis (floor mode):
``out = (in + pad_before + pad_after - dilation·(k - 1) - 1) // stride + 1``.

The work is done by three primitives, ``conv_nd`` in
``chainrule.autograd.conv_ops`` (im2col + one GEMM) and ``max_pool_nd`` /
``avg_pool_nd`` in ``chainrule.autograd.pool_ops``; this module checks
arguments and shapes.
"""

from __future__ import annotations

from ..autograd import conv_ops, pool_ops
from ..autograd.engine import Tensor, _is_float

__all__ = [
    "avg_pool1d", "avg_pool2d", "conv1d", "conv2d", "max_pool1d", "max_pool2d",
]


def _tuple(value, d, name):
    """An int or a d-tuple of positive ints -> d-tuple."""
    if isinstance(value, int):
        value = (value,) * d
    value = tuple(value)
    if len(value) != d or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(
            f"Expected {name} to be a positive int or a tuple of {d} positive ints. "
            f"Received: {name}={value!r}"
        )
    return value


def _padding(padding, d, kernel=None, dilation=None, stride=None):
    """Padding as one (before, after) pair per spatial axis.

    Accepts an int, a d-tuple of ints, "valid" (no padding) or "same"
    (output as long as the input; stride 1 only; an odd total puts the
    extra element after, as PyTorch does).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if kernel is None:
                raise ValueError("padding='same' is only supported by convolutions")
            if any(s != 1 for s in stride):
                raise ValueError(
                    "Expected stride 1 with padding='same'. "
                    f"Received: stride={stride}"
                )
            pairs = []
            for k, dl in zip(kernel, dilation):
                total = dl * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(
            f"Expected padding to be an int, a tuple, 'same' or 'valid'. "
            f"Received: padding={padding!r}"
        )
    if isinstance(padding, int):
        padding = (padding,) * d
    padding = tuple(padding)
    if len(padding) != d or not all(isinstance(p, int) and p >= 0 for p in padding):
        raise ValueError(
            f"Expected padding to be a non-negative int or a tuple of {d} of them. "
            f"Received: padding={padding!r}"
        )
    return tuple((p, p) for p in padding)


def _batched(x, d, name):
    """Return (x with a batch axis, whether one was added); check ndim."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim == d + 1:
        return x.reshape((1,) + x.shape), True
    if x.ndim != d + 2:
        raise ValueError(
            f"{name}: expected input of shape (N, C, {_dims(d)}) or (C, {_dims(d)}). "
            f"Received shape {x.shape}"
        )
    return x, False


def _dims(d):
    return "L" if d == 1 else ", ".join("HWD"[:d])


def _check_windows(name, spatial, padding, kernel, dilation):
    for s, (lo, hi), k, dl in zip(spatial, padding, kernel, dilation):
        if s + lo + hi < dl * (k - 1) + 1:
            raise ValueError(
                f"{name}: the kernel (size {kernel}, dilation {dilation}) is larger "
                f"than the padded input. Received spatial shape {tuple(spatial)} "
                f"with padding {padding}"
            )


def _unbatch(out, added):
    return out.reshape(out.shape[1:]) if added else out


def _conv(name, d, x, weight, bias, stride, padding, dilation):
    x, added = _batched(x, d, name)
    if weight.ndim != d + 2:
        raise ValueError(
            f"{name}: expected a weight of shape (out_channels, in_channels, "
            f"{'k' if d == 1 else 'kh, kw'}). Received shape {weight.shape}"
        )
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"{name}: input has {x.shape[1]} channels (shape {x.shape}) but the "
            f"weight expects {weight.shape[1]} (weight shape {weight.shape})"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(
            f"{name}: expected a bias of shape ({weight.shape[0]},). "
            f"Received shape {bias.shape}"
        )
    kernel = weight.shape[2:]
    stride = _tuple(stride, d, "stride")
    dilation = _tuple(dilation, d, "dilation")
    pads = _padding(padding, d, kernel, dilation, stride)
    _check_windows(name, x.shape[2:], pads, kernel, dilation)
    out = conv_ops.conv_nd(x, weight, bias, stride=stride, padding=pads, dilation=dilation)
    return _unbatch(out, added)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride=1, padding=0, dilation=1) -> Tensor:
    """1-D convolution (cross-correlation) over (N, C_in, L).

    out[n, o, t] = b[o] + Σ_{c, j} w[o, c, j] · x[n, c, stride·t + dilation·j]

    Args:
        input: (N, C_in, L) or (C_in, L).
        weight: (C_out, C_in, k).
        bias: (C_out,) or None.
        stride, dilation: int or 1-tuple.
        padding: int, 1-tuple, "valid" or "same" (stride 1).

    Shape:
        (N, C_in, L) -> (N, C_out, L_out).

    Example:
        >>> F.conv1d(cr.tensor(np.ones((2, 3, 10))), cr.tensor(np.ones((4, 3, 5)))).shape
        (2, 4, 6)
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride=1, padding=0, dilation=1) -> Tensor:
    """2-D convolution (cross-correlation) over (N, C_in, H, W).

    out[n, o, i, j] = b[o] + Σ_{c, p, q} w[o, c, p, q] · x[n, c, s_h·i + d_h·p, s_w·j + d_w·q]

    Args:
        input: (N, C_in, H, W) or (C_in, H, W).
        weight: (C_out, C_in, kh, kw).
        bias: (C_out,) or None.
        stride, dilation: int or (h, w).
        padding: int, (h, w), "valid" or "same" (stride 1).

    Shape:
        (N, C_in, H, W) -> (N, C_out, H_out, W_out).

    Example:
        >>> F.conv2d(cr.tensor(np.ones((2, 1, 28, 28))), cr.tensor(np.ones((8, 1, 3, 3))),
        ...          padding=1).shape
        (2, 8, 28, 28)
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation)


def _pool_args(name, d, x, kernel_size, stride, padding, dilation):
    x, added = _batched(x, d, name)
    if not _is_float(x.data):
        raise TypeError(f"{name}: expected a floating-point input. Received dtype={x.dtype}")
    kernel = _tuple(kernel_size, d, "kernel_size")
    stride = kernel if stride is None else _tuple(stride, d, "stride")
    dilation = _tuple(dilation, d, "dilation")
    pads = _padding(padding, d)
    for k, (p, _) in zip(kernel, pads):
        if 2 * p > k:
            raise ValueError(
                f"{name}: expected padding at most half the kernel size. "
                f"Received: padding={padding!r}, kernel_size={kernel}"
            )
    _check_windows(name, x.shape[2:], pads, kernel, dilation)
    return x, added, kernel, stride, pads, dilation


def _max_pool(name, d, x, kernel_size, stride, padding, dilation):
    x, added, kernel, stride, pads, dilation = _pool_args(
        name, d, x, kernel_size, stride, padding, dilation
    )
    out = pool_ops.max_pool_nd(
        x, kernel_size=kernel, stride=stride, padding=pads, dilation=dilation
    )
    return _unbatch(out, added)


def _avg_pool(name, d, x, kernel_size, stride, padding, count_include_pad):
    x, added, kernel, stride, pads, _ = _pool_args(
        name, d, x, kernel_size, stride, padding, 1
    )
    out = pool_ops.avg_pool_nd(
        x, kernel_size=kernel, stride=stride, padding=pads,
        count_include_pad=bool(count_include_pad),
    )
    return _unbatch(out, added)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0,
               dilation=1) -> Tensor:
    """Max pooling over (N, C, L) (book §9.3): the max of each window.

    Padding counts as -inf; the gradient flows to the window's maximum
    (the first one on ties, as PyTorch).  ``stride`` defaults to
    ``kernel_size``.

    Shape:
        (N, C, L) -> (N, C, L_out).

    Example:
        >>> F.max_pool1d(cr.tensor(np.arange(6.0)[None, None]), 2).data
        array([[[1., 3., 5.]]], dtype=float32)
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0,
               dilation=1) -> Tensor:
    """Max pooling over (N, C, H, W) (book §9.3): the max of each window.

    Padding counts as -inf; the gradient flows to the window's maximum
    (the first in row-major order on ties, as PyTorch).  ``stride``
    defaults to ``kernel_size``.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out).

    Example:
        >>> F.max_pool2d(cr.tensor(np.ones((1, 3, 28, 28))), 2).shape
        (1, 3, 14, 14)
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0,
               count_include_pad: bool = True) -> Tensor:
    """Average pooling over (N, C, L): the mean of each window.

    Padding counts as zeros; with ``count_include_pad`` (PyTorch's default)
    the divisor is always the kernel size, otherwise only the real
    elements of the window are counted.

    Shape:
        (N, C, L) -> (N, C, L_out).

    Example:
        >>> F.avg_pool1d(cr.tensor(np.arange(6.0)[None, None]), 2).data
        array([[[0.5, 2.5, 4.5]]], dtype=float32)
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, count_include_pad)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0,
               count_include_pad: bool = True) -> Tensor:
    """Average pooling over (N, C, H, W): the mean of each window.

    Padding counts as zeros; with ``count_include_pad`` (PyTorch's default)
    the divisor is always kh·kw, otherwise only the real elements count.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out).

    Example:
        >>> F.avg_pool2d(cr.tensor(np.ones((1, 3, 28, 28))), 2).shape
        (1, 3, 14, 14)
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, count_include_pad)
