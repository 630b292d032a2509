"""RMSProp, with momentum or the book's Nesterov momentum (book §8.5.2)."""

from __future__ import annotations

from collections.abc import Iterable

from .._backend.fused import elementwise, sqrt
from .optimizer import Optimizer, _check, state_like

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSProp: divide by a moving root mean square of recent gradients.

    The update at step t for the gradient g (book §8.5.2, algorithms 8.5
    and 8.6, with torch.optim's names: ``square_avg`` is the book's r,
    ``alpha`` its decay rate ρ, ``eps`` its δ, ``lr`` its ε)::

        g ← g + λθ                          (weight_decay λ: L2 penalty)
        r ← ρr + (1 − ρ)g ⊙ g
        a = √r + δ                          (plain)
        ḡ ← ρḡ + (1 − ρ)g;  a = √(r − ḡ ⊙ ḡ) + δ      (centered)
        u = g / a
        θ ← θ − εu                          (momentum μ = 0)
        b ← μb + u;  θ ← θ − εb             (momentum μ > 0)
        b ← μb + u;  θ ← θ − ε(u + μb)      (nesterov=True)

    Plain RMSProp is the book's algorithm 8.5.  Convention (differs from the
    book): δ sits *outside* the root, a = √r + δ, as in torch; the book
    divides by √(δ + r).  The two agree whenever r ≫ δ.  ``centered``
    (torch's option) normalises by an estimate of the gradient's standard
    deviation instead of its root mean square; ḡ is ``grad_avg``, updated
    as torch does, ḡ ← ḡ + (1 − ρ)(g − ḡ).

    ``nesterov=True`` is the book's algorithm 8.6, RMSProp with Nesterov
    momentum (torch has no such option)::

        θ̃ = θ + αv;  g = ∇L(θ̃);  r ← ρr + (1 − ρ)g ⊙ g
        v ← αv − ε g / (√r + δ);  θ ← θ + v

    (the book writes ε/√r without δ; δ sits where the plain update has it).
    As in :class:`SGD`, the stored parameters are the look-ahead point
    θ̃ = θ + αv, so the gradient the user computes is the book's.  With
    v = −εb (constant ε) the book's v ← αv − εu is b ← αb + u, and
    θ̃_new = θ_new + αv_new = θ̃ − ε(u + αb_new), the rule above.

    The momentum form (μ > 0, no Nesterov) is torch's, b ← μb + u,
    θ ← θ − εb: the book's v ← μv − εu, θ ← θ + v with v = −εb.

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

    _decaying = ("square_avg", "momentum_buffer", "grad_avg")

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

    def _init_state(self, group: dict, p, state: dict) -> None:
        state["step"] = 0
        state["square_avg"] = state_like(p)
        if group["momentum"]:
            state["momentum_buffer"] = state_like(p)
        if group["centered"]:
            state["grad_avg"] = state_like(p)

    def _update(self, group, theta, g, state, step) -> None:
        rho, mu = group["alpha"], group["momentum"]
        nesterov = group["nesterov"]
        rmsprop_update(
            theta, g, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
            group["lr"], group["weight_decay"], rho, 1 - rho, group["eps"], mu,
            1.0 if nesterov else 0.0, mu if nesterov else 1.0,
            check=True,
        )


@elementwise(outputs="p r g_avg b", scalars="lr lam rho one_minus_rho eps mu u_coef b_coef")
def rmsprop_update(p, g, r, g_avg, b, lr, lam, rho, one_minus_rho, eps, mu, u_coef, b_coef):
    """One RMSProp step for one element.  ``g_avg`` is None unless centered, ``b``
    (the momentum buffer) None without momentum; the step is ε(u_coef·u + b_coef·b):
    ε(u + μb) with Nesterov (1, μ), εb with plain momentum (0, 1)."""
    g = g + lam * p  # g ← g + λθ
    r = rho * r + one_minus_rho * (g * g)  # r ← ρr + (1 − ρ)g ⊙ g
    if g_avg is not None:  # ḡ ← ḡ + (1 − ρ)(g − ḡ);  a = √(r − ḡ ⊙ ḡ) + δ
        g_avg = g_avg + one_minus_rho * (g - g_avg)
        a = sqrt(r - g_avg * g_avg) + eps
    else:  # a = √r + δ
        a = sqrt(r) + eps
    u = g / a
    if b is not None:  # b ← μb + u
        b = mu * b + u
        u = u_coef * u + b_coef * b
    return p - lr * u, r, g_avg, b  # θ ← θ − εu
