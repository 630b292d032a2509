"""Learning-rate schedules (book §8.3.1): set each group's lr once per step.

A scheduler remembers every group's starting learning rate ε₀ (stored in
the group as ``'initial_lr'``, as PyTorch does) and a step counter k.
Constructing it sets k = 0 and lr = ε(0); each ``step()`` increments k and
sets lr = ε(k), computed in closed form from ε₀ (so schedules do not
compound rounding, and do not chain: use one scheduler per optimiser).
The values equal PyTorch's schedulers of the same name.

Example:
    >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> sched = cr.optim.lr_scheduler.LinearDecay(opt, end_lr=0.001, tau=1000)
    >>> for batch in loader:
    ...     ...; opt.step(); opt.zero_grad(); sched.step()
"""

from __future__ import annotations

import math

from .optimizer import Optimizer, _check

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LinearDecay", "StepLR"]


class LRScheduler:
    """Base class: ``lr_at(base_lr, k, group_index)`` defines the schedule.

    Args:
        optimizer: the optimiser whose groups' ``lr`` this sets.
        last_epoch: the index of the last step taken; -1 starts afresh.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"Expected a chainrule optimiser. Received: {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            if last_epoch == -1:
                group["initial_lr"] = group["lr"]
            elif "initial_lr" not in group:
                raise KeyError(
                    "Expected 'initial_lr' in every param group when resuming "
                    f"with last_epoch={last_epoch}. Received: a group without it"
                )
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr: float, k: int, i: int) -> float:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``, one per group."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one iteration and set every group's lr."""
        self.last_epoch += 1
        k = self.last_epoch
        for i, (group, base) in enumerate(zip(self.optimizer.param_groups, self.base_lrs)):
            group["lr"] = self.lr_at(base, k, i)
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything but the optimiser (saved separately, as in PyTorch)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


class LinearDecay(LRScheduler):
    r"""Linear decay from ε₀ to ε_τ over τ iterations, then constant (eq. 8.14).

    ε_k = (1 − k/τ) ε₀ + (k/τ) ε_τ  for k ≤ τ,   ε_k = ε_τ  for k > τ.

    The book (§8.3.1) advises ε_τ ≈ 1% of ε₀ and τ large enough for a few
    hundred passes over the training set.  Call ``step()`` once per
    iteration (minibatch), after ``opt.step()``.

    Args:
        optimizer: the optimiser; ε₀ is each group's lr at construction.
        end_lr: ε_τ ≥ 0, one value or one per parameter group.
        tau: τ ≥ 1, the number of iterations of the decay.
        last_epoch: the index of the last iteration; -1 starts afresh.

    Example:
        >>> sched = LinearDecay(opt, end_lr=0.001, tau=10_000)
    """

    def __init__(self, optimizer: Optimizer, end_lr, tau: int, last_epoch: int = -1):
        n = len(optimizer.param_groups)
        ends = list(end_lr) if isinstance(end_lr, (list, tuple)) else [end_lr] * n
        _check(len(ends) == n, f"end_lr: one value or {n} (one per group)", f"{len(ends)} values")
        _check(all(e >= 0 for e in ends), "end_lr >= 0", f"end_lr={end_lr}")
        _check(isinstance(tau, int) and tau >= 1, "tau an integer >= 1", f"tau={tau}")
        self.end_lrs = [float(e) for e in ends]
        self.tau = tau
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, k: int, i: int) -> float:
        end = self.end_lrs[i]
        if k >= self.tau:
            return end
        a = k / self.tau
        return (1 - a) * base_lr + a * end


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps: ε₀ γ^⌊k/s⌋.

    Args:
        optimizer: the optimiser.
        step_size: s ≥ 1.
        gamma: γ > 0.
        last_epoch: the index of the last step; -1 starts afresh.
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ):
        _check(
            isinstance(step_size, int) and step_size >= 1,
            "step_size an integer >= 1",
            f"step_size={step_size}",
        )
        _check(gamma > 0, "gamma > 0", f"gamma={gamma}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, k: int, i: int) -> float:
        return base_lr * self.gamma ** (k // self.step_size)


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every step: ε₀ γᵏ.

    Args:
        optimizer: the optimiser.
        gamma: γ > 0.
        last_epoch: the index of the last step; -1 starts afresh.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        _check(gamma > 0, "gamma > 0", f"gamma={gamma}")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, k: int, i: int) -> float:
        return base_lr * self.gamma**k


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing: η_min + (ε₀ − η_min)(1 + cos(πk/T))/2.

    After T steps the curve rises again (period 2T), as PyTorch's does.

    Args:
        optimizer: the optimiser.
        T_max: T ≥ 1, steps from ε₀ down to η_min.
        eta_min: η_min ≥ 0.
        last_epoch: the index of the last step; -1 starts afresh.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):
        _check(isinstance(T_max, int) and T_max >= 1, "T_max an integer >= 1", f"T_max={T_max}")
        _check(eta_min >= 0, "eta_min >= 0", f"eta_min={eta_min}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, k: int, i: int) -> float:
        cos = 1 + math.cos(math.pi * k / self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * cos / 2
