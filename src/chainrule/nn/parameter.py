"""Parameter: a leaf Tensor that a Module owns and an optimiser updates."""

from __future__ import annotations

from ..autograd.engine import Tensor


class Parameter(Tensor):
    """A trainable leaf tensor (``requires_grad=True`` by default).

    An optimiser may move ``data`` and the gradient into flat contiguous
    buffers shared by all parameters of a model: ``data`` then becomes a
    view into the flat parameter buffer, and ``_grad_buf`` a view into the
    flat gradient buffer that backward writes into.  Code that changes a
    parameter should write *into* ``data`` (``p.data[...] = x``) so the
    view stays shared; :meth:`Module.load_state_dict` does.
    """

    # ``regularize``: False opts this parameter out of weight penalties and
    # constraints (see ``chainrule.regularization.exclude``).
    __slots__ = ("regularize",)

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)
        self.regularize = True

    def __repr__(self):
        return "Parameter(" + super().__repr__() + ")"
