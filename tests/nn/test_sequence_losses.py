"""F.cross_entropy with ignore_index and (N, C, T) logits, and gradient clipping,
against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)], ids=["NC", "NCT"])
@pytest.mark.parametrize("ignore_index", [-100, 0])
def test_cross_entropy_ignore_index(ignore_index, shape, smoothing, reduction):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape)
    tshape = (shape[0],) + shape[2:]
    target = rng.integers(0, shape[1], tshape)
    target.flat[[1, 4]] = ignore_index  # padding positions
    z = cr.tensor(logits, requires_grad=True, dtype=np.float64)
    tz = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(z, target, label_smoothing=smoothing, reduction=reduction,
                           ignore_index=ignore_index)
    tloss = TF.cross_entropy(tz, torch.as_tensor(target), label_smoothing=smoothing,
                             reduction=reduction, ignore_index=ignore_index)
    np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), rtol=1e-12, atol=1e-14)
    u = rng.standard_normal(tloss.shape)
    loss.backward(u if reduction == "none" else None)
    tloss.backward(torch.tensor(u) if reduction == "none" else None)
    np.testing.assert_allclose(z.grad, tz.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_all_ignored_is_nan_and_bad_ids_still_refused():
    z = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    with np.errstate(invalid="ignore"):
        assert np.isnan(F.cross_entropy(z, np.array([-100, -100])).item())
    with pytest.raises(IndexError, match="out of range"):
        F.cross_entropy(z, np.array([-100, 3]))


def _params(rng, shapes, dtype=np.float64):
    ps = [nn.Parameter(rng.standard_normal(s), dtype=dtype) for s in shapes]
    tps = [torch.nn.Parameter(torch.tensor(p.data)) for p in ps]
    for p, tp in zip(ps, tps):
        g = rng.standard_normal(p.shape) * 3
        p.grad = g.copy()
        tp.grad = torch.tensor(g)
    return ps, tps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_equals_torch(max_norm, norm_type):
    ps, tps = _params(np.random.default_rng(1), [(3, 4), (4,), (2, 2, 2)])
    total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(float(total), ttotal.item(), rtol=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_nonfinite_norm():
    ps, tps = _params(np.random.default_rng(2), [(5,), (2, 3)])
    nn.utils.clip_grad_value_(ps, 0.7)
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())
    ps[0].grad[0] = np.inf
    with pytest.raises(RuntimeError, match="finite"):
        nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    p = nn.Parameter(np.ones(2))
    assert float(nn.utils.clip_grad_norm_(p, 1.0)) == 0.0  # no gradient yet
