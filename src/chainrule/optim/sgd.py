"""Stochastic gradient descent with momentum and Nesterov momentum (book §8.3)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .._backend.kernels import register
from .optimizer import Optimizer, _check, state_like

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Minibatch SGD, optionally with (Nesterov) momentum and L2 weight decay.

    The update, for the gradient g of the minibatch loss at θ (book §8.3,
    algorithms 8.1-8.3, in torch.optim's form and names)::

        g ← g + λθ                              (weight_decay λ > 0)
        v ← g                                   (first step; v = momentum_buffer)
        v ← μv + (1 − τ)g                       (later steps; dampening τ)
        d ← g + μv  (nesterov)   or   d ← v     (momentum μ > 0)
        d ← g                                   (μ = 0)
        θ ← θ − εd

    Without momentum this is the book's minibatch SGD θ ← θ − εg
    (algorithm 8.1).  Convention (differs from the book): the momentum
    form is torch's v ← μv + g, θ ← θ − εv.  The book's algorithm 8.2
    writes v ← αv − εg, θ ← θ + v; for a constant learning rate ε the two
    are the same trajectory with the book's v equal to −ε times ours.
    When ε changes, torch's form rescales past velocity by the new ε, the
    book's keeps old steps at their old size.

    Nesterov momentum (book algorithm 8.3, §8.3.3) evaluates the gradient
    at the look-ahead point θ̃ = θ + αu (u the book's velocity).  Here the
    stored parameters *are* that look-ahead point, so the gradient the
    user computes is the book's.  With u = −εv (constant ε), the book's
    u ← αu − εg is v ← αv + g, and θ̃_new = θ_new + αu_new
    = θ̃ − ε(g + αv_new), which is the rule above.

    The L2 penalty ½λ‖θ‖² (book §7.1.1) adds λθ to the gradient, so one
    plain step is θ ← (1 − ελ)θ − εg; it also decays biases (put them in a
    group with ``weight_decay=0`` to exclude them, as the book does).

    State per parameter: ``momentum_buffer`` (v, only if μ > 0); no step
    count, as in torch.

    Args:
        params: parameters, or parameter groups (dicts).
        lr: learning rate ε.
        momentum: μ (the book's α), ≥ 0.
        dampening: τ, scales new gradients into the momentum buffer.
        weight_decay: λ of the L2 penalty.
        nesterov: use Nesterov momentum (needs momentum > 0, dampening 0).
        chunked: update large parameters in cache-sized chunks on several
            threads (see :class:`~chainrule.optim.Optimizer`; same numbers).

    Example:
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    _elementwise = True
    _decaying = ("momentum_buffer",)
    _counts_steps = False
    _kernel = "sgd_update"

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        chunked: bool | None = None,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults, chunked=chunked)

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        mu = group["momentum"]
        _check(0 <= mu, "momentum >= 0", f"momentum={mu}")
        if group["nesterov"]:
            _check(
                mu > 0 and group["dampening"] == 0,
                "momentum > 0 and dampening = 0 for nesterov=True",
                f"momentum={mu}, dampening={group['dampening']}",
            )

    def _init_state(self, group: dict, p, state: dict) -> None:
        if group["momentum"]:
            state["momentum_buffer"] = state_like(p)

    def _update(self, group, theta, g, state, step, scratch) -> None:
        _sgd_numpy(np, group, theta, g, state, step, scratch)


@register("sgd_update", "numpy")
def _sgd_numpy(xp, group, theta, g, state, step, scratch) -> None:
    """The NumPy entry: in place with ``out=``, temporaries in ``scratch``."""
    t1, t2 = scratch
    lr, mu, lam = group["lr"], group["momentum"], group["weight_decay"]
    if lam:  # g ← g + λθ
        np.multiply(theta, lam, out=t1)
        t1 += g
        g = t1
    d = g
    if mu:
        v = state["momentum_buffer"]
        if step == 1:  # v ← g
            np.copyto(v, g)
        else:  # v ← μv + (1 − τ)g
            v *= mu
            tau = group["dampening"]
            if tau:
                np.multiply(g, 1 - tau, out=t2)
                v += t2
            else:
                v += g
        if group["nesterov"]:  # d ← g + μv
            np.multiply(v, mu, out=t2)
            t2 += g
            d = t2
        else:  # d ← v
            d = v
    np.multiply(d, lr, out=t2)  # θ ← θ − εd
    theta -= t2


@register("sgd_update", "generic")
def _sgd_generic(xp, group, theta, g, state, step, scratch) -> None:
    """The standard-only entry: ``p.data`` and the buffer updated in place.

    The same operations in the same order as the NumPy entry, so on a
    namespace that computes as NumPy does the numbers are the same.
    """
    lr, mu, lam = group["lr"], group["momentum"], group["weight_decay"]
    if lam:  # g ← g + λθ
        g = theta * lam + g
    d = g
    if mu:
        v = state["momentum_buffer"]
        if step == 1:  # v ← g
            v[...] = g
        else:  # v ← μv + (1 − τ)g
            v *= mu
            tau = group["dampening"]
            v += g * (1 - tau) if tau else g
        d = v * mu + g if group["nesterov"] else v  # d ← g + μv  or  d ← v
    theta -= d * lr  # θ ← θ − εd
