"""The array API's elementwise functions as chainrule exposes them: names, methods, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd import PRIMITIVES, elementwise, ops

#: Tensor methods that torch.Tensor has under the same name
METHODS = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
           "acosh", "atanh", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "square",
           "abs", "sign", "floor", "ceil", "round", "trunc", "reciprocal", "neg", "negative",
           "positive"]
BINARY_METHODS = ["atan2", "hypot", "logaddexp", "minimum", "maximum"]


@pytest.mark.parametrize("name", elementwise.__all__)
def test_every_function_is_a_top_level_name_and_a_registered_primitive(name):
    assert getattr(cr, name) is getattr(cr.autograd, name)
    assert name in PRIMITIVES
    assert name in cr.__all__


@pytest.mark.parametrize("name", METHODS)
def test_unary_methods_match_torch(name):
    x0 = np.array([0.2, 0.45, 0.7], np.float32) + (1.0 if name == "acosh" else 0.0)
    ours = getattr(cr.tensor(x0), name)()
    theirs = getattr(torch.tensor(x0), name)()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", BINARY_METHODS)
def test_binary_methods_match_torch(name):
    a0, b0 = np.array([0.2, -0.45, 0.7], np.float32), np.array([-0.3, 0.5, 0.7], np.float32)
    ours = getattr(cr.tensor(a0), name)(cr.tensor(b0))
    theirs = getattr(torch.tensor(a0), name)(torch.tensor(b0))
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6, atol=1e-7)


def test_operators_are_the_primitives_themselves():
    # no extra Python call between `a + b` and the primitive (the tape's per-op cost)
    assert cr.Tensor.__add__ is ops.add and cr.Tensor.__matmul__ is ops.matmul
    assert cr.Tensor.sin is elementwise.sin and cr.Tensor.exp is ops.exp


def test_clip_and_clamp_take_tensor_bounds_and_keywords():
    x = cr.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    lo = cr.tensor([-1.0, -1.0, -1.0], requires_grad=True)
    y = cr.clip(x, lo, max=2.0)
    np.testing.assert_array_equal(y.data, [-1.0, 0.5, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(lo.grad, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.detach().clamp(min=0.0).data, [0.0, 0.5, 3.0])


def test_zero_gradient_functions_give_zeros_not_none():
    x = cr.tensor([0.4, 1.6], requires_grad=True)
    (cr.floor(x) + cr.round(x) + cr.sign(x)).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_integer_tensors_go_through_without_gradient():
    t = cr.tensor(np.array([-3, 2, 5]))
    np.testing.assert_array_equal(cr.sign(t).data, [-1, 1, 1])
    np.testing.assert_array_equal(cr.remainder(t, 3).data, [0, 2, 2])
    assert not cr.sign(t).requires_grad


def test_every_declared_operator_has_its_forward():
    from chainrule.autograd import engine

    assert not engine._DECLARED, f"Tensor declares ops nothing defines: {sorted(engine._DECLARED)}"
