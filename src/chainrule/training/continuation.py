"""Continuation methods (book §8.7.6): solve a sequence of smoothed objectives.

A continuation method builds objectives J⁽⁰⁾, ..., J⁽ⁿ⁾ that go from an
easy, blurred version of the cost to the real one, J⁽ⁿ⁾ = J, and
minimises them in turn, each run starting where the previous one stopped.
The book's smoothing blurs the cost by averaging it over Gaussian noise on
the parameters,

    J⁽ⁱ⁾(θ) = E_{θ' ~ N(θ, σᵢ² I)} J(θ'),   σ₀ > σ₁ > ... > σₙ = 0,

whose gradient ∇J⁽ⁱ⁾(θ) = E[∇J(θ')] is estimated without bias by the
gradient at one noisy copy θ' = θ + σᵢ ε per minibatch
(:class:`ParameterNoise`).  :func:`continuation` drives the one training
loop (:func:`~chainrule.training.fit`) once per level with the same model,
so each stage warm-starts the next; a callable ``smooth`` gives any other
family (a temperature on the logits, a noise level on the inputs, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .. import random as _random
from ..autograd.engine import Tensor
from ..nn.module import Module
from .trainer import fit

__all__ = ["ParameterNoise", "continuation"]


class ParameterNoise(Module):
    """Run ``module`` with Gaussian noise on its parameters (training mode only).

    In training mode each forward draws ε ~ N(0, I) (one array per
    parameter, from ``cr.random.generator()``) and computes ``module`` with
    θ + σ ε in place of θ; the noisy weights are graph nodes over the real
    parameters, so ``backward`` gives ∇J(θ + σ ε), an unbiased estimate of
    the gradient of the smoothed cost E_ε J(θ + σ ε) (book §8.7.6).  The
    parameters themselves never change (no in-place noise).  In eval mode,
    or with ``sigma = 0``, it is ``module`` itself.

    Args:
        module: the model (its parameters are shared, not copied).
        sigma: the noise scale σ >= 0.

    Example:
        >>> noisy = ParameterNoise(model, sigma=0.1)
        >>> fit(noisy, X, y, loss="cross_entropy", optimizer=opt, epochs=5)
    """

    def __init__(self, module: Module, sigma: float):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"Expected a chainrule Module. Received: {type(module).__name__}")
        sigma = float(sigma)
        if not np.isfinite(sigma) or sigma < 0.0:
            raise ValueError(f"Expected sigma >= 0. Received: sigma={sigma!r}")
        self.module = module
        self.sigma = sigma

    def forward(self, *args, **kwargs):
        if not self.training or self.sigma == 0.0:
            return self.module(*args, **kwargs)
        rng = _random.generator()
        swapped = []
        try:
            for mod in self.module.modules():
                for name, p in mod._parameters.items():
                    if p is None:
                        continue
                    eps = rng.standard_normal(p.data.shape).astype(p.data.dtype, copy=False)
                    # the instance attribute shadows the registered Parameter for
                    # this forward only; the parameter tables are left as they are
                    object.__setattr__(mod, name, p + Tensor(self.sigma * eps, dtype=eps.dtype))
                    swapped.append((mod, name, p))
            return self.module(*args, **kwargs)
        finally:
            for mod, name, p in swapped:
                object.__setattr__(mod, name, p)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


def _noise_stage(model, level, loss):
    return ParameterNoise(model, level), loss


def continuation(
    model,
    X,
    y=None,
    *,
    levels: Iterable[float],
    loss,
    optimizer,
    epochs_per_level: int | Iterable[int] = 1,
    smooth: str | Callable = "parameter_noise",
    **fit_kwargs,
) -> list:
    """Minimise a sequence of smoothed objectives in turn, each warm-starting the next.

    For each ``level`` in order, ``smooth(model, level, loss)`` gives the
    module and loss of that stage's objective J⁽ⁱ⁾, and
    :func:`~chainrule.training.fit` trains it for that stage's epochs with
    the same ``optimizer`` (its state carries over) and ``fit_kwargs``;
    the parameters are ``model``'s throughout.  End the levels with the
    unsmoothed objective (0 for the parameter noise) so that the last
    stage solves the real problem.

    Args:
        model: the model to train (in place).
        X, y: the training data, as for ``fit``.
        levels: the smoothing levels, from most to least smoothed (for
            ``"parameter_noise"``, the σᵢ; e.g. ``[0.3, 0.1, 0.0]``).
        loss: the task's loss (a name or a callable), as for ``fit``.
        optimizer: an optimiser over ``model``'s parameters.
        epochs_per_level: one number for every stage, or one per level.
        smooth: ``"parameter_noise"`` (:class:`ParameterNoise` with σ =
            level) or a callable ``(model, level, loss) -> (module, loss)``.
        **fit_kwargs: passed to every ``fit`` (``batch_size``,
            ``generator``, ``callbacks``, ``sampler``, ...).

    Returns:
        One :class:`~chainrule.training.History` per level, in order; each
        carries its level as ``history.level``.

    Example:
        >>> continuation(model, X, y, levels=[0.2, 0.05, 0.0], loss="cross_entropy",
        ...              optimizer=opt, epochs_per_level=5, batch_size=64)
    """
    levels = [float(v) for v in levels]
    if not levels:
        raise ValueError("Expected at least one level. Received: levels=[]")
    if isinstance(epochs_per_level, (int, np.integer)):
        epochs = [int(epochs_per_level)] * len(levels)
    else:
        epochs = [int(e) for e in epochs_per_level]
        if len(epochs) != len(levels):
            raise ValueError(
                f"Expected one epochs_per_level entry per level ({len(levels)}). "
                f"Received: {len(epochs)}"
            )
    if smooth == "parameter_noise":
        smooth = _noise_stage
    elif not callable(smooth):
        raise ValueError(
            f"Expected smooth='parameter_noise' or a callable (model, level, loss) -> "
            f"(module, loss). Received: {smooth!r}"
        )
    if "generator" in fit_kwargs and fit_kwargs["generator"] is not None:
        gen = fit_kwargs["generator"]
        if not isinstance(gen, np.random.Generator):  # one stream across the stages
            fit_kwargs["generator"] = _random.new_generator(gen)
    histories = []
    for level, n_epochs in zip(levels, epochs):
        module, stage_loss = smooth(model, level, loss)
        history = fit(module, X, y, loss=stage_loss, optimizer=optimizer, epochs=n_epochs,
                      **fit_kwargs)
        history.level = level
        histories.append(history)
    return histories
