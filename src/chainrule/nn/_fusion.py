"""Linear layers fused with the activation that follows them in a Sequential.

``Sequential(Linear, ReLU, ...)`` computes g(x W + b) as one op
(``ops.linear(..., activation=)``): bias and activation run the activation
kernels on the product, the backward g'·(incoming gradient) from the
output, with one tape entry instead of two.  A pair is fused only when
both are exactly :class:`~chainrule.nn.Linear` and one of the activation
modules below, and neither has forward hooks (a hook sees the unfused
outputs); the numbers are the unfused ones.
"""

from __future__ import annotations

from .activation import ReLU, Sigmoid, Tanh
from .linear import Linear

#: activation module class -> the name ``ops.linear`` takes
FUSABLE: dict[type, str] = {ReLU: "relu", Tanh: "tanh", Sigmoid: "sigmoid"}


def plan(modules: tuple) -> tuple:
    """The steps of a Sequential: ``(module, None)`` or ``(linear, (activation, name))``."""
    steps: list[tuple] = []
    i = 0
    while i < len(modules):
        m = modules[i]
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        name = FUSABLE.get(type(nxt))
        if type(m) is Linear and name is not None:
            steps.append((m, (nxt, name)))
            i += 2
        else:
            steps.append((m, None))
            i += 1
    return tuple(steps)


def run(steps: tuple, x):
    """Run ``plan``'s steps on ``x``; a fused pair with hooks runs unfused."""
    for m, fused in steps:
        if fused is None:
            x = m(x)
            continue
        act, name = fused
        if m.__dict__.get("_forward_hooks") or act.__dict__.get("_forward_hooks"):
            x = act(m(x))
        else:
            x = m.forward(x, activation=name)
    return x
