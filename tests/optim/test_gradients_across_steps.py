"""Gradients stay correct across optimiser steps.

The optimiser updates ``p.data`` in place and leaves gradients to
backward; these tests pin that the next gradients (first after a step,
tied weights, accumulation without ``zero_grad``, ``Module.zero_grad``,
another leaf sharing the data array) equal those of fresh leaves.
"""

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)


def _reference_grads(weight, bias, x, y, uses=1):
    """The same gradients from leaves that no optimiser has touched."""
    w = cr.tensor(weight.copy(), requires_grad=True)
    b = cr.tensor(bias.copy(), requires_grad=True)
    _loss(x, y, w, b, uses).backward()
    return w.grad, b.grad


def _loss(x, y, w, b, uses):
    # with uses=2 the same (4, 4) weight is applied twice: a tied weight
    h = F.linear(cr.tensor(x), w, b)
    if uses == 2:
        h = F.linear(F.relu(h), w, b)
    return F.cross_entropy(h[:, :3], y)


def _layer(seed=0):
    cr.manual_seed(seed)
    return nn.Linear(4, 4)


def test_first_backward_after_step_is_right():
    lin = _layer()
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    x, y = _data()
    _loss(x, y, lin.weight, lin.bias, 1).backward()
    opt.step()
    opt.zero_grad()
    w_ref, b_ref = _reference_grads(lin.weight.data, lin.bias.data, x, y)
    _loss(x, y, lin.weight, lin.bias, 1).backward()
    np.testing.assert_allclose(lin.weight.grad, w_ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(lin.bias.grad, b_ref, rtol=1e-6, atol=1e-7)


def test_weight_used_twice_in_one_graph():
    lin = _layer(1)
    opt = cr.optim.Adam(lin.parameters(), lr=0.01)
    x, y = _data(1)
    for _ in range(3):
        w_ref, b_ref = _reference_grads(lin.weight.data, lin.bias.data, x, y, uses=2)
        _loss(x, y, lin.weight, lin.bias, 2).backward()
        np.testing.assert_allclose(lin.weight.grad, w_ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(lin.bias.grad, b_ref, rtol=1e-5, atol=1e-7)
        opt.step()
        opt.zero_grad()


def test_gradients_accumulate_without_zero_grad():
    lin = _layer(2)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    x, y = _data(2)
    w_ref, b_ref = _reference_grads(lin.weight.data, lin.bias.data, x, y)
    for _ in range(3):
        _loss(x, y, lin.weight, lin.bias, 1).backward()
    np.testing.assert_allclose(lin.weight.grad, 3 * w_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lin.bias.grad, 3 * b_ref, rtol=1e-5, atol=1e-6)
    opt.step()
    np.testing.assert_allclose(lin.bias.data, -0.3 * b_ref, rtol=1e-5, atol=1e-6)


def test_model_zero_grad_works_as_well():
    lin = _layer(3)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1)
    x, y = _data(3)
    for _ in range(2):
        w_ref, _ = _reference_grads(lin.weight.data, lin.bias.data, x, y)
        _loss(x, y, lin.weight, lin.bias, 1).backward()
        np.testing.assert_allclose(lin.weight.grad, w_ref, rtol=1e-6, atol=1e-7)
        opt.step()
        lin.zero_grad()


def test_another_leaf_sharing_the_data_array_gets_its_own_gradient():
    lin = _layer(4)
    cr.optim.SGD(lin.parameters(), lr=0.1)
    x, y = _data(4)
    w_ref, b_ref = _reference_grads(lin.weight.data, lin.bias.data, x, y)
    alias = cr.tensor(lin.weight.data, requires_grad=True)
    assert alias.data is lin.weight.data
    _loss(x, y, alias, lin.bias, 1).backward()
    np.testing.assert_allclose(alias.grad, w_ref, rtol=1e-6, atol=1e-7)
    assert lin.weight.grad is None
    np.testing.assert_allclose(lin.bias.grad, b_ref, rtol=1e-6, atol=1e-7)
    # and the parameter's own next gradient is still right
    _loss(x, y, lin.weight, lin.bias, 1).backward()
    np.testing.assert_allclose(lin.weight.grad, w_ref, rtol=1e-6, atol=1e-7)
