"""The error an optimiser raises instead of writing non-finite values into parameters."""

from __future__ import annotations

__all__ = ["NonFiniteStepError"]


class NonFiniteStepError(FloatingPointError):
    """A step met a NaN or infinite loss, gradient or update and was not taken.

    Raised by an optimiser's ``step`` before (or instead of) writing the
    non-finite values: the parameters and the optimiser's state are left as
    they were before the step.  The message names the optimiser, the step
    and the offending value; the same facts are attributes.

    Args:
        message: the one-line explanation.
        optimizer: the optimiser's class name.
        step: the number of the ``step`` call (1-based) that failed.
        value: the offending value (the loss, or the first non-finite entry).
    """

    def __init__(self, message: str, optimizer: str = "", step: int = 0,
                 value: float = float("nan")):
        super().__init__(message)
        self.optimizer = optimizer
        self.step = step
        self.value = value
