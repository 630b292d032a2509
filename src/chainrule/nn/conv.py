"""Convolutional layers (parameter sharing, book §7.9) and Flatten.

A convolutional layer applies one small kernel at every position of its
input: the same few weights are shared by all positions, which is how a
network for images or sequences stays small and translation-equivariant.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..autograd.engine import Tensor
from . import functional_conv as Fc
from . import init
from .module import Module, float_input
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Flatten"]


class _ConvNd(Module):
    """Shared machinery of Conv1d and Conv2d (``_d`` spatial dimensions)."""

    _d = 0
    _fn: Callable[..., Tensor]  # the functional form (conv1d, conv2d), set by each subclass

    def __init__(self, in_channels: int, out_channels: int, kernel_size,
                 stride=1, padding=0, dilation=1, bias: bool = True,
                 dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(
                f"{name} needs positive channel counts. Received: "
                f"in_channels={in_channels}, out_channels={out_channels}"
            )
        d = self._d
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = Fc._tuple(kernel_size, d, "kernel_size")
        self.stride = Fc._tuple(stride, d, "stride")
        self.dilation = Fc._tuple(dilation, d, "dilation")
        # validate now (e.g. padding="same" with stride 2 fails here)
        Fc._padding(padding, d, self.kernel_size, self.dilation, self.stride)
        self.padding = padding
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype), dtype=dtype)
        self.bias: Parameter | None
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype), dtype=dtype)
        else:
            self.bias = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot uniform on the kernel (fans in·k and out·k), zero bias."""
        init.glorot_uniform_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return type(self)._fn(
            float_input(x, self.weight.dtype), self.weight, self.bias, stride=self.stride,
            padding=self.padding, dilation=self.dilation,
        )

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != 0:
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._d:
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution over sequences: out = b + w ⋆ x (book §7.9, §9.1).

    out[n, o, t] = b[o] + Σ_{c, j} w[o, c, j] · x[n, c, stride·t + dilation·j]

    The kernel has PyTorch's shape (out_channels, in_channels, k).  Default
    init: the book's normalised (Glorot) uniform (eq. 8.23) with fan_in =
    in_channels·k and fan_out = out_channels·k — the same family as
    :class:`Linear`; for deep ReLU stacks call
    ``nn.init.he_uniform_(conv.weight)``.  Bias starts at zero.

    Args:
        in_channels: channels C_in of the input.
        out_channels: channels C_out of the output (number of kernels).
        kernel_size: k.
        stride: step between windows.
        padding: zeros added at both ends: int, "valid" (0) or "same"
            (output as long as the input; stride 1 only).
        dilation: spacing between kernel taps.
        bias: whether to learn b.

    Shape:
        (N, C_in, L) -> (N, C_out, L_out),
        L_out = (L + 2·padding - dilation·(k - 1) - 1) // stride + 1.

    Example:
        >>> conv = nn.Conv1d(1, 8, 5, padding="same")
        >>> conv(cr.tensor(np.zeros((4, 1, 40)))).shape
        (4, 8, 40)
    """

    _d = 1
    _fn = staticmethod(Fc.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution over images: out = b + w ⋆ x (book §7.9, §9.1).

    out[n, o, i, j] = b[o] + Σ_{c, p, q} w[o, c, p, q] · x[n, c, s_h·i + d_h·p, s_w·j + d_w·q]

    The kernel has PyTorch's shape (out_channels, in_channels, kh, kw).
    Default init: the book's normalised (Glorot) uniform (eq. 8.23) with
    fan_in = in_channels·kh·kw and fan_out = out_channels·kh·kw — the same
    family as :class:`Linear`; for deep ReLU stacks call
    ``nn.init.he_uniform_(conv.weight)``.  Bias starts at zero.

    Args:
        in_channels: channels C_in of the input.
        out_channels: channels C_out of the output (number of kernels).
        kernel_size: int or (kh, kw).
        stride: int or (s_h, s_w).
        padding: zeros around the image: int, (p_h, p_w), "valid" or
            "same" (output the size of the input; stride 1 only).
        dilation: int or (d_h, d_w), spacing between kernel taps.
        bias: whether to learn b.

    Shape:
        (N, C_in, H, W) -> (N, C_out, H_out, W_out), per axis
        out = (in + 2·padding - dilation·(k - 1) - 1) // stride + 1.

    Example:
        >>> conv = nn.Conv2d(1, 16, 3, padding=1)
        >>> conv(cr.tensor(np.zeros((64, 1, 28, 28)))).shape
        (64, 16, 28, 28)
    """

    _d = 2
    _fn = staticmethod(Fc.conv2d)


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one (default: all but the batch axis).

    Channels-first order is kept, so ``Flatten()`` after a (N, C, H, W)
    feature map gives (N, C·H·W) exactly as PyTorch's ``nn.Flatten``.

    Example:
        >>> nn.Flatten()(cr.tensor(np.zeros((64, 32, 7, 7)))).shape
        (64, 1568)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        nd = x.ndim
        start = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        end = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < nd:
            raise ValueError(
                f"Flatten: expected start_dim <= end_dim within {nd} dims. Received: "
                f"start_dim={self.start_dim}, end_dim={self.end_dim} for shape {x.shape}"
            )
        shape = x.shape[:start] + (-1,) + x.shape[end + 1:]
        if 0 in x.shape:
            size = int(np.prod(x.shape[start:end + 1]))
            shape = x.shape[:start] + (size,) + x.shape[end + 1:]
        return x.reshape(shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
