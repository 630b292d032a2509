"""The constraints table of the estimators' hyperparameters, checked in ``fit``.

scikit-learn's rule: ``__init__`` only stores its arguments; ``fit``
checks them all against a declared table and says what was expected and
what was received.  Each entry of the table is a small rule object with a
``check(value) -> bool`` and a ``text`` for the message.
"""

from __future__ import annotations

import numbers

import numpy as np


class Interval:
    """A real (or integer, with ``integer=True``) number between bounds.

    ``closed`` is "both", "left", "right" or "neither"; a bound of None is
    unbounded.
    """

    def __init__(self, low, high, closed="both", integer=False):
        self.low, self.high = low, high
        self.closed = closed
        self.integer = integer

    def check(self, value) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        kind = numbers.Integral if self.integer else numbers.Real
        if not isinstance(value, kind):
            return False
        if not np.isfinite(float(value)):
            return False
        low_open = self.closed in ("right", "neither")
        high_open = self.closed in ("left", "neither")
        if self.low is not None and (value < self.low or (value == self.low and low_open)):
            return False
        return self.high is None or not (
            value > self.high or (value == self.high and high_open)
        )

    @property
    def text(self) -> str:
        kind = "an int" if self.integer else "a float"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{kind} in {left}{low}, {high}{right}"


class Options:
    """One of a fixed set of strings."""

    def __init__(self, *options):
        self.options = options

    def check(self, value) -> bool:
        return isinstance(value, str) and value in self.options

    @property
    def text(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


class Infinity:
    """Exactly ``inf`` (``np.inf`` or ``math.inf``): "never"."""

    text = "inf"

    def check(self, value) -> bool:
        return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
                and value == np.inf)


class Boolean:
    """True or False (NumPy booleans too)."""

    text = "a bool"

    def check(self, value) -> bool:
        return isinstance(value, (bool, np.bool_))


class AnyOf:
    """Satisfies at least one of several rules."""

    def __init__(self, *rules):
        self.rules = rules

    def check(self, value) -> bool:
        return any(rule.check(value) for rule in self.rules)

    @property
    def text(self) -> str:
        return " or ".join(rule.text for rule in self.rules)


class HiddenSizes:
    """A sequence of positive ints (one int means one hidden layer)."""

    text = "a tuple of positive ints, e.g. (100,) or (64, 32)"

    def check(self, value) -> bool:
        if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
            return int(value) > 0
        try:
            sizes = list(value)
        except TypeError:
            return False
        return all(
            isinstance(s, (numbers.Integral, np.integer)) and not isinstance(s, bool)
            and int(s) > 0 for s in sizes
        )


class RandomState:
    """None, a non-negative int, or a ``numpy.random.RandomState``."""

    text = "None, an int >= 0 or a numpy.random.RandomState"

    def check(self, value) -> bool:
        if value is None or isinstance(value, np.random.RandomState):
            return True
        return Interval(0, 2**32 - 1, integer=True).check(value)


def check_params(estimator, table: dict) -> None:
    """Raise ValueError naming the first hyperparameter that breaks ``table``."""
    for name, rule in table.items():
        value = getattr(estimator, name)
        if not rule.check(value):
            raise ValueError(
                f"{type(estimator).__name__}: expected {name} to be {rule.text}. "
                f"Received: {name}={value!r}"
            )


def hidden_sizes(value) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of ints (an int means one layer)."""
    if isinstance(value, (numbers.Integral, np.integer)):
        return (int(value),)
    return tuple(int(s) for s in value)
