"""Reduced runs of the issue-14 examples: they still show what they claim."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gradient_norm_example_logs_curvature():
    """gᵀg ends above its lowest value while the validation error keeps falling (Fig. 8.1)."""
    ex = _load("gradient_norm_growth")
    h = ex.run(epochs=30, eigenvalues=False)
    g = np.array(h["grad_norm_sq"])
    err = np.array(h["val_error"])
    low = int(np.argmin(g))
    assert low < len(g) - 5
    assert g[-1] > 1.2 * g[low]  # the gradient norm grew after its minimum ...
    assert err[-1] < err[low]  # ... while the error fell
    assert np.all(np.isfinite(h["gHg"])) and np.all(np.array(h["predicted_change"]) < 0)


def test_curvature_methods_beat_gradient_descent_per_iteration():
    ex = _load("second_order_methods")
    final = {name: ex.run(name, 40)["loss"][-1] for name in ex.METHODS}
    for name in ("Newton (Hessian-free)", "conjugate gradient", "BFGS", "L-BFGS"):
        assert final[name] < 0.5 * final["gradient descent"], (name, final)
