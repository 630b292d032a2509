"""Reduced runs of the CNN examples: they still clear their bars."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import chainrule as cr

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cnn_on_mnist1d_reaches_92_percent():
    ex = _load("cnn_mnist1d")
    data = ex.load()
    assert data[0].shape == (4000, 1, 40) and data[2].shape == (1000, 1, 40)
    cr.manual_seed(0)
    # half the example's epochs; the full run reaches about 95%
    acc = ex.train(ex.cnn(), data, epochs=15)
    assert acc >= 0.92


def test_cnn_beats_mlp_of_similar_size_on_digits():
    ex = _load("cnn_digits")
    data = ex.load()
    accs, sizes = [], []
    for build in (ex.cnn, ex.mlp):
        cr.manual_seed(0)
        model = build()
        sizes.append(ex.n_params(model))
        # about a quarter of the example's epochs
        accs.append(ex.train(model, data, epochs=8))
    assert abs(sizes[0] - sizes[1]) < 0.1 * sizes[1]
    assert accs[0] > accs[1]
    assert accs[0] >= 0.95
