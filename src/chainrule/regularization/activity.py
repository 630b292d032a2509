"""Sparse representations: penalties on a layer's activations (book §7.10).

A parameter penalty Ω(θ) makes the weights small; a representational
penalty Ω(h) makes the hidden units h of each example mostly zero.  It is
added to the cost in the same way, J̃ = J + α Ω(h).  Each function takes
h of shape (N, ...) (one row per example) and returns a scalar Tensor:

* :func:`activity_l1`: α · (1/N) Σₙ Σⱼ |hₙⱼ|;
* :func:`activity_student_t`: α · (1/N) Σₙ Σⱼ ((ν+1)/2) log(1 + hₙⱼ²/ν), the
  negative log of a Student-t prior on each unit (Olshausen and Field, 1996);
* :func:`activity_kl`: α · Σⱼ KL(ρ ‖ ρ̂ⱼ) with ρ̂ⱼ = (1/N) Σₙ hₙⱼ, the mean
  activation of a unit in (0, 1) pulled towards a small target ρ
  (Larochelle and Bengio, 2008).

:class:`ActivityRegularizer` attaches one of them to any layer of a model:
a forward hook keeps the layer's latest output, and the object is a
regulariser ``model -> Tensor`` for ``training.fit(..., regularizers=[...])``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..autograd.engine import Tensor

__all__ = ["ActivityRegularizer", "activity_kl", "activity_l1", "activity_student_t"]


def _check_h(h) -> Tensor:
    if not isinstance(h, Tensor):
        h = Tensor(np.asarray(h, dtype=np.float32))
    if h.ndim < 1 or h.shape[0] == 0:
        raise ValueError(f"Expected activations of shape (N, ...) with N >= 1. Received: {h.shape}")
    return h


def _check_lam(lam) -> float:
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"Expected a penalty weight lam >= 0. Received: lam={lam}")
    return float(lam)


def _row_sum_mean(values: Tensor) -> Tensor:
    """(1/N) Σₙ Σⱼ values[n, j...]: the sum over everything divided by the rows."""
    return values.sum() / values.shape[0]


def activity_l1(h, lam: float) -> Tensor:
    """lam · (1/N) Σₙ ‖hₙ‖₁: the L1 penalty on a representation (book §7.10, eq. 7.48).

    Args:
        h: activations (N, ...), a Tensor (an array is taken as constant).
        lam: weight ≥ 0.
    """
    h = _check_h(h)
    return _row_sum_mean(h.abs()) * _check_lam(lam)


def activity_student_t(h, lam: float, nu: float = 1.0) -> Tensor:
    """lam · (1/N) Σₙ Σⱼ ((ν+1)/2) log(1 + hₙⱼ²/ν): a Student-t sparsity prior (book §7.10).

    The negative log density of a Student-t with ν degrees of freedom,
    up to a constant: heavy tails let a few units be large while most are
    pushed towards zero; unlike L1 it is smooth at 0.

    Args:
        h: activations (N, ...).
        lam: weight ≥ 0.
        nu: degrees of freedom ν > 0.
    """
    h = _check_h(h)
    if not np.isfinite(nu) or nu <= 0:
        raise ValueError(f"Expected nu > 0. Received: nu={nu}")
    terms = ((h * h) * (1.0 / nu) + 1.0).log() * ((nu + 1.0) / 2.0)
    return _row_sum_mean(terms) * _check_lam(lam)


def activity_kl(h, lam: float, rho: float = 0.05, eps: float = 1e-6) -> Tensor:
    """lam · Σⱼ KL(ρ ‖ ρ̂ⱼ), ρ̂ⱼ the mean of unit j over the rows (book §7.10).

    KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1−ρ) log((1−ρ)/(1−ρ̂)) for Bernoulli means;
    the units must lie in [0, 1] (sigmoid outputs).  ρ̂ is clipped to
    [eps, 1 − eps] inside the logarithms (the gradient is zero where the
    clip is active).

    Args:
        h: activations (N, ...) in [0, 1].
        lam: weight ≥ 0.
        rho: target mean activation ρ ∈ (0, 1).
        eps: clip of ρ̂ away from 0 and 1.
    """
    h = _check_h(h)
    if not 0.0 < rho < 1.0:
        raise ValueError(f"Expected rho in (0, 1). Received: rho={rho}")
    data = h.data
    if data.size and (data.min() < 0.0 or data.max() > 1.0):
        raise ValueError(
            "Expected activations in [0, 1] for the KL sparsity penalty (e.g. sigmoid "
            f"units). Received: values in [{data.min():.4g}, {data.max():.4g}]"
        )
    rho_hat = h.mean(axis=0)
    clipped = np.clip(rho_hat.data, eps, 1.0 - eps)
    if not np.array_equal(clipped, rho_hat.data):
        # keep the graph where ρ̂ is inside, a constant where it is clipped
        inside = (clipped == rho_hat.data).astype(rho_hat.dtype)
        rho_hat = rho_hat * inside + Tensor(clipped * (1 - inside), dtype=rho_hat.dtype)
    kl = (rho_hat.log() * -rho + (1.0 - rho_hat).log() * -(1.0 - rho)
          + (rho * np.log(rho) + (1.0 - rho) * np.log(1.0 - rho)))
    return kl.sum() * _check_lam(lam)


_PENALTIES = {"l1": activity_l1, "student_t": activity_student_t, "kl": activity_kl}


class ActivityRegularizer:
    """A penalty on one layer's output, usable in ``fit(..., regularizers=[...])`` (book §7.10).

    Registers a forward hook on ``layer`` that keeps its latest output h;
    calling the object (``regularizer(model)``, as the training loop does
    after each forward pass) returns the penalty of that h and forgets it.
    For a layer called several times in one forward pass, the last call's
    output counts.

    Args:
        layer: an ``nn.Module`` inside the model (e.g. the ReLU after a
            hidden Linear, to penalise the post-activation representation).
        penalty: ``"l1"``, ``"student_t"``, ``"kl"``, or a callable
            ``h -> scalar Tensor``.
        lam: the weight for a named penalty (ignored for a callable).
        **options: passed to a named penalty (``nu``, ``rho``, ``eps``).

    Attributes:
        last_output: the recorded h (None until the layer runs).

    Example:
        >>> act = ActivityRegularizer(model[1], "l1", lam=1e-3)
        >>> fit(model, X, y, loss="cross_entropy", optimizer=opt, regularizers=[act])
        >>> act.remove()   # detach the hook
    """

    def __init__(self, layer, penalty="l1", lam: float = 1e-3, **options):
        if not hasattr(layer, "register_forward_hook"):
            raise TypeError(
                f"Expected an nn.Module layer. Received: {type(layer).__name__}"
            )
        if isinstance(penalty, str):
            if penalty not in _PENALTIES:
                raise ValueError(
                    f"Expected penalty among {sorted(_PENALTIES)} or a callable. "
                    f"Received: penalty={penalty!r}"
                )
            lam = _check_lam(lam)
        elif callable(penalty):
            if options:
                raise TypeError(f"Options {sorted(options)} go with a named penalty only")
        else:
            raise TypeError(f"Expected penalty to be a name or a callable. Received: {penalty!r}")
        self.penalty: str | Callable = penalty
        self.options = options
        self.name = penalty if isinstance(penalty, str) else getattr(penalty, "__name__", "fn")
        self.lam = lam
        self.layer = layer
        self.last_output = None
        self._handle = layer.register_forward_hook(self._record)

    def _record(self, module, args, output) -> None:
        self.last_output = output

    def __call__(self, model=None) -> Tensor:
        h = self.last_output
        if h is None:
            raise RuntimeError(
                "ActivityRegularizer: the layer has not run since the last penalty; call the "
                "model on a minibatch first"
            )
        self.last_output = None
        if isinstance(self.penalty, str):
            return _PENALTIES[self.penalty](h, self.lam, **self.options)
        return self.penalty(h)

    def remove(self) -> None:
        """Remove the forward hook from the layer."""
        self._handle.remove()

    def __repr__(self):
        return f"ActivityRegularizer({type(self.layer).__name__}, {self.name!r}, lam={self.lam})"
