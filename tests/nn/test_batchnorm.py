"""BatchNorm1d / BatchNorm2d against torch.nn over several training steps."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

CASES = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (16, 5)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 4, 7)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (5, 3, 4, 6)),
]


def _close(a, b, scale=1.0):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * scale)


def _step_both(ours, theirs, x, g):
    xt = cr.tensor(x, requires_grad=True)
    out = ours(xt)
    out.backward(g)
    xr = torch.tensor(x, requires_grad=True)
    out_r = theirs(xr)
    out_r.backward(torch.tensor(g))
    return xt, out, xr, out_r


@pytest.mark.parametrize("ours_cls, torch_cls, shape", CASES)
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_training_steps_match_torch(ours_cls, torch_cls, shape, momentum):
    rng = np.random.default_rng(1)
    c = shape[1]
    ours = ours_cls(c, momentum=momentum)
    theirs = torch_cls(c, momentum=momentum)
    for _ in range(4):
        x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        xt, out, xr, out_r = _step_both(ours, theirs, x, g)
        _close(out.data, out_r.detach().numpy(), 3)
        _close(xt.grad, xr.grad.numpy())
        _close(ours.weight.grad, theirs.weight.grad.numpy(), 10)
        _close(ours.bias.grad, theirs.bias.grad.numpy(), 10)
        _close(ours.running_mean, theirs.running_mean.numpy())
        _close(ours.running_var, theirs.running_var.numpy())
        assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked)
        # the same SGD step on gamma and beta so later steps use new values
        with torch.no_grad():
            for p, q in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
                p.data -= 0.5 * p.grad
                q -= 0.5 * q.grad
                p.grad = None
                q.grad = None
    # eval mode uses the running statistics
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    xt, out, xr, out_r = _step_both(ours, theirs, x, g)
    _close(out.data, out_r.detach().numpy(), 3)
    _close(xt.grad, xr.grad.numpy())
    _close(ours.weight.grad, theirs.weight.grad.numpy(), 10)
    _close(ours.bias.grad, theirs.bias.grad.numpy(), 10)
    # eval does not touch the running statistics
    _close(ours.running_mean, theirs.running_mean.numpy())
    assert int(ours.num_batches_tracked) == 4


@pytest.mark.parametrize("affine, track", [(False, True), (True, False), (False, False)])
def test_options_match_torch(affine, track):
    rng = np.random.default_rng(2)
    ours = nn.BatchNorm2d(3, affine=affine, track_running_stats=track)
    theirs = torch.nn.BatchNorm2d(3, affine=affine, track_running_stats=track)
    assert len(list(ours.parameters())) == (2 if affine else 0)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        x = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
        g = rng.standard_normal(x.shape).astype(np.float32)
        xt, out, xr, out_r = _step_both(ours, theirs, x, g)
        _close(out.data, out_r.detach().numpy(), 3)
        _close(xt.grad, xr.grad.numpy())
    if not track:
        assert ours.running_mean is None
        assert "running_mean" not in ours.state_dict()


def test_state_dict_has_running_stats_and_roundtrips():
    bn = nn.BatchNorm1d(4)
    ref = torch.nn.BatchNorm1d(4)
    assert list(bn.state_dict()) == list(ref.state_dict())
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    bn(cr.tensor(x))
    sd = bn.state_dict()
    fresh = nn.BatchNorm1d(4)
    fresh.load_state_dict(sd)
    for key, value in sd.items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)
    fresh.eval()
    bn.eval()
    np.testing.assert_array_equal(fresh(cr.tensor(x)).data, bn(cr.tensor(x)).data)


def test_load_torch_state_dict():
    ref = torch.nn.BatchNorm1d(3)
    ref(torch.randn(10, 3) * 2 + 1)
    bn = nn.BatchNorm1d(3)
    bn.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    bn.eval()
    ref.eval()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    _close(bn(cr.tensor(x)).data, ref(torch.tensor(x)).detach().numpy())


def test_batch_of_one_in_training_raises_clear_error():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(cr.tensor(np.ones((1, 3), np.float32)))
    bn.eval()
    assert bn(cr.tensor(np.ones((1, 3), np.float32))).shape == (1, 3)
    # (1, C, L) with L > 1 has several values per channel: allowed, as in torch
    assert nn.BatchNorm1d(3)(cr.tensor(np.ones((1, 3, 2), np.float32))).shape == (1, 3, 2)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"expects input of shape.*shape \(4, 3, 2, 2\)"):
        nn.BatchNorm1d(3)(cr.tensor(np.ones((4, 3, 2, 2), np.float32)))
    with pytest.raises(ValueError, match="channels on axis 1"):
        nn.BatchNorm2d(3)(cr.tensor(np.ones((4, 2, 2, 2), np.float32)))
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)


def test_in_a_network_the_gradient_flows_to_earlier_layers():
    net = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    x = np.random.default_rng(0).standard_normal((10, 5)).astype(np.float32)
    net(cr.tensor(x)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    # the batch mean is subtracted, so the first bias gets (almost) no gradient
    assert np.abs(net[0].bias.grad).max() < 1e-5


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3), (3, 2, 2, 3)])
def test_fused_primitive_matches_float64_finite_differences(shape):
    from chainrule.nn.batchnorm import batch_norm_train

    rng = np.random.default_rng(3)
    c = shape[1]
    x = cr.tensor(rng.standard_normal(shape), requires_grad=True, dtype=np.float64)
    w = cr.tensor(rng.standard_normal(c), requires_grad=True, dtype=np.float64)
    b = cr.tensor(rng.standard_normal(c), requires_grad=True, dtype=np.float64)
    g = rng.standard_normal(shape)

    def f(xv, wv, bv):
        return float((batch_norm_train(xv, wv, bv, eps=1e-3).data * g).sum())

    batch_norm_train(x, w, b, eps=1e-3).backward(g)
    h = 1e-6
    for t in (x, w, b):
        num = np.zeros_like(t.data)
        for i in np.ndindex(t.shape):
            old = t.data[i]
            t.data[i] = old + h
            up = f(x.data, w.data, b.data)
            t.data[i] = old - h
            down = f(x.data, w.data, b.data)
            t.data[i] = old
            num[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(t.grad, num, rtol=1e-6, atol=1e-8)
