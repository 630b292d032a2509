"""cr.autograd.functional against torch.autograd.functional (float64, same inputs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.autograd.functional as TAF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import functional as AF

RNG = np.random.default_rng(14)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4,))


def _cr(x):
    return cr.tensor(x, dtype=np.float64)


def _t(x):
    return torch.tensor(x)


def f_cr(x, y):
    return (F.tanh(x @ y) ** 2).sum() + (x * x).sum() * y.sum()


def f_t(x, y):
    return (torch.tanh(x @ y) ** 2).sum() + (x * x).sum() * y.sum()


def g_cr(x):
    return F.softmax(x, axis=-1) * x


def g_t(x):
    return torch.softmax(x, -1) * x


def _close(a, b):
    np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_vjp_matches_torch():
    v = RNG.standard_normal((3, 4))
    out, (gx,) = AF.vjp(lambda x: g_cr(x), (_cr(A),), _cr(v))
    t_out, (t_gx,) = TAF.vjp(lambda x: g_t(x), (_t(A),), _t(v))
    _close(out, t_out)
    _close(gx, t_gx)


def test_jvp_matches_torch():
    v = RNG.standard_normal((3, 4))
    out, jv = AF.jvp(g_cr, _cr(A), _cr(v))
    t_out, t_jv = TAF.jvp(g_t, _t(A), _t(v))
    _close(out, t_out)
    _close(jv, t_jv)


def test_hvp_and_vhp_match_torch():
    v = (RNG.standard_normal((3, 4)), RNG.standard_normal(4))
    out, hv = AF.hvp(f_cr, (_cr(A), _cr(B)), tuple(_cr(x) for x in v))
    t_out, t_hv = TAF.hvp(f_t, (_t(A), _t(B)), tuple(_t(x) for x in v))
    _close(out, t_out)
    for a, b in zip(hv, t_hv):
        _close(a, b)
    _, vh = AF.vhp(f_cr, (_cr(A), _cr(B)), tuple(_cr(x) for x in v))
    for a, b in zip(vh, t_hv):
        _close(a, b)


def test_hessian_matches_torch_single_and_tuple():
    h = AF.hessian(lambda x: f_cr(x, _cr(B)), _cr(A))
    th = TAF.hessian(lambda x: f_t(x, _t(B)), _t(A))
    assert h.shape == (3, 4, 3, 4)
    _close(h, th)
    hs = AF.hessian(f_cr, (_cr(A), _cr(B)))
    ths = TAF.hessian(f_t, (_t(A), _t(B)))
    for row, trow in zip(hs, ths):
        for a, b in zip(row, trow):
            assert a.shape == tuple(b.shape)
            _close(a, b)


def test_jacobian_matches_torch():
    j = AF.jacobian(g_cr, _cr(A))
    _close(j, TAF.jacobian(g_t, _t(A)))


def test_create_graph_results_are_differentiable():
    x = cr.tensor(A, requires_grad=True, dtype=np.float64)
    v = _cr(RNG.standard_normal((3, 4)))
    _, hv = AF.hvp(lambda a: (a ** 4).sum(), x, v, create_graph=True)
    (g,) = cr.autograd.grad(hv.sum(), x)
    np.testing.assert_allclose(g.data, 24 * A * v.data)


def test_unused_input_gives_zeros_or_raises_when_strict():
    _, (_, gy) = AF.vjp(lambda x, y: (x * 2).sum(), (_cr(A), _cr(B)))
    np.testing.assert_array_equal(gy.data, np.zeros(4))
    with pytest.raises(RuntimeError, match="independent"):
        AF.vjp(lambda x, y: (x * 2).sum(), (_cr(A), _cr(B)), strict=True)


def test_bad_input_is_a_clear_error():
    with pytest.raises(TypeError, match="Expected inputs"):
        AF.hvp(f_cr, (A, B), (A, B))
    with pytest.raises(ValueError, match="shape"):
        AF.hvp(lambda x: (x * x).sum(), _cr(A), _cr(B))
    with pytest.raises(RuntimeError, match="single-element"):
        AF.hessian(g_cr, _cr(A))
