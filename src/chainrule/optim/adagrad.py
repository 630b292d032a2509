"""AdaGrad (book §8.5.1, algorithm 8.4)."""

from __future__ import annotations

from collections.abc import Iterable

from .._backend.fused import elementwise, sqrt
from .optimizer import Optimizer, _check, state_like

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""AdaGrad: per-parameter step sizes shrunk by all past squared gradients.

    The update at step t for the gradient g (book §8.5.1, algorithm 8.4,
    with torch.optim's names: ``sum`` is the book's r)::

        g ← g + λθ                          (weight_decay λ: L2 penalty)
        ε_t = ε / (1 + (t − 1)η)            (lr_decay η; 0 by default)
        r ← r + g ⊙ g
        θ ← θ − ε_t g / (√r + δ)

    With η = 0 this is the book's algorithm 8.4, Δθ = −ε g/(δ + √r), δ
    outside the root as in the book (the book suggests δ = 1e−7; torch's
    default, kept here, is 1e−10).  r starts at
    ``initial_accumulator_value``; the state is created when the optimiser
    is built, as in torch.

    State per parameter: ``step`` (t) and ``sum`` (r).

    Args:
        params: parameters, or parameter groups (dicts).
        lr: global learning rate ε.
        lr_decay: η, decays ε as ε/(1 + (t − 1)η).
        weight_decay: λ of the L2 penalty.
        initial_accumulator_value: starting value of r (≥ 0).
        eps: δ > 0.

    Example:
        >>> opt = cr.optim.Adagrad(model.parameters(), lr=0.01)
    """


    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ):
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
        }
        super().__init__(params, defaults)

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        _check(group["lr_decay"] >= 0, "lr_decay >= 0", f"lr_decay={group['lr_decay']}")
        acc = group["initial_accumulator_value"]
        _check(acc >= 0, "initial_accumulator_value >= 0", f"initial_accumulator_value={acc}")
        _check(group["eps"] > 0, "eps > 0", f"eps={group['eps']}")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group; its parameters get their state at once, as in torch."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(group, p, self.state[p])

    def _init_state(self, group: dict, p, state: dict) -> None:
        state["step"] = 0
        state["sum"] = state_like(p, group["initial_accumulator_value"])

    def _update(self, group, theta, g, state, step) -> None:
        lr_t = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        adagrad_update(theta, g, state["sum"], lr_t, group["weight_decay"], group["eps"],
                       check=True)


@elementwise(outputs="p r", scalars="lr_t lam eps")
def adagrad_update(p, g, r, lr_t, lam, eps):
    """One AdaGrad step for one element (``lr_t``: the decayed learning rate)."""
    g = g + lam * p  # g ← g + λθ
    r = r + g * g  # r ← r + g ⊙ g
    return p - lr_t * (g / (sqrt(r) + eps)), r  # θ ← θ − ε_t g / (√r + δ)
