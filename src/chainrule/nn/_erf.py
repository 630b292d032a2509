"""The error function erf as a differentiable primitive (the exact GELU needs it).

The array API standard has no ``erf``, so it is computed here: on NumPy by
SciPy's ``scipy.special.erf`` when SciPy is installed, elsewhere (and on
NumPy without SciPy) by the composition below, accurate to a few units in
the last place of float64:

- |x| < 2: the Maclaurin series erf(x) = 2/√π Σₙ (-1)ⁿ x²ⁿ⁺¹ / (n! (2n+1)),
  40 terms (the terms fall below 1e-18 before n = 40);
- |x| ≥ 2: erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
  Laplace's continued fraction, 60 levels evaluated from the bottom up.

d erf(x)/dx = 2/√π e^{-x²}.
"""

from __future__ import annotations

import math

from ..autograd.engine import primitive

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SERIES_TERMS = 40
_FRACTION_LEVELS = 60


def _scipy_erf():
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - SciPy comes with scikit-learn
        return None
    return erf


def _erf_composed(xp, x):
    """erf(x) from standard array-API operations (module docstring)."""
    a = xp.abs(x)
    small = xp.where(a < 2.0, a, xp.zeros_like(a))
    # Maclaurin series, Horner form in s = small²
    s = small * small
    acc = xp.zeros_like(small)
    for n in range(_SERIES_TERMS, -1, -1):
        coef = (-1.0) ** n / (math.factorial(n) * (2 * n + 1))
        acc = acc * s + coef
    series = _TWO_OVER_SQRT_PI * small * acc
    # continued fraction for erfc at |x| >= 2
    big = xp.where(a >= 2.0, a, xp.full_like(a, 2.0))
    frac = big
    for k in range(_FRACTION_LEVELS, 0, -1):
        frac = big + (k / 2.0) / frac
    tail = 1.0 - xp.exp(-big * big) / (math.sqrt(math.pi) * frac)
    out = xp.where(a < 2.0, series, tail)
    return xp.where(x < 0, -out, out)


@primitive
def erf(xp, a):
    """The error function erf(a) = 2/√π ∫₀ᵃ e^{-t²} dt."""
    if getattr(xp, "differentiable", False):  # create_graph: the op itself, on Tensors
        out = erf(a)
    else:
        out = _erf_composed(xp, a)
    return out, _erf_vjp(xp, a)


def _erf_vjp(xp, a):
    def vjp(g, need):
        return (g * (_TWO_OVER_SQRT_PI * xp.exp(-(a * a))),)

    return vjp


@erf.variant("numpy")
def _erf_numpy(xp, a):
    fast = _scipy_erf()
    out = fast(a) if fast is not None else _erf_composed(xp, a)
    return out, _erf_vjp(xp, a)
