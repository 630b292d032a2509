"""AdaGrad (book §8.5.1, algorithm 8.4)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""AdaGrad: per-parameter step sizes shrunk by all past squared gradients.

    The update at step t, gradient g (PyTorch's form)::

        g ← g + λθ                          (weight_decay λ: L2)
        ε_t = ε / (1 + (t − 1)·η)           (lr_decay η; 0 by default)
        r ← r + g ⊙ g
        θ ← θ − ε_t g / (√r + δ)

    With η = 0 this is the book's algorithm 8.4, Δθ = −ε/(δ + √r) ⊙ g,
    δ outside the root as in the book (the book suggests δ = 1e−7;
    PyTorch's default, kept here, is 1e−10).  r starts at
    ``initial_accumulator_value``.

    State per parameter: ``step`` and ``sum`` (r).

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

    def _state_names(self, group: dict) -> tuple:
        return ("sum",)

    def _state_fill(self, group: dict, name: str) -> float:
        return group["initial_accumulator_value"]

    def _update(self, group, theta, g, state, step, scratch) -> None:
        t1, t2 = scratch
        wd = group["weight_decay"]
        if wd:
            np.multiply(theta, wd, out=t1)
            t1 += g
            g = t1
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        r = state["sum"]
        np.multiply(g, g, out=t2)
        r += t2
        np.sqrt(r, out=t2)
        t2 += group["eps"]
        np.divide(g, t2, out=t2)
        t2 *= clr
        theta -= t2
