"""Pooling layers (book §9.3): summarise each window by its max or its mean."""

from __future__ import annotations

from ..autograd.engine import Tensor
from . import functional_conv as Fc
from .module import Module

__all__ = ["AvgPool1d", "AvgPool2d", "MaxPool1d", "MaxPool2d"]


class _Pool(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class MaxPool1d(_Pool):
    """Max over each window of a sequence (book §9.3).

    out[n, c, t] = max_j x_pad[n, c, stride·t + dilation·j], padding = -inf.
    The gradient goes to the window's maximum (the first one on ties, as
    PyTorch).  ``stride`` defaults to ``kernel_size``.

    Shape:
        (N, C, L) -> (N, C, (L + 2·padding - dilation·(k-1) - 1) // stride + 1).

    Example:
        >>> nn.MaxPool1d(2)(cr.tensor(np.zeros((4, 8, 40)))).shape
        (4, 8, 20)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__(kernel_size, stride, padding)
        self.dilation = dilation

    def forward(self, x: Tensor) -> Tensor:
        return Fc.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation)


class MaxPool2d(MaxPool1d):
    """Max over each kh×kw window of an image (book §9.3).

    out[n, c, i, j] = max_{p, q} x_pad[n, c, s_h·i + d_h·p, s_w·j + d_w·q],
    padding = -inf.  The gradient goes to the window's maximum (the first
    in row-major order on ties, as PyTorch).  ``stride`` defaults to
    ``kernel_size``.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), per axis
        out = (in + 2·padding - dilation·(k-1) - 1) // stride + 1.

    Example:
        >>> nn.MaxPool2d(2)(cr.tensor(np.zeros((64, 16, 28, 28)))).shape
        (64, 16, 14, 14)
    """

    def forward(self, x: Tensor) -> Tensor:
        return Fc.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)


class AvgPool1d(_Pool):
    """Mean over each window of a sequence.

    Padding counts as zeros; with ``count_include_pad`` (PyTorch's default)
    the divisor is always k, otherwise only the real elements count.
    ``stride`` defaults to ``kernel_size``.

    Shape:
        (N, C, L) -> (N, C, (L + 2·padding - k) // stride + 1).

    Example:
        >>> nn.AvgPool1d(4)(cr.tensor(np.zeros((4, 8, 40)))).shape
        (4, 8, 10)
    """

    def __init__(self, kernel_size, stride=None, padding=0,
                 count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return Fc.avg_pool1d(x, self.kernel_size, self.stride, self.padding,
                             self.count_include_pad)


class AvgPool2d(AvgPool1d):
    """Mean over each kh×kw window of an image.

    Padding counts as zeros; with ``count_include_pad`` (PyTorch's default)
    the divisor is always kh·kw, otherwise only the real elements count.
    ``stride`` defaults to ``kernel_size``.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), per axis
        out = (in + 2·padding - k) // stride + 1.

    Example:
        >>> nn.AvgPool2d(2)(cr.tensor(np.zeros((64, 16, 28, 28)))).shape
        (64, 16, 14, 14)
    """

    def forward(self, x: Tensor) -> Tensor:
        return Fc.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                             self.count_include_pad)
