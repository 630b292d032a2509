"""Multi-task networks: one shared trunk, one head per task (book §7.7).

The trunk's parameters receive the gradients of every task's loss (the
statistical strength the tasks share); each head's only its own.  Training
such a model: ``fit`` with a dict of targets and a dict of losses (see
:class:`chainrule.training.MultiTaskLoss`).
"""

from __future__ import annotations

from .module import Module

__all__ = ["MultiTask"]


class MultiTask(Module):
    """A shared trunk h = trunk(x) followed by heads: ``{task: head(h)}``.

    Args:
        trunk: the shared lower layers (any Module).
        heads: ``{task name: Module}``, one task-specific upper part each,
            in the order the outputs are returned.  Names are Python
            identifiers (they become parameter names ``heads.<task>.*``).

    Returns (forward):
        A dict ``{task: Tensor}`` of the heads' outputs.

    Example:
        >>> trunk = nn.Sequential(nn.Linear(64, 64), nn.ReLU())
        >>> model = nn.MultiTask(trunk, {"digit": nn.Linear(64, 10),
        ...                              "parity": nn.Linear(64, 1)})
        >>> out = model(cr.tensor(X))   # {"digit": (N, 10), "parity": (N, 1)}
    """

    def __init__(self, trunk: Module, heads: dict):
        super().__init__()
        if not isinstance(trunk, Module):
            raise TypeError(f"Expected trunk to be a Module. Received: {type(trunk).__name__}")
        if not isinstance(heads, dict) or not heads:
            raise TypeError(
                "Expected heads as a non-empty dict {task name: Module}. Received: "
                f"{type(heads).__name__}{'' if heads else ' (empty)'}"
            )
        self.trunk = trunk
        self.heads = Module()
        for name, head in heads.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(
                    f"Expected task names that are Python identifiers. Received: {name!r}"
                )
            if not isinstance(head, Module):
                raise TypeError(
                    f"Expected the head of task {name!r} to be a Module. "
                    f"Received: {type(head).__name__}"
                )
            self.heads.add_module(name, head)

    @property
    def tasks(self) -> tuple:
        """The task names, in order."""
        return tuple(self.heads._modules)

    def forward(self, x):
        h = self.trunk(x)
        return {name: head(h) for name, head in self.heads._modules.items()}
