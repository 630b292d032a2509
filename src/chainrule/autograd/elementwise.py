"""The array API standard's elementwise functions as differentiable primitives.

Each function is written once against the namespace ``xp`` it receives (any
array library, or chainrule's differentiable namespace in a
``create_graph=True`` backward, which makes every vjp differentiable again);
its derivative is given beside it.  Masks (which operand of ``minimum`` won,
where ``clip`` cut) are computed on the raw data and are constants of the
graph.  Functions that are constant between jumps (``sign``, ``floor``,
``ceil``, ``round``, ``trunc``, ``floor_divide``) have a zero gradient, as in
PyTorch.  ``add``, ``subtract`` (``sub``), ``multiply`` (``mul``), ``divide``
(``div``), ``pow``, ``negative`` (``neg``), ``exp``, ``log``, ``sqrt``,
``abs`` and ``tanh`` are in ``ops.py``.
"""

from __future__ import annotations

import math

from .._backend import device_of, from_host, namespace_of, to_host
from .engine import Tensor, primitive

__all__ = [
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "clip", "copysign",
    "cos", "cosh", "expm1", "floor", "floor_divide", "hypot", "log1p", "log2", "log10",
    "logaddexp", "maximum", "minimum", "positive", "reciprocal", "remainder", "round", "sign",
    "sin", "sinh", "square", "tan", "trunc",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _ns(*values):
    """The raw namespace of the first array among ``values`` (masks are computed there)."""
    for v in values:
        if hasattr(v, "shape"):
            return namespace_of(v)
    return namespace_of(values[0])


def _plain(*values):
    """The arrays behind ``values`` (a Tensor's data), in the namespace of the first.

    Masks are computed from them; a NumPy constant meeting another library's
    Tensor in a recorded backward is moved there (as the op wrapper moves it).
    """
    arrays = [v.data if isinstance(v, Tensor) else v for v in values]
    ns = _ns(*arrays)
    like = next(a for a in arrays if hasattr(a, "shape"))
    return [from_host(to_host(a), ns, device_of(like))
            if hasattr(a, "shape") and namespace_of(a) is not ns else a for a in arrays]


def _zero(xp, g, need):
    """The vjp of a function constant between jumps: zeros for every input needed."""
    return tuple(xp.zeros_like(g) if n else None for n in need)


# --- trigonometric ----------------------------------------------------------


@primitive
def sin(xp, a):
    """sin a; derivative cos a."""
    return xp.sin(a), lambda g, need: (g * xp.cos(a),)


@primitive
def cos(xp, a):
    """cos a; derivative -sin a."""
    return xp.cos(a), lambda g, need: (-(g * xp.sin(a)),)


@primitive
def tan(xp, a):
    """tan a; derivative 1 + tan² a."""
    out = xp.tan(a)
    return out, lambda g, need: (g * (1 + out * out),)


@primitive
def asin(xp, a):
    """arcsin a on [-1, 1]; derivative 1/√(1 - a²)."""
    return xp.asin(a), lambda g, need: (g / xp.sqrt(1 - a * a),)


@primitive
def acos(xp, a):
    """arccos a on [-1, 1]; derivative -1/√(1 - a²)."""
    return xp.acos(a), lambda g, need: (-(g / xp.sqrt(1 - a * a)),)


@primitive
def atan(xp, a):
    """arctan a; derivative 1/(1 + a²)."""
    return xp.atan(a), lambda g, need: (g / (1 + a * a),)


@primitive
def atan2(xp, a, b):
    """The angle of the point (b, a) (``atan2(y, x)``); gradient (b, -a)/(a² + b²)."""

    def vjp(g, need):
        r = a * a + b * b
        return (g * b / r if need[0] else None, -(g * a / r) if need[1] else None)

    return xp.atan2(a, b), vjp


# --- hyperbolic --------------------------------------------------------------


@primitive
def sinh(xp, a):
    """sinh a; derivative cosh a."""
    return xp.sinh(a), lambda g, need: (g * xp.cosh(a),)


@primitive
def cosh(xp, a):
    """cosh a; derivative sinh a."""
    return xp.cosh(a), lambda g, need: (g * xp.sinh(a),)


@primitive
def asinh(xp, a):
    """arsinh a; derivative 1/√(a² + 1)."""
    return xp.asinh(a), lambda g, need: (g / xp.sqrt(a * a + 1),)


@primitive
def acosh(xp, a):
    """arcosh a for a ≥ 1; derivative 1/√(a² - 1)."""
    return xp.acosh(a), lambda g, need: (g / xp.sqrt(a * a - 1),)


@primitive
def atanh(xp, a):
    """artanh a on (-1, 1); derivative 1/(1 - a²)."""
    return xp.atanh(a), lambda g, need: (g / (1 - a * a),)


# --- exponentials and logarithms ---------------------------------------------


@primitive
def expm1(xp, a):
    """exp(a) - 1, exact for small a; derivative exp a = expm1(a) + 1."""
    out = xp.expm1(a)
    return out, lambda g, need: (g * (out + 1),)


@primitive
def log1p(xp, a):
    """log(1 + a), exact for small a; derivative 1/(1 + a)."""
    return xp.log1p(a), lambda g, need: (g / (1 + a),)


@primitive
def log2(xp, a):
    """Base-2 logarithm; derivative 1/(a ln 2)."""
    return xp.log2(a), lambda g, need: (g / (a * _LN2),)


@primitive
def log10(xp, a):
    """Base-10 logarithm; derivative 1/(a ln 10)."""
    return xp.log10(a), lambda g, need: (g / (a * _LN10),)


@primitive
def logaddexp(xp, a, b):
    """log(exp a + exp b) without overflow; gradient (exp(a - out), exp(b - out))."""
    out = xp.logaddexp(a, b)

    def vjp(g, need):
        return (g * xp.exp(a - out) if need[0] else None,
                g * xp.exp(b - out) if need[1] else None)

    return out, vjp


# --- powers, signs, rounding ----------------------------------------------------


@primitive
def square(xp, a):
    """a²; derivative 2a."""
    return a * a, lambda g, need: (g * (2 * a),)


@primitive
def reciprocal(xp, a):
    """1/a; derivative -1/a²."""
    out = 1.0 / a
    return out, lambda g, need: (-(g * out * out),)


@primitive
def positive(xp, a):
    """+a (a copy); derivative 1."""
    return +a, lambda g, need: (g,)


@primitive
def hypot(xp, a, b):
    """√(a² + b²) without overflow; gradient (a, b)/out."""
    out = xp.hypot(a, b)

    def vjp(g, need):
        return (g * a / out if need[0] else None, g * b / out if need[1] else None)

    return out, vjp


@primitive
def copysign(xp, a, b):
    """|a| with the sign of b; derivative sign(a)·sign(out) in a, 0 in b."""
    out = xp.copysign(a, b)

    def vjp(g, need):
        x, y = _plain(out, a)
        ns = _ns(x)
        return (g * (ns.sign(x) * ns.sign(y)) if need[0] else None,
                xp.zeros_like(g) if need[1] else None)

    return out, vjp


@primitive
def remainder(xp, a, b):
    """a - b·floor(a/b) (sign of b, as Python's %); gradient (1, -floor(a/b))."""

    def vjp(g, need):
        x, y = _plain(a, b)
        quotient = _ns(x, y).floor_divide(x, y)
        return (g if need[0] else None, -(g * quotient) if need[1] else None)

    return xp.remainder(a, b), vjp


@primitive
def floor_divide(xp, a, b):
    """floor(a/b); zero gradient."""
    return xp.floor_divide(a, b), lambda g, need: _zero(xp, g, need)


@primitive
def sign(xp, a):
    """-1, 0 or 1; zero gradient."""
    return xp.sign(a), lambda g, need: _zero(xp, g, need)


@primitive
def floor(xp, a):
    """Largest integer ≤ a; zero gradient."""
    return xp.floor(a), lambda g, need: _zero(xp, g, need)


@primitive
def ceil(xp, a):
    """Smallest integer ≥ a; zero gradient."""
    return xp.ceil(a), lambda g, need: _zero(xp, g, need)


@primitive
def round(xp, a):
    """Nearest integer, halves to even; zero gradient."""
    return xp.round(a), lambda g, need: _zero(xp, g, need)


@primitive
def trunc(xp, a):
    """The integer part (towards zero); zero gradient."""
    return xp.trunc(a), lambda g, need: _zero(xp, g, need)


# --- comparisons that choose a value ----------------------------------------------


def _choose(xp, g, first, tie):
    """``g`` where ``first``, ``g/2`` where ``tie`` (split as PyTorch does), 0 elsewhere."""
    return xp.where(first, g, xp.where(tie, g * 0.5, 0.0))


@primitive
def minimum(xp, a, b):
    """The smaller of a and b; the gradient goes to the smaller, halved at ties."""

    def vjp(g, need):
        x, y = _plain(a, b)
        tie = x == y
        return (_choose(xp, g, x < y, tie) if need[0] else None,
                _choose(xp, g, y < x, tie) if need[1] else None)

    return xp.minimum(a, b), vjp


@primitive
def maximum(xp, a, b):
    """The larger of a and b; the gradient goes to the larger, halved at ties."""

    def vjp(g, need):
        x, y = _plain(a, b)
        tie = x == y
        return (_choose(xp, g, x > y, tie) if need[0] else None,
                _choose(xp, g, y > x, tie) if need[1] else None)

    return xp.maximum(a, b), vjp


@primitive
def clip(xp, a, min=None, max=None):
    """a limited to [min, max] (either bound None: no limit), = minimum(maximum(a, min), max).

    The gradient goes to ``a`` where min ≤ a ≤ max, to ``min`` where a is
    below it, to ``max`` where it is cut from above (as ``torch.clamp``).
    """
    out = a
    if min is not None:
        out = xp.maximum(out, min)
    if max is not None:
        out = xp.minimum(out, max)

    def vjp(g, need):
        need = (*need, False, False)  # the bounds may be left out
        x, low, high = _plain(a, min, max)
        ns = _ns(x)
        above = None if high is None else (x if low is None else ns.maximum(x, low)) > high
        below = None if low is None else x < low
        if below is not None and above is not None:
            below = below & ~above
        cut = below if above is None else above if below is None else below | above
        return ((g if cut is None else xp.where(cut, 0.0, g)) if need[0] else None,
                xp.where(below, g, 0.0) if need[1] else None,
                xp.where(above, g, 0.0) if need[2] else None)

    return out, vjp
