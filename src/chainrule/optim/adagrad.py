"""AdaGrad (book §8.5.1, algorithm 8.4)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .._backend.kernels import register
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
        chunked: update large parameters in cache-sized chunks on several
            threads (see :class:`~chainrule.optim.Optimizer`; same numbers).

    Example:
        >>> opt = cr.optim.Adagrad(model.parameters(), lr=0.01)
    """

    _elementwise = True
    _kernel = "adagrad_update"

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        chunked: bool | None = None,
    ):
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
        }
        super().__init__(params, defaults, chunked=chunked)

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

    def _update(self, group, theta, g, state, step, scratch) -> None:
        _adagrad_numpy(np, group, theta, g, state, step, scratch)


@register("adagrad_update", "numpy")
def _adagrad_numpy(xp, group, theta, g, state, step, scratch) -> None:
    """The NumPy entry: in place with ``out=``, temporaries in ``scratch``."""
    t1, t2 = scratch
    lam = group["weight_decay"]
    if lam:  # g ← g + λθ
        np.multiply(theta, lam, out=t1)
        t1 += g
        g = t1
    lr_t = group["lr"] / (1 + (step - 1) * group["lr_decay"])
    r = state["sum"]
    np.multiply(g, g, out=t2)  # r ← r + g ⊙ g
    r += t2
    np.sqrt(r, out=t2)  # θ ← θ − ε_t g / (√r + δ)
    t2 += group["eps"]
    np.divide(g, t2, out=t2)
    t2 *= lr_t
    theta -= t2


@register("adagrad_update", "generic")
def _adagrad_generic(xp, group, theta, g, state, step, scratch) -> None:
    """The standard-only entry: ``p.data`` and ``sum`` updated in place,
    the NumPy entry's operations in its order."""
    lam = group["weight_decay"]
    if lam:  # g ← g + λθ
        g = theta * lam + g
    lr_t = group["lr"] / (1 + (step - 1) * group["lr_decay"])
    r = state["sum"]
    r += g * g  # r ← r + g ⊙ g
    a = xp.sqrt(r)  # θ ← θ − ε_t g / (√r + δ)
    a += group["eps"]
    u = g / a
    u *= lr_t
    theta -= u
