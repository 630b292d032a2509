"""Layers honour dtype=: float64 layers hold float64 parameters (and compute in float64)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


@pytest.mark.parametrize("make", [
    lambda d: nn.Linear(3, 2, dtype=d),
    lambda d: nn.Conv2d(1, 2, 3, dtype=d),
    lambda d: nn.BatchNorm1d(4, dtype=d),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_take_the_layers_dtype(make, dtype):
    layer = make(dtype)
    params = list(layer.parameters())
    assert params and all(p.dtype == dtype for p in params)


def test_a_float64_linear_layer_computes_in_float64():
    layer = nn.Linear(3, 2, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((4, 3))
    out = layer(cr.tensor(x, dtype=np.float64))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, x @ layer.weight.data + layer.bias.data, rtol=1e-15)
