"""Parameter norm penalties added to the objective (book §7.1).

The regularised objective is J̃(θ) = J(θ) + α Ω(θ).  A penalty object is a
callable ``model -> scalar Tensor`` that returns α Ω(θ); pass it to
``training.fit(..., regularizers=[L2Penalty(1e-4)])`` or add it to the loss
yourself before ``backward()``.

Which parameters are penalised: by default every parameter with two or more
dimensions (weights); 1-D parameters (biases, batch-norm γ/β, PReLU slopes)
are left out, as the book recommends (§7.1: penalising biases can cause
underfitting).  A parameter opts out on its own with ``p.regularize = False``
(:func:`exclude` does that).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .._backend import namespace_of
from .._backend.kernels import kernel, register
from ..autograd import ops
from ..autograd.engine import Tensor
from ..nn.module import Module
from ..nn.parameter import Parameter

__all__ = ["L1Penalty", "L2Penalty", "MinibatchL2", "exclude", "penalized_parameters"]


def exclude(*params: Parameter) -> tuple:
    """Opt parameters out of penalties and constraints (sets ``p.regularize = False``).

    Example:
        >>> regularization.exclude(model[0].weight)
    """
    for p in params:
        p.regularize = False
    return params


def penalized_parameters(source, exclude_bias: bool = True) -> Iterator[Tensor]:
    """The parameters a penalty or constraint acts on.

    Args:
        source: a Module (its ``parameters()``) or an iterable of parameters.
        exclude_bias: skip parameters with fewer than 2 dimensions.

    Parameters with ``regularize = False`` are always skipped.
    """
    params = source.parameters() if isinstance(source, Module) else source
    for p in params:
        if not getattr(p, "regularize", True):
            continue
        if exclude_bias and p.ndim < 2:
            continue
        yield p


def _check_alpha(alpha: float) -> float:
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"Expected a penalty weight alpha >= 0. Received: alpha={alpha}")
    return float(alpha)


class _Penalty:
    def __init__(self, alpha: float, exclude_bias: bool = True,
                 params: Iterable[Tensor] | None = None):
        self.alpha = _check_alpha(alpha)
        self.exclude_bias = bool(exclude_bias)
        self.params = None if params is None else list(params)

    def _term(self, p: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, model: Module | None = None) -> Tensor:
        source = self.params if self.params is not None else model
        if source is None:
            raise ValueError(
                f"{type(self).__name__} needs a model. Received: model=None and no params="
            )
        total = None
        for p in penalized_parameters(source, self.exclude_bias):
            term = self._term(p)
            total = term if total is None else total + term
        if total is None:
            return Tensor(np.zeros((), np.float32))
        return total * self._scale()

    def _scale(self) -> float:
        return self.alpha

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha}, exclude_bias={self.exclude_bias})"


class L2Penalty(_Penalty):
    """L2 weight decay: α Ω(w) with Ω(w) = ½‖w‖²₂ (book §7.1.1).

    Its gradient is α w, so one SGD step with learning rate ε on
    J + αΩ is the book's eq. 7.5,

        w ← (1 − εα) w − ε ∇J(w),

    the same as ``optim.SGD(weight_decay=α)`` restricted to the penalised
    parameters.

    Args:
        alpha: the penalty weight α ≥ 0.
        exclude_bias: leave parameters with fewer than 2 dimensions alone.
        params: penalise these parameters instead of the model's.

    Example:
        >>> fit(model, X, y, loss="cross_entropy", optimizer=opt,
        ...     regularizers=[L2Penalty(1e-4)])
    """

    def _term(self, p: Tensor) -> Tensor:
        return ops.sum(p * p)

    def _scale(self) -> float:
        return 0.5 * self.alpha


class L1Penalty(_Penalty):
    """L1 penalty: α Ω(w) with Ω(w) = ‖w‖₁ = Σ|wᵢ| (book §7.1.2).

    Its (sub)gradient is α sign(w) (0 at 0), a constant pull toward zero
    that makes solutions sparse.

    Args:
        alpha: the penalty weight α ≥ 0.
        exclude_bias: leave parameters with fewer than 2 dimensions alone.
        params: penalise these parameters instead of the model's.
    """

    def _term(self, p: Tensor) -> Tensor:
        return ops.sum(ops.abs(p))


class MinibatchL2:
    """scikit-learn's L2 penalty α/(2m')·Σ‖W‖² per minibatch of m' rows (book §7.1.1).

    The penalty is divided by the size m' of each minibatch, as in
    scikit-learn's MLPs, so ``alpha`` means what it means there.  Its
    gradient (α/m')·W is added to each weight's gradient in place after
    ``backward`` (nothing enters the graph): the Trainer calls
    :meth:`add_gradient` between ``backward`` and ``optimizer.step`` for a
    regularizer that has one, and logs the returned value as ``penalty``.
    Weights are :func:`penalized_parameters` (biases are left out).

    Args:
        alpha: α ≥ 0 (0 adds nothing).

    Example:
        >>> fit(model, X, y, loss="cross_entropy", optimizer=opt,
        ...     regularizers=[MinibatchL2(1e-4)])
    """

    def __init__(self, alpha: float):
        self.alpha = _check_alpha(alpha)
        self._model = None
        self._weights: list = []

    def add_gradient(self, model, batch_rows: int) -> float:
        """Add (α/m')·W to every ``W.grad``; return the penalty α/(2m')·Σ‖W‖²."""
        if not self.alpha:
            return 0.0
        if model is not self._model:  # the weights of the model last seen
            self._model = model
            self._weights = list(penalized_parameters(model))
        scale = self.alpha / batch_rows
        squares = 0.0
        for w in self._weights:
            xp = namespace_of(w.data)
            squares += float(kernel("sum_of_squares", xp)(xp, w.data))
            if w.grad is not None:
                w.grad += scale * w.data  # in place, in the weight's namespace
        return 0.5 * scale * squares

    def __repr__(self) -> str:
        return f"MinibatchL2(alpha={self.alpha})"


@register("sum_of_squares", "numpy")
def _sum_of_squares_numpy(xp, a):
    """Σ aᵢ² by BLAS (``dot`` of the flat array with itself)."""
    flat = a.reshape(-1)
    return np.dot(flat, flat)


@register("sum_of_squares", "generic")
def _sum_of_squares_generic(xp, a):
    """Σ aᵢ² in the standard (a 0-d array of a's namespace and device)."""
    return xp.sum(a * a)
