"""Adam and AdamW (book §8.5.3, algorithm 8.7)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam: bias-corrected first and second moment estimates (algorithm 8.7).

    The update at step t, gradient g (PyTorch's form)::

        g ← g + λθ                                   (weight_decay λ: L2)
        s ← β₁s + (1 − β₁)g            r ← β₂r + (1 − β₂)g ⊙ g
        ŝ = s / (1 − β₁ᵗ)              r̂ = r / (1 − β₂ᵗ)
        θ ← θ − ε ŝ / (√r̂ + δ)

    This is the book's algorithm 8.7 with ρ₁ = β₁, ρ₂ = β₂, step size ε and
    δ = ``eps``: the update is Δθ = −ε ŝ/(δ + √r̂), with δ *outside* the
    square root of the bias-corrected r̂ (as in the book and in PyTorch).
    Defaults are the book's: ε = 0.001, ρ₁ = 0.9, ρ₂ = 0.999, δ = 1e−8.

    ``weight_decay`` adds λθ to the gradient (the L2 penalty ½λ‖θ‖², as
    PyTorch's Adam does), which then passes through the adaptive scaling;
    :class:`AdamW` decays the weights directly instead.  ``amsgrad`` uses
    the running maximum of r̂'s numerator (Reddi et al., 2018).

    Implementation: instead of the averages s and r the state holds the
    exponentially weighted *sums* M = Σₖ β₁ᵏ g₍ₜ₋ₖ₎ and V = Σₖ β₂ᵏ g²₍ₜ₋ₖ₎
    (``grad_sum``, ``grad_sq_sum``), so s = (1 − β₁)M and r = (1 − β₂)V.
    The update becomes M ← β₁M + g, V ← β₂V + g², which saves two of the
    twelve passes over all parameters per step; ŝ = M / Σₖ₍ₖ₌₀..ₜ₋₁₎ β₁ᵏ is then
    plainly the weighted *average* of past gradients, which is what bias
    correction means.  Results equal PyTorch's to float32 rounding.

    State per parameter: ``step``, ``grad_sum`` (M), ``grad_sq_sum`` (V),
    ``sum_betas`` (the betas of the sums: if the betas change, the sums are
    rescaled so that s and r carry on) and, with amsgrad,
    ``max_grad_sq_sum``.

    Args:
        params: parameters, or parameter groups (dicts).
        lr: step size ε.
        betas: (β₁, β₂), each in [0, 1).
        eps: δ > 0, for numerical stability.
        weight_decay: λ of the L2 penalty.
        amsgrad: normalise by the largest second moment seen so far.

    Example:
        >>> opt = cr.optim.Adam(model.parameters(), lr=1e-3)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ):
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        betas = group["betas"]
        _check(
            len(betas) == 2 and all(0 <= b < 1 for b in betas),
            "betas=(beta1, beta2) each in [0, 1)",
            f"betas={betas}",
        )
        group["betas"] = tuple(float(b) for b in betas)
        eps = group["eps"]
        _check(eps > 0, "eps > 0", f"eps={eps}")

    def _state_names(self, group: dict) -> tuple:
        if group["amsgrad"]:
            return ("grad_sum", "grad_sq_sum", "max_grad_sq_sum")
        return ("grad_sum", "grad_sq_sum")

    def _init_state(self, group: dict, state: dict) -> None:
        state["sum_betas"] = group["betas"]

    def _prepare(self, group: dict) -> None:
        # the sums are kept for the betas they were made with; if the betas
        # change, rescale them so that s and r continue unchanged
        betas = group["betas"]
        for p in group["params"]:
            st = self.state[p]
            old = st["sum_betas"]
            if old != betas:
                st["grad_sum"] *= (1 - old[0]) / (1 - betas[0])
                st["grad_sq_sum"] *= (1 - old[1]) / (1 - betas[1])
                if "max_grad_sq_sum" in st:
                    st["max_grad_sq_sum"] *= (1 - old[1]) / (1 - betas[1])
                st["sum_betas"] = betas

    def _update(self, group, theta, g, state, step, scratch) -> None:
        t1, t2 = scratch
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        m, v = state["grad_sum"], state["grad_sq_sum"]
        if wd:
            if self._decoupled:
                theta *= 1 - lr * wd
            else:
                np.multiply(theta, wd, out=t1)
                t1 += g
                g = t1
        # M ← β₁M + g,  V ← β₂V + g²   (s = (1 − β₁)M, r = (1 − β₂)V)
        m *= beta1
        m += g
        np.square(g, out=t2)
        v *= beta2
        v += t2
        if group["amsgrad"]:
            np.maximum(state["max_grad_sq_sum"], v, out=state["max_grad_sq_sum"])
            v = state["max_grad_sq_sum"]
        # ŝ = c₁M and √r̂ = c₂√V, so θ ← θ − ε(c₁/c₂) M / (√V + δ/c₂)
        c1 = (1 - beta1) / (1 - beta1**step)
        c2 = math.sqrt((1 - beta2) / (1 - beta2**step))
        np.sqrt(v, out=t2)
        t2 += eps / c2
        np.divide(m, t2, out=t2)
        t2 *= lr * c1 / c2
        theta -= t2


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Identical to :class:`Adam` except for weight decay, which shrinks the
    weights directly instead of entering the gradient::

        θ ← (1 − ελ)θ,  then the Adam step with the plain gradient g.

    With plain SGD the two are the same (book §7.1.1: w ← (1 − ελ)w − εg);
    with Adam they differ, because an L2 gradient would be rescaled by
    1/(√r̂ + δ).  Default λ = 0.01 as in PyTorch.

    Args:
        params: parameters, or parameter groups (dicts).
        lr: step size ε.
        betas: (β₁, β₂), each in [0, 1).
        eps: δ > 0.
        weight_decay: λ, the decay per unit learning rate.
        amsgrad: normalise by the largest second moment seen so far.
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ):
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )
