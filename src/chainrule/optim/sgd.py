"""Stochastic gradient descent with momentum and Nesterov momentum (book §8.3)."""

from __future__ import annotations

from collections.abc import Iterable

from .._backend.fused import elementwise
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

    Example:
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    _decaying = ("momentum_buffer",)
    _counts_steps = False

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

    def _init_state(self, group: dict, p, state: dict) -> None:
        if group["momentum"]:
            state["momentum_buffer"] = state_like(p)

    def _update(self, group, theta, g, state, step) -> None:
        mu, tau = group["momentum"], group["dampening"]
        first = step == 1
        nesterov = group["nesterov"]
        sgd_update(
            theta, g, state.get("momentum_buffer"), group["lr"], group["weight_decay"],
            0.0 if first else mu, 1.0 if first else 1 - tau,
            1.0 if nesterov else 0.0, mu if nesterov else 1.0,
            check=True,
        )


@elementwise(outputs="p v", scalars="lr lam mu one_minus_tau g_coef v_coef")
def sgd_update(p, g, v, lr, lam, mu, one_minus_tau, g_coef, v_coef):
    """One SGD step for one element.  ``v`` (the momentum buffer) is None without
    momentum; on a parameter's first step ``mu`` = 0 and ``one_minus_tau`` = 1, so
    v ← g; ``d = g_coef·g + v_coef·v`` is g + μv (Nesterov: 1, μ) or v (0, 1)."""
    g = g + lam * p  # g ← g + λθ
    d = g
    if v is not None:
        v = mu * v + one_minus_tau * g  # v ← μv + (1 − τ)g
        d = g_coef * g + v_coef * v  # d ← g + μv (nesterov)  or  d ← v
    return p - lr * d, v  # θ ← θ − εd
