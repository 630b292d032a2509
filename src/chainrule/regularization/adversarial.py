"""Adversarial examples and adversarial training (book §7.13).

The fast gradient sign method (Goodfellow et al., 2014) moves every input
one step of size ε along the sign of the loss gradient::

    x' = x + ε · sign(∇ₓ J(θ; x, y))

the worst case, to first order, inside the L∞ ball of radius ε.  Projected
gradient descent (Madry et al., 2018) repeats smaller signed steps, each
followed by a projection back onto the ball (and onto the valid input
range).  Training on a mix of clean and adversarial examples makes the
function locally constant near the data.

The attacks leave the model as they found it: its parameters, their
``.grad``, its train/eval mode and its buffers (batch-norm running
statistics) are unchanged.  The model runs in the mode it is in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import random as _random
from ..autograd.engine import Tensor, enable_grad, grad

__all__ = ["AdversarialTraining", "fgsm", "pgd"]


def _as_array(x) -> np.ndarray:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if data.dtype.kind != "f":
        data = data.astype(np.float32)
    return data


def _like(result: np.ndarray, x):
    """The result in the caller's form: a detached Tensor for a Tensor, else an array."""
    return Tensor(result, dtype=result.dtype) if isinstance(x, Tensor) else result


def _check_eps(eps, name: str = "eps") -> float:
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"Expected {name} >= 0. Received: {name}={eps}")
    return float(eps)


def _check_clip(clip):
    if clip is None:
        return None
    lo, hi = clip
    if not lo < hi:
        raise ValueError(f"Expected clip=(low, high) with low < high. Received: clip={clip}")
    return float(lo), float(hi)


class _KeepBuffers:
    """Restore the model's buffers (batch-norm running statistics) on exit."""

    def __init__(self, model):
        self.saved = []
        modules = model.modules() if hasattr(model, "modules") else ()
        for m in modules:
            for name in m._buffers:
                value = getattr(m, name)
                if value is not None:
                    self.saved.append((m, name, value, value.copy()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for m, name, original, copy in self.saved:
            current = getattr(m, name)
            if current is original:
                original[...] = copy
            else:
                setattr(m, name, copy)
        return False


def _input_gradient(model, loss_fn: Callable, x: np.ndarray, y) -> tuple[np.ndarray, float]:
    """∇ₓ loss_fn(model(x), y) and the loss, without touching parameter gradients."""
    xt = Tensor(x, requires_grad=True, dtype=x.dtype)
    with enable_grad():
        loss = loss_fn(model(xt), y)
        if not isinstance(loss, Tensor) or loss.data.size != 1:
            raise ValueError(
                "Expected loss_fn(output, y) to return a scalar Tensor. Received: "
                f"{type(loss).__name__} of shape {getattr(loss, 'shape', None)}"
            )
        (g,) = grad(loss, xt, allow_unused=True)
    if g is None:
        return np.zeros_like(x), float(loss.data)
    return g.data, float(loss.data)


def fgsm(model, loss_fn: Callable, x, y, eps: float, clip=None):
    """The fast gradient sign method: x' = x + ε·sign(∇ₓ J(θ; x, y)) (book §7.13).

    Args:
        model: a callable Tensor -> Tensor (an ``nn.Module``), used in its
            current mode.
        loss_fn: ``(output Tensor, y) -> scalar Tensor`` (e.g.
            ``nn.functional.cross_entropy``).
        x: inputs, (N, ...) array or Tensor.
        y: targets as ``loss_fn`` reads them.
        eps: step ε ≥ 0 (in input units; the L∞ radius).
        clip: optional (low, high) valid input range, applied to x'.

    Returns:
        x' with x's shape and dtype: an array for an array, a detached
        Tensor for a Tensor.  The model's parameters, gradients, mode and
        buffers are unchanged.

    Example:
        >>> x_adv = regularization.fgsm(model, F.cross_entropy, X, y, eps=0.1)
    """
    eps = _check_eps(eps)
    clip = _check_clip(clip)
    data = _as_array(x)
    with _KeepBuffers(model):
        g, _ = _input_gradient(model, loss_fn, data, y)
    out = data + data.dtype.type(eps) * np.sign(g).astype(data.dtype)
    if clip is not None:
        out = np.clip(out, clip[0], clip[1])
    return _like(out.astype(data.dtype, copy=False), x)


def pgd(model, loss_fn: Callable, x, y, eps: float, steps: int = 10,
        step_size: float | None = None, random_start: bool = True, clip=None):
    """Projected gradient ascent on the loss inside the L∞ ball ‖x' − x‖∞ ≤ ε.

    Starting at x (or, with ``random_start``, at x + U(−ε, ε) noise from
    the generator in scope), each step is::

        x' ← Π( x' + step_size · sign(∇ₓ' J(θ; x', y)) )

    where Π clips to [x − ε, x + ε] and then to ``clip``.  One step of size
    ε from x without a random start is :func:`fgsm`.

    Args:
        model, loss_fn, x, y: as in :func:`fgsm`.
        eps: radius ε ≥ 0 of the L∞ ball.
        steps: number of steps ≥ 1.
        step_size: size of each signed step; default 2.5·ε/steps.
        random_start: start from a uniform point in the ball.
        clip: optional (low, high) valid input range.

    Returns:
        The adversarial inputs, in x's form (array or detached Tensor).
    """
    eps = _check_eps(eps)
    clip = _check_clip(clip)
    if int(steps) != steps or steps < 1:
        raise ValueError(f"Expected steps >= 1. Received: steps={steps}")
    step_size = 2.5 * eps / steps if step_size is None else _check_eps(step_size, "step_size")
    data = _as_array(x)
    dtype = data.dtype.type
    lo, hi = data - dtype(eps), data + dtype(eps)

    def project(z):
        z = np.clip(z, lo, hi)
        return z if clip is None else np.clip(z, clip[0], clip[1])

    cur = data.copy()
    if random_start:
        noise = _random.generator().uniform(-eps, eps, size=data.shape)
        cur = project(cur + noise.astype(data.dtype))
    with _KeepBuffers(model):
        for _ in range(int(steps)):
            g, _ = _input_gradient(model, loss_fn, cur, y)
            cur = project(cur + dtype(step_size) * np.sign(g).astype(data.dtype))
    return _like(cur.astype(data.dtype, copy=False), x)


class AdversarialTraining:
    """Train on (1 − α)·J(θ; x, y) + α·J(θ; x', y), x' an adversarial example (book §7.13).

    A batch regulariser for ``training.fit(..., regularizers=[...])``: for
    every training minibatch the loop passes the minibatch and its clean
    loss to :meth:`batch_penalty`, which builds x' against the current
    parameters (no gradient flows through x') and returns the term
    α·(J(θ; x', y) − J(θ; x, y)).  Added to the clean loss it gives the
    mixed objective; the history logs the clean loss as ``loss``, this term
    as ``penalty`` and the mixed objective as ``objective``.

    Args:
        eps: the attack's radius ε.
        alpha: weight α ∈ [0, 1] of the adversarial loss (Goodfellow et al.
            use 0.5).
        attack: ``"fgsm"``, ``"pgd"`` or a callable
            ``(model, loss_fn, x, y, eps) -> x'``.
        loss_fn: the loss for the attack and the adversarial term; default
            the training loss.
        **attack_options: passed to the attack (``clip``; for PGD
            ``steps``, ``step_size``, ``random_start``).

    Example:
        >>> fit(model, X, y, loss="cross_entropy", optimizer=opt,
        ...     regularizers=[AdversarialTraining(eps=0.1, alpha=0.5)])
    """

    def __init__(self, eps: float, alpha: float = 0.5, attack="fgsm",
                 loss_fn: Callable | None = None, **attack_options):
        self.eps = _check_eps(eps)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Expected alpha in [0, 1]. Received: alpha={alpha}")
        self.alpha = float(alpha)
        attacks = {"fgsm": fgsm, "pgd": pgd}
        if isinstance(attack, str):
            if attack not in attacks:
                raise ValueError(
                    f"Expected attack 'fgsm', 'pgd' or a callable. Received: attack={attack!r}"
                )
            attack = attacks[attack]
        elif not callable(attack):
            raise TypeError(f"Expected attack to be a name or a callable. Received: {attack!r}")
        self.attack = attack
        self.loss_fn = loss_fn
        self.attack_options = attack_options

    def adversarial_examples(self, model, x, y, loss_fn: Callable | None = None):
        """x' for this minibatch against the current parameters."""
        loss_fn = self.loss_fn or loss_fn
        if loss_fn is None:
            raise ValueError("AdversarialTraining needs a loss_fn (none given, none from the loop)")
        return self.attack(model, loss_fn, x, y, self.eps, **self.attack_options)

    def batch_penalty(self, model, x, y, loss_fn: Callable | None = None,
                      loss: Tensor | None = None) -> Tensor:
        """α·(J(θ; x', y) − J(θ; x, y)); the clean loss is recomputed when not given."""
        loss_fn = self.loss_fn or loss_fn
        if loss_fn is None:
            raise ValueError("AdversarialTraining needs a loss_fn (none given, none from the loop)")
        x_adv = self.adversarial_examples(model, x, y, loss_fn)
        x_adv = x_adv if isinstance(x_adv, Tensor) else Tensor(x_adv, dtype=x_adv.dtype)
        if self.loss_fn is not None or loss is None:
            xt = x if isinstance(x, Tensor) else Tensor(_as_array(x))
            loss = loss_fn(model(xt), y)
        adv = loss_fn(model(x_adv), y)
        return (adv - loss) * self.alpha

    def __repr__(self):
        name = getattr(self.attack, "__name__", repr(self.attack))
        return f"AdversarialTraining(eps={self.eps}, alpha={self.alpha}, attack={name})"

