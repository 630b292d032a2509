"""Polyak averaging of a model's weights (book §8.7.3), as torch.optim.swa_utils.

The book's Polyak averaging keeps the mean of the points an optimiser
visits, θ̂(t) = (1/t) Σ_i θ(i), which converges where the iterates circle a
minimum; its exponential form θ̂(t) = α θ̂(t-1) + (1 - α) θ(t) suits
non-convex training, forgetting the distant past.  :class:`AveragedModel`
keeps θ̂ in a copy of the model; :func:`update_bn` recomputes batch-norm
statistics for the averaged weights (they were never seen in training).
"""

from __future__ import annotations

import copy

import numpy as np

from .._backend import namespace_of
from ..autograd.engine import Tensor, no_grad
from ..nn.batchnorm import _BatchNorm
from ..nn.module import Module

__all__ = ["AveragedModel", "update_bn"]


class AveragedModel(Module):
    """A copy of ``model`` whose parameters are the running average of ``model``'s.

    ``update_parameters(model)`` folds in the current weights; the first
    call copies them.  With ``decay=None`` the average is arithmetic
    (``torch.optim.swa_utils.AveragedModel``'s default):

        θ̂ ← θ̂ + (θ - θ̂) / (n + 1),   n = updates so far;

    with ``decay = α`` (0 ≤ α < 1) it is exponential (torch's
    ``multi_avg_fn=get_ema_multi_avg_fn(α)``):

        θ̂ ← α θ̂ + (1 - α) θ.

    Args:
        model: the model being trained (copied once, deeply).
        decay: None (arithmetic mean) or α in [0, 1).
        use_buffers: also average the buffers (batch-norm statistics) and
            keep ``module``'s buffers in step; otherwise they stay as copied
            (recompute them with :func:`update_bn`).

    Attributes:
        module: the averaged copy (call it, or ``self``, for predictions).
        n_averaged: how many times ``update_parameters`` ran.

    Example:
        >>> avg = cr.optim.AveragedModel(model)          # Polyak: the plain mean
        >>> for epoch in range(epochs):
        ...     train_one_epoch(model)
        ...     avg.update_parameters(model)
        >>> avg(x_test)
    """

    n_averaged: np.ndarray  # a buffer (saved in state_dict), as torch's

    def __init__(self, model: Module, decay: float | None = None, use_buffers: bool = False):
        super().__init__()
        if not isinstance(model, Module):
            raise TypeError(f"Expected a chainrule Module. Received: {type(model).__name__}")
        if decay is not None and not (0.0 <= float(decay) < 1.0):
            raise ValueError(f"Expected decay None or in [0, 1). Received: decay={decay!r}")
        self.module = copy.deepcopy(model)
        self.decay = None if decay is None else float(decay)
        self.use_buffers = bool(use_buffers)
        self.register_buffer("n_averaged", np.zeros((), dtype=np.int64))

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _pairs(self, model):
        mine = list(self.module.parameters())
        theirs = list(model.parameters())
        if self.use_buffers:
            mine += [b for _, b in self.module.named_buffers()]
            theirs += [b for _, b in model.named_buffers()]
        if len(mine) != len(theirs):
            raise ValueError(
                f"Expected a model shaped like the averaged one ({len(mine)} tensors). "
                f"Received: {len(theirs)}"
            )
        for a, b in zip(mine, theirs):
            a = a.data if isinstance(a, Tensor) else a
            b = b.data if isinstance(b, Tensor) else b
            if a.shape != b.shape:
                raise ValueError(f"Expected a tensor of shape {a.shape}. Received: {b.shape}")
            yield a, b

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current weights into the average (in place)."""
        n = int(self.n_averaged)
        for avg, new in self._pairs(model):
            xp = namespace_of(avg)  # any array-API namespace, in place on avg's device
            if not xp.isdtype(avg.dtype, "real floating") or n == 0:
                avg[...] = new  # integer buffers (num_batches_tracked): copy
            elif self.decay is None:
                avg += (xp.astype(new, avg.dtype) - avg) / (n + 1)
            else:
                # torch's lerp: θ̂ + (1 - α)(θ - θ̂)
                avg += (1.0 - self.decay) * (xp.astype(new, avg.dtype) - avg)
        self.n_averaged[...] = n + 1


def update_bn(loader, model: Module) -> None:
    """Recompute the batch-norm running statistics of ``model`` over ``loader``.

    As ``torch.optim.swa_utils.update_bn``: every batch-norm layer's
    statistics are reset and re-estimated as the plain average over one pass
    of ``loader`` (momentum None: a cumulative average) in training mode;
    the model's mode and the layers' momentum are restored.  Averaged weights
    were never used to compute statistics, so this runs after the last
    ``update_parameters``.

    Args:
        loader: an iterable of input batches, or of (input, target) pairs
            (the first element is the input).
        model: the model (e.g. an :class:`AveragedModel`).
    """
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not layers:
        return
    momenta = {}
    for m in layers:
        if m.running_mean is not None:
            m.reset_running_stats()
        momenta[m] = m.momentum
        m.momentum = None
    was_training = getattr(model, "training", True)
    model.train()
    with no_grad():
        for batch in loader:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x if isinstance(x, Tensor) else Tensor(x))
    for m, mom in momenta.items():
        m.momentum = mom
    model.train(was_training)
