"""Finite-difference cases for ``linear`` with a fused activation.

Loaded by ``test_gradcheck.py``; ``test_fused_activations.py`` runs them on
both kernel paths.  The large cases (≥ 131072 outputs) take the
compiled kernels where ``activation_kernels.COMPILED`` uses them.
"""

from __future__ import annotations

from gradcheck_cases import N, case, op

linear = op("linear")


def _fused(activation):
    def fn(x, w, b):
        return linear(x, w, b, activation=activation)

    return fn


for _act in ("relu", "tanh", "sigmoid"):
    case("linear", _fused(_act), N((5, 3)), (3, 4), (4,), id=f"linear-{_act}")
    case("linear", _fused(_act), N((128, 3)), (3, 1100), (1100,), id=f"linear-{_act}-large")
case("linear", lambda x, w: linear(x, w, activation="tanh"), (2, 5, 3), (3, 4),
     id="linear-tanh-3d-nobias")
