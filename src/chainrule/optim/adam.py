"""Adam and AdamW (book §8.5.3, algorithm 8.7)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .._backend.fused import elementwise, maximum, sqrt
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
    c₁ = 1 − β₁ᵗ and c₂ = 1 − β₂ᵗ, which is the same number (one kernel,
    :func:`adam_update`).  Defaults are the book's: ε = 0.001,
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

    Example:
        >>> opt = cr.optim.Adam(model.parameters(), lr=1e-3)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    _decaying = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
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

    def _init_state(self, group: dict, p, state: dict) -> None:
        state["step"] = 0
        state["exp_avg"] = state_like(p)
        state["exp_avg_sq"] = state_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = state_like(p)

    def _update(self, group, theta, g, state, step) -> None:
        lr, lam = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        c1 = 1 - beta1**step
        root_c2 = math.sqrt(1 - beta2**step)
        decoupled = self._decoupled
        adam_update(
            theta, g, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
            1 - lr * lam if decoupled else 1.0, 0.0 if decoupled else lam,
            beta1, 1 - beta1, beta2, 1 - beta2, lr * root_c2 / c1, group["eps"] * root_c2,
            check=True,
        )


@elementwise(outputs="p m v v_max",
             scalars="keep lam beta1 one_minus_beta1 beta2 one_minus_beta2 step_size eps_hat")
def adam_update(p, g, m, v, v_max, keep, lam, beta1, one_minus_beta1, beta2, one_minus_beta2,
                step_size, eps_hat):
    """One Adam(W) step for one element (bias corrections folded into the scalars:
    ``step_size`` = ε√c₂/c₁, ``eps_hat`` = δ√c₂; ``keep`` = 1 − ελ for AdamW, else 1;
    ``lam`` = λ for Adam's L2 penalty, else 0; ``v_max`` None without amsgrad)."""
    p = keep * p  # θ ← (1 − ελ)θ  (AdamW)
    g = g + lam * p  # g ← g + λθ  (Adam)
    m = beta1 * m + one_minus_beta1 * g  # m ← β₁m + (1 − β₁)g
    v = beta2 * v + one_minus_beta2 * (g * g)  # v ← β₂v + (1 − β₂)g ⊙ g
    d = v
    if v_max is not None:  # v_max ← max(v_max, v)
        v_max = maximum(v_max, v)
        d = v_max
    p = p - step_size * (m / (sqrt(d) + eps_hat))  # θ ← θ − ε m̂ / (√v̂ + δ)
    return p, m, v, v_max


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
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
        )
