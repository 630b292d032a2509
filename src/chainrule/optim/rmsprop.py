"""RMSProp, with momentum or the book's Nesterov momentum (book §8.5.2)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSProp: divide by a moving root mean square of recent gradients.

    The update at step t, gradient g (PyTorch's form)::

        g ← g + λθ                          (weight_decay λ: L2)
        r ← ρr + (1 − ρ) g ⊙ g              (ρ = ``alpha``)
        a ← √r + δ                          (plain)
        ḡ ← ḡ + (1 − ρ)(g − ḡ);  a ← √(r − ḡ ⊙ ḡ) + δ     (centered)
        u = g / a
        θ ← θ − εu                          (momentum μ = 0)
        b ← μb + u;  θ ← θ − εb             (momentum μ > 0)
        b ← μb + u;  θ ← θ − ε(u + μb)      (nesterov=True)

    Plain RMSProp is the book's algorithm 8.5, except for where δ sits: the
    book divides by √(δ + r), PyTorch (and this class) by √r + δ.  The two
    agree whenever r ≫ δ, which is all but the first few steps of a
    parameter whose gradient is never zero.

    ``nesterov=True`` is the book's algorithm 8.6, RMSProp with Nesterov
    momentum (PyTorch has no such option)::

        θ̃ = θ + αv;  g = ∇L(θ̃);  r ← ρr + (1 − ρ) g ⊙ g
        v ← αv − ε g / (√r + δ);  θ ← θ + v

    (the book writes ε/√r without δ; δ sits where the plain update has it).
    As in :class:`SGD`, the stored parameters are the look-ahead point
    θ̃ = θ + αv, so the gradient the user computes is the book's.  With
    b = −v/ε and u = g/(√r + δ) (constant ε): v_new = αv − εu is
    b_new = αb + u, and θ̃_new = θ_new + αv_new = θ̃ + v_new + α(v_new − v)
    = θ̃ − ε(u + αb_new), the rule above.  The book's θ is θ̃ − αv = θ̃ + εαb.

    The momentum form (μ > 0, no Nesterov) is PyTorch's: b ← μb + u,
    θ ← θ − εb, which is v ← μv − εu, θ ← θ + v with v = −εb.

    State per parameter: ``step``, ``square_avg`` (r), ``momentum_buffer``
    (b, if μ > 0) and ``grad_avg`` (ḡ, if centered).

    Args:
        params: parameters, or parameter groups (dicts).
        lr: learning rate ε.
        alpha: ρ, decay of the squared-gradient average, in [0, 1].
        eps: δ > 0.
        momentum: μ (the book's α), ≥ 0.
        nesterov: the book's algorithm 8.6 (needs momentum > 0).
        weight_decay: λ of the L2 penalty.
        centered: normalise by an estimate of the gradient's variance.

    Example:
        >>> opt = cr.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9,
        ...                        nesterov=True)
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        centered: bool = False,
    ):
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "momentum": momentum,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        a = group["alpha"]
        _check(0 <= a <= 1, "alpha in [0, 1]", f"alpha={a}")
        _check(group["eps"] > 0, "eps > 0", f"eps={group['eps']}")
        mu = group["momentum"]
        _check(mu >= 0, "momentum >= 0", f"momentum={mu}")
        if group["nesterov"]:
            _check(mu > 0, "momentum > 0 for nesterov=True", f"momentum={mu}")

    def _state_names(self, group: dict) -> tuple:
        names = ["square_avg"]
        if group["momentum"]:
            names.append("momentum_buffer")
        if group["centered"]:
            names.append("grad_avg")
        return tuple(names)

    def _update(self, group, theta, g, state, step, scratch) -> None:
        t1, t2 = scratch
        lr, wd, rho = group["lr"], group["weight_decay"], group["alpha"]
        mu = group["momentum"]
        if wd:
            np.multiply(theta, wd, out=t1)
            t1 += g
            g = t1
        r = state["square_avg"]
        r *= rho
        np.multiply(g, g, out=t2)
        t2 *= 1 - rho
        r += t2
        if group["centered"]:
            gbar = state["grad_avg"]
            np.subtract(g, gbar, out=t2)
            t2 *= 1 - rho
            gbar += t2
            np.multiply(gbar, gbar, out=t2)
            np.subtract(r, t2, out=t2)
            np.sqrt(t2, out=t2)
        else:
            np.sqrt(r, out=t2)
        t2 += group["eps"]
        np.divide(g, t2, out=t2)  # u = g / a; g is not needed after this
        if mu:
            b = state["momentum_buffer"]
            b *= mu
            b += t2
            if group["nesterov"]:
                np.multiply(b, mu, out=t1)
                t2 += t1
                t2 *= lr
            else:
                np.multiply(b, lr, out=t2)
        else:
            t2 *= lr
        theta -= t2
