"""Finite-difference cases for the array API's elementwise functions (``elementwise.py``).

Inputs stay inside each function's domain and away from its kinks and jumps
(a central difference across a jump of ``floor`` or a tie of ``minimum`` is
not a derivative): explicit arrays for the bounded domains, ``P`` for the
logarithms, ``N`` away from 0 where the sign matters, ``D`` against a normal
draw for ``minimum``/``maximum`` (no ties).
"""

from __future__ import annotations

import numpy as np
from gradcheck_cases import D, N, P, case, const, op

#: in (-1, 1), not too close to the ends (asin, acos, atanh)
UNIT = np.array([[-0.8, -0.45, -0.1], [0.15, 0.5, 0.75]])
#: away from integers and halves (floor, ceil, round, trunc)
OFF_GRID = np.array([[-2.7, -1.3, -0.2], [0.35, 1.15, 2.6]])

for _name in ("sin", "cos", "sinh", "cosh", "asinh", "atan", "expm1", "square", "positive"):
    case(_name, op(_name), (2, 3))
case("tan", op("tan"), np.array([[-1.2, -0.6, 0.0], [0.3, 0.9, 1.3]]))
for _name in ("asin", "acos", "atanh"):
    case(_name, op(_name), UNIT)
case("acosh", op("acosh"), np.array([[1.2, 1.6, 2.5], [3.0, 4.5, 7.0]]))
for _name in ("log1p", "log2", "log10"):
    case(_name, op(_name), P((2, 3)))
case("log1p", op("log1p"), np.array([-0.6, -1e-3, 1e-4, 0.4]), id="log1p-near-0")
case("expm1", op("expm1"), np.array([-1e-4, 1e-5, 0.3]), id="expm1-near-0")
case("reciprocal", op("reciprocal"), N((2, 3)))

for _name in ("atan2", "hypot", "logaddexp"):
    case(_name, op(_name), (2, 3), (2, 3))
    case(_name, op(_name), (4, 1), (1, 3), id=f"{_name}-broadcast")
case("atan2", lambda a: op("atan2")(a, -2.0), (3,), id="atan2-constant-x")
case("hypot", lambda b: op("hypot")(3.0, b), (3,), id="hypot-constant-first")
case("logaddexp", op("logaddexp"), np.array([-40.0, 0.0, 40.0]), np.array([40.0, 0.5, -40.0]),
     id="logaddexp-far-apart")
case("copysign", op("copysign"), N((2, 3)), N((2, 3)))
case("remainder", op("remainder"), (2, 3), P((2, 3)))
case("remainder", op("remainder"), (2, 3), N((3,)), id="remainder-negative-divisor-broadcast")
case("floor_divide", op("floor_divide"), (2, 3), P((2, 3)))

for _name in ("floor", "ceil", "round", "trunc", "sign"):
    case(_name, op(_name), OFF_GRID)

for _name in ("minimum", "maximum"):
    case(_name, op(_name), D((2, 3)), (2, 3))
    case(_name, op(_name), D((2, 3)), (3,), id=f"{_name}-broadcast")
    case(_name, lambda a, _n=_name: op(_n)(a, const(0.05)), D((2, 3)), id=f"{_name}-constant")
case("clip", lambda a: op("clip")(a, -0.55, 0.55), D((3, 4)), id="clip-scalars")
case("clip", lambda a: op("clip")(a, None, 0.25), D((3, 4)), id="clip-max-only")
case("clip", lambda a: op("clip")(a, -0.25), D((3, 4)), id="clip-min-only")
case("clip", op("clip"), D((3, 4)), np.array([-0.42, -0.07, 0.13, 0.31]),
     np.array([[0.02], [0.37], [0.61]]), id="clip-tensor-bounds")
case("clip", op("clip"), D((2, 3)), np.full((2, 3), 0.33), np.full((2, 3), -0.22),
     id="clip-min-above-max")
