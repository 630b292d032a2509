"""Parameter: a leaf Tensor that a Module owns and an optimiser updates."""

from __future__ import annotations

from ..autograd.engine import Tensor


class Parameter(Tensor):
    """A trainable leaf tensor (``requires_grad=True`` by default).

    Backward puts the gradient in ``grad``, a plain array that belongs to
    this parameter alone.  Code that changes a parameter should write
    *into* ``data`` (``p.data[...] = x``), so that arrays taken from it
    earlier see the change; :meth:`Module.load_state_dict` does.
    """

    # ``regularize``: False opts this parameter out of weight penalties and
    # constraints (see ``chainrule.regularization.exclude``).
    __slots__ = ("regularize",)

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)
        self.regularize = True

    def __repr__(self):
        return "Parameter(" + super().__repr__() + ")"
