"""Adam and AdamW (book §8.5.3, algorithm 8.7)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import ClassVar

import numpy as np

from .._backend.kernels import register
from .optimizer import Optimizer, _check, state_like

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam: bias-corrected first and second moment estimates (book §8.5.3).

    The update at step t for the gradient g (the book's algorithm 8.7 with
    torch.optim's names: ``exp_avg`` m is the book's s, ``exp_avg_sq`` v its
    r, β₁, β₂ its ρ₁, ρ₂, ``eps`` its δ, ``lr`` its ε)::

        g ← g + λθ                          (weight_decay λ: L2 penalty)
        m ← β₁m + (1 − β₁)g                 (first moment, biased)
        v ← β₂v + (1 − β₂)g ⊙ g             (second moment, biased)
        m̂ = m / (1 − β₁ᵗ)                   (bias corrections)
        v̂ = v / (1 − β₂ᵗ)
        θ ← θ − ε m̂ / (√v̂ + δ)

    δ sits *outside* the square root of the bias-corrected second moment,
    as in the book and in torch.  The code folds the two bias corrections
    into scalars, ε m̂/(√v̂ + δ) = ε (√c₂/c₁) m / (√v + δ√c₂) with
    c₁ = 1 − β₁ᵗ and c₂ = 1 − β₂ᵗ, which is the same number without two
    passes over the parameters.  Defaults are the book's: ε = 0.001,
    β₁ = 0.9, β₂ = 0.999, δ = 1e−8.

    ``weight_decay`` adds λθ to the gradient (the L2 penalty ½λ‖θ‖², as
    torch's Adam does), which then passes through the adaptive scaling;
    :class:`AdamW` decays the weights directly instead.  ``amsgrad``
    (Reddi et al., 2018) divides by the running maximum of v instead:
    v_max ← max(v_max, v), v̂ = v_max / (1 − β₂ᵗ).

    State per parameter: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v)
    and, with amsgrad, ``max_exp_avg_sq`` (v_max).

    Args:
        params: parameters, or parameter groups (dicts).
        lr: step size ε.
        betas: (β₁, β₂), each in [0, 1).
        eps: δ > 0, for numerical stability.
        weight_decay: λ of the L2 penalty.
        amsgrad: normalise by the largest second moment seen so far.
        chunked: update large parameters in cache-sized chunks on several
            threads (see :class:`~chainrule.optim.Optimizer`; same numbers).

    Example:
        >>> opt = cr.optim.Adam(model.parameters(), lr=1e-3)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    _elementwise = True
    _decaying = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _decoupled = False
    _kernel = "adam_update"
    _kernel_options: ClassVar[dict] = {"decoupled": False}

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        chunked: bool | None = None,
    ):
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults, chunked=chunked)

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

    def _init_state(self, group: dict, p, state: dict) -> None:
        state["step"] = 0
        state["exp_avg"] = state_like(p)
        state["exp_avg_sq"] = state_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = state_like(p)

    def _update(self, group, theta, g, state, step, scratch) -> None:
        _adam_numpy(np, group, theta, g, state, step, scratch, self._decoupled)


@register("adam_update", "numpy")
def _adam_numpy(xp, group, theta, g, state, step, scratch, decoupled=False) -> None:
    """The NumPy entry: in place with ``out=``, temporaries in ``scratch``."""
    t1, t2 = scratch
    lr, lam, eps = group["lr"], group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    m, v = state["exp_avg"], state["exp_avg_sq"]
    if lam:
        if decoupled:  # θ ← (1 − ελ)θ
            theta *= 1 - lr * lam
        else:  # g ← g + λθ
            np.multiply(theta, lam, out=t1)
            t1 += g
            g = t1
    # m ← β₁m + (1 − β₁)g
    m *= beta1
    np.multiply(g, 1 - beta1, out=t2)
    m += t2
    # v ← β₂v + (1 − β₂)g ⊙ g
    v *= beta2
    np.multiply(g, g, out=t2)
    t2 *= 1 - beta2
    v += t2
    if group["amsgrad"]:  # v_max ← max(v_max, v)
        np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        v = state["max_exp_avg_sq"]
    # θ ← θ − ε m̂ / (√v̂ + δ) with m̂ = m / c₁, √v̂ = √v / √c₂
    c1 = 1 - beta1**step
    root_c2 = math.sqrt(1 - beta2**step)
    np.sqrt(v, out=t2)
    t2 += eps * root_c2
    np.divide(m, t2, out=t2)
    t2 *= lr * root_c2 / c1
    theta -= t2


@register("adam_update", "generic")
def _adam_generic(xp, group, theta, g, state, step, scratch, decoupled=False) -> None:
    """The standard-only entry: ``p.data`` and the moments updated in place,
    the NumPy entry's operations in its order."""
    lr, lam, eps = group["lr"], group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    m, v = state["exp_avg"], state["exp_avg_sq"]
    if lam:
        if decoupled:  # θ ← (1 − ελ)θ
            theta *= 1 - lr * lam
        else:  # g ← g + λθ
            g = theta * lam + g
    m *= beta1  # m ← β₁m + (1 − β₁)g
    m += g * (1 - beta1)
    v *= beta2  # v ← β₂v + (1 − β₂)g ⊙ g
    v += (g * g) * (1 - beta2)
    if group["amsgrad"]:  # v_max ← max(v_max, v)
        v_max = state["max_exp_avg_sq"]
        v_max[...] = xp.maximum(v_max, v)
        v = v_max
    c1 = 1 - beta1**step
    root_c2 = math.sqrt(1 - beta2**step)
    t = xp.sqrt(v)
    t += eps * root_c2
    t = m / t
    t *= lr * root_c2 / c1
    theta -= t


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Identical to :class:`Adam` except for weight decay, which shrinks the
    weights directly instead of entering the gradient::

        θ ← (1 − ελ)θ,  then the Adam step with the plain gradient g.

    With plain SGD the two are the same (book §7.1.1: w ← (1 − ελ)w − εg);
    with Adam they differ, because an L2 gradient would be rescaled by
    1/(√v̂ + δ).  Default λ = 0.01 as in torch.

    State per parameter: as for :class:`Adam`.

    Args:
        params: parameters, or parameter groups (dicts).
        lr: step size ε.
        betas: (β₁, β₂), each in [0, 1).
        eps: δ > 0.
        weight_decay: λ, the decay per unit learning rate.
        amsgrad: normalise by the largest second moment seen so far.
        chunked: as for :class:`Adam`.
    """

    _decoupled = True
    _kernel_options: ClassVar[dict] = {"decoupled": True}

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        chunked: bool | None = None,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            chunked=chunked,
        )
