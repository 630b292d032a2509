"""Noise robustness (book §7.5): noise on weights, and label smoothing targets.

Noise on inputs and hidden units is :class:`chainrule.nn.GaussianNoise`
(a layer, active only in training mode); input noise as a per-minibatch
transform is :class:`chainrule.regularization.augmentation.InputNoise`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import random as _random
from .._backend import namespace_of
from ..autograd.engine import Tensor
from ..nn.module import Module

__all__ = ["WeightNoise", "book_to_torch_smoothing", "smoothed_targets"]


class WeightNoise(Module):
    """Add Gaussian noise to a module's weights on every training forward (book §7.5).

    In training mode each forward uses W̃ = W + η with η ~ N(0, std²) drawn
    afresh; the stored parameters stay clean and, since ∂W̃/∂W = I, the
    gradient of the loss at W̃ flows to W.  For small noise this is
    (book §7.5, Bishop's argument) a regulariser that favours regions
    where the loss is flat in the weights.  In eval mode the clean weights
    are used.

    A parameter used in several places (tied weights) gets the same noise
    in all of them.  The noise is drawn on each weight's device
    (:func:`chainrule.random.randn`).

    Args:
        module: the module to wrap (e.g. a ``Linear`` or a whole ``Sequential``).
        std: noise standard deviation ≥ 0.
        names: qualified names of the parameters to perturb (as in
            ``module.named_parameters()``); default: every parameter with
            ≥ 2 dimensions (weights, not biases).

    Shape:
        whatever ``module`` takes and returns.

    Example:
        >>> net = WeightNoise(nn.Sequential(nn.Linear(64, 32), nn.ReLU(),
        ...                                 nn.Linear(32, 10)), std=0.01)
    """

    def __init__(self, module: Module, std: float, names: Sequence[str] | None = None):
        super().__init__()
        if not np.isfinite(std) or std < 0:
            raise ValueError(f"Expected std >= 0. Received: std={std}")
        self.module = module
        self.std = float(std)
        params = dict(module.named_parameters())
        if names is None:
            names = [n for n, p in params.items() if p.ndim >= 2]
        unknown = [n for n in names if n not in params]
        if unknown:
            raise KeyError(
                f"WeightNoise: no parameters named {unknown} in the module. "
                f"Expected some of {list(params)}"
            )
        self.names = list(names)

    def forward(self, *args, **kwargs):
        if not self.training or self.std == 0 or not self.names:
            return self.module(*args, **kwargs)
        params = dict(self.module.named_parameters())
        noisy = {}
        for name in self.names:
            p = params[name]
            eta = _random.randn(p.shape, like=p.data)  # drawn on the weight's device
            eta *= self.std
            if eta.dtype != p.data.dtype:
                eta = namespace_of(p.data).astype(eta, p.data.dtype)
            noisy[id(p)] = p + eta
        # point every attribute that holds one of these Parameters at its noisy
        # version for this call only; the registered Parameter stays in place
        swapped = []
        for mod in self.module.modules():
            for attr, p in mod._parameters.items():
                if id(p) in noisy:
                    swapped.append((mod, attr, p))
                    object.__setattr__(mod, attr, noisy[id(p)])
        try:
            return self.module(*args, **kwargs)
        finally:
            for mod, attr, p in swapped:
                object.__setattr__(mod, attr, p)

    def extra_repr(self) -> str:
        return f"std={self.std}, names={self.names}"


def book_to_torch_smoothing(eps_book: float, num_classes: int) -> float:
    """Convert the book's label-smoothing ε to PyTorch's: ε_torch = ε_book · k/(k−1).

    The book (§7.5.1) puts 1 − ε on the true class and ε/(k−1) on each other
    class; PyTorch (and ``F.cross_entropy(label_smoothing=...)``) puts
    1 − ε + ε/k and ε/k.  Both describe the same targets when the two ε are
    related by this formula.
    """
    if num_classes < 2:
        raise ValueError(f"Expected num_classes >= 2. Received: {num_classes}")
    return float(eps_book) * num_classes / (num_classes - 1)


def smoothed_targets(y, num_classes: int, epsilon: float, form: str = "torch") -> np.ndarray:
    """Soft target distributions for int labels ``y`` (book §7.5.1).

    Args:
        y: (N,) int class ids.
        num_classes: k.
        epsilon: smoothing amount.
        form: ``"torch"``: q = (1 − ε) onehot + ε/k;
            ``"book"``: 1 − ε on the true class and ε/(k−1) elsewhere.

    Returns:
        (N, k) float32 array whose rows sum to 1.
    """
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if form not in ("torch", "book"):
        raise ValueError(f"Expected form 'torch' or 'book'. Received: form={form!r}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"Expected epsilon in [0, 1]. Received: epsilon={epsilon}")
    k = int(num_classes)
    if y.size and (y.min() < 0 or y.max() >= k):
        raise IndexError(f"Expected labels in 0..{k - 1}. Received: {y.min()}..{y.max()}")
    onehot = np.zeros((y.shape[0], k), np.float32)
    onehot[np.arange(y.shape[0]), y] = 1.0
    if form == "torch":
        return (1.0 - epsilon) * onehot + np.float32(epsilon / k)
    return onehot * np.float32(1.0 - epsilon) + (1 - onehot) * np.float32(epsilon / (k - 1))
