"""Stochastic gradient descent with momentum and Nesterov momentum (book §8.3)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Minibatch SGD, optionally with (Nesterov) momentum and L2 weight decay.

    The update, for gradient g of the minibatch loss at θ (PyTorch's form)::

        g ← g + λθ                          (weight_decay λ, if λ > 0)
        b ← g                               (first step)
        b ← μb + (1 − τ)g                   (later steps; dampening τ)
        d ← g + μb  (nesterov)   or   d ← b
        θ ← θ − εd

    Without momentum this is the book's minibatch SGD θ ← θ − εg
    (algorithm 8.1).  With momentum it is the book's algorithm 8.2,
    v ← αv − εg, θ ← θ + v, written for the buffer b = −v/ε: for a constant
    learning rate ε, multiplying b ← μb + g by −ε gives v ← μv − εg, and
    θ − εb = θ + v.  (When ε changes, PyTorch's form rescales past
    velocity by the new ε; the book's keeps old steps at their old size.)

    Nesterov momentum (book algorithm 8.3, §8.3.3) evaluates the gradient
    at the look-ahead point θ̃ = θ + αv.  Here the stored parameters *are*
    that look-ahead point, so the user's gradient is the book's; with
    θ̃_new = θ_new + αv_new and v_new = αv − εg one gets
    θ̃_new = θ̃ − ε(g + αb_new), which is the rule above.

    The L2 penalty ½λ‖θ‖² (book §7.1.1) adds λθ to the gradient, so one step
    is θ ← (1 − ελ)θ − εg; note that it also decays biases (put them in a
    group with ``weight_decay=0`` to exclude them, as the book does).

    Args:
        params: parameters, or parameter groups (dicts).
        lr: learning rate ε.
        momentum: μ (the book's α), in [0, 1).
        dampening: τ, scales new gradients into the momentum buffer.
        weight_decay: λ of the L2 penalty.
        nesterov: use Nesterov momentum (needs momentum > 0, dampening 0).

    Example:
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

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

    def _state_names(self, group: dict) -> tuple:
        return ("momentum_buffer",) if group["momentum"] else ()

    def _update(self, group, theta, g, state, step, scratch) -> None:
        t1, t2 = scratch
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd:
            np.multiply(theta, wd, out=t1)
            t1 += g
            g = t1
        if mu:
            buf = state["momentum_buffer"]
            if step == 1:
                np.copyto(buf, g)
            else:
                buf *= mu
                damp = group["dampening"]
                if damp:
                    np.multiply(g, 1 - damp, out=t2)
                    buf += t2
                else:
                    buf += g
            if group["nesterov"]:
                np.multiply(buf, mu, out=t2)
                np.add(g, t2, out=t1)
                g = t1
            else:
                g = buf
        np.multiply(g, lr, out=t2)
        theta -= t2
