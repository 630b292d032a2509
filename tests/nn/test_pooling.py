"""MaxPool1d/2d, AvgPool1d/2d and their functional forms against PyTorch."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

TF = torch.nn.functional
#: kernel, stride (None: = kernel), padding, dilation (max pooling only)
GRID = [
    (k, s, p, d)
    for k, s, p, d in itertools.product((2, 3), (None, 1, 2), (0, 1), (1, 2))
    if 2 * p <= k
]
#: (batch, channels, spatial size): odd and even sizes, 1 and 3 channels
CONFIGS = [(1, 1, (7, 7)), (4, 3, (8, 6))]


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def _input(cfg, d, key, ties):
    n, c, size = cfg
    rng = np.random.default_rng(zlib.crc32(repr(key).encode()))
    shape = (n, c) + (size if d == 2 else (size[0] + size[1],))
    x = rng.standard_normal(shape).astype(np.float32)
    if ties:
        # few distinct values, many zeros (as after a ReLU): tied maxima everywhere
        x = np.maximum(np.round(x), 0)
    return x, rng


def _compare(ours_fn, torch_fn, x, rng):
    X = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out = ours_fn(X)
    tout = torch_fn(tx)
    assert out.shape == tuple(tout.shape)
    close(out.data, tout.detach().numpy())
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    close(X.grad, tx.grad.numpy())


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=["b1-c1-odd", "b4-c3-even"])
@pytest.mark.parametrize("k,s,p,dil", GRID)
def test_max_pool2d_matches_torch(k, s, p, dil, cfg, ties):
    x, rng = _input(cfg, 2, (k, s, p, dil, cfg, ties), ties)
    _compare(lambda t: F.max_pool2d(t, k, s, p, dil),
             lambda t: TF.max_pool2d(t, k, s, p, dil), x, rng)


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("k,s,p,dil", GRID)
def test_max_pool1d_matches_torch(k, s, p, dil, ties):
    x, rng = _input(CONFIGS[1], 1, (k, s, p, dil, ties), ties)
    _compare(lambda t: F.max_pool1d(t, k, s, p, dil),
             lambda t: TF.max_pool1d(t, k, s, p, dil), x, rng)


AVG_GRID = [(k, s, p) for k, s, p, d in GRID if d == 1]


@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("cfg", CONFIGS, ids=["b1-c1-odd", "b4-c3-even"])
@pytest.mark.parametrize("k,s,p", AVG_GRID)
def test_avg_pool2d_matches_torch(k, s, p, cfg, include_pad):
    x, rng = _input(cfg, 2, (k, s, p, cfg, include_pad), False)
    _compare(lambda t: F.avg_pool2d(t, k, s, p, include_pad),
             lambda t: TF.avg_pool2d(t, k, s, p, count_include_pad=include_pad), x, rng)


@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("k,s,p", AVG_GRID)
def test_avg_pool1d_matches_torch(k, s, p, include_pad):
    x, rng = _input(CONFIGS[1], 1, (k, s, p, include_pad), False)
    _compare(lambda t: F.avg_pool1d(t, k, s, p, include_pad),
             lambda t: TF.avg_pool1d(t, k, s, p, count_include_pad=include_pad), x, rng)


def test_rectangular_windows_match_torch():
    x, rng = _input(CONFIGS[1], 2, "rect", True)
    _compare(lambda t: F.max_pool2d(t, (3, 2), (1, 2), (1, 0), (2, 1)),
             lambda t: TF.max_pool2d(t, (3, 2), (1, 2), (1, 0), (2, 1)), x, rng)
    _compare(lambda t: F.avg_pool2d(t, (2, 3), (2, 1), (1, 1)),
             lambda t: TF.avg_pool2d(t, (2, 3), (2, 1), (1, 1)), x, rng)


def test_tied_window_sends_the_whole_gradient_to_the_first_maximum():
    x = cr.tensor(np.zeros((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 0], [0, 0]])


@pytest.mark.parametrize("cls,tcls,shape", [
    (nn.MaxPool2d, torch.nn.MaxPool2d, (2, 3, 9, 8)),
    (nn.AvgPool2d, torch.nn.AvgPool2d, (2, 3, 9, 8)),
    (nn.MaxPool1d, torch.nn.MaxPool1d, (2, 3, 11)),
    (nn.AvgPool1d, torch.nn.AvgPool1d, (2, 3, 11)),
])
def test_modules_match_torch_modules(cls, tcls, shape):
    x = np.random.randn(*shape).astype(np.float32)
    for args in [(2,), (3, 2, 1)]:
        ours, theirs = cls(*args), tcls(*args)
        close(ours(cr.tensor(x)).data, theirs(torch.from_numpy(x)).numpy())
    assert cls(2).stride == 2  # stride defaults to kernel_size
    assert "kernel_size=2" in repr(cls(2))


def test_pool_after_conv_in_a_chain_matches_torch():
    """Pooling reads the channels-last views that conv layers produce."""
    x = np.random.default_rng(121).standard_normal((2, 3, 12, 12)).astype(np.float32)
    conv = nn.Conv2d(3, 6, 3, padding=1)
    tconv = torch.nn.Conv2d(3, 6, 3, padding=1)
    with torch.no_grad():
        tconv.weight.copy_(torch.from_numpy(conv.weight.data))
        tconv.bias.copy_(torch.from_numpy(conv.bias.data))
    X = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y = F.avg_pool2d(F.max_pool2d(F.relu(conv(X)), 2), 3, 1, 1)
    ty = TF.avg_pool2d(TF.max_pool2d(torch.relu(tconv(tx)), 2), 3, 1, 1)
    close(y.data, ty.detach().numpy())
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    close(X.grad, tx.grad.numpy())
    # each weight-gradient entry sums 2*12*12 products of size up to ~40 in float32, in
    # another order than torch's: its rounding is relative to that scale, not to the entry
    wg = tconv.weight.grad.numpy()
    np.testing.assert_allclose(conv.weight.grad, wg, rtol=1e-5, atol=1e-6 * np.abs(wg).max())


def test_unbatched_input_and_float64():
    x = np.random.randn(3, 8, 8)
    y = F.max_pool2d(cr.tensor(x, dtype=np.float64), 2)
    assert y.shape == (3, 4, 4) and y.dtype == np.float64
    close(y.data, TF.max_pool2d(torch.from_numpy(x), 2).numpy())


@pytest.mark.parametrize("call,match,err", [
    (lambda: F.max_pool2d(cr.tensor(np.zeros((1, 1, 4, 4))), 2, padding=2), "half", ValueError),
    (lambda: F.max_pool2d(cr.tensor(np.zeros((1, 1, 2, 2))), 3), "larger than", ValueError),
    (lambda: F.avg_pool1d(cr.tensor(np.zeros((1, 2, 3, 4))), 2), "shape", ValueError),
    (lambda: F.max_pool1d(cr.tensor(np.zeros((1, 1, 4))), 0), "kernel_size", ValueError),
    (lambda: F.avg_pool2d(cr.tensor(np.zeros((1, 1, 4, 4))), 2, padding="same"),
     "only supported by convolutions", ValueError),
    (lambda: F.max_pool2d(cr.tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), 2),
     "floating-point", TypeError),
])
def test_clear_errors(call, match, err):
    with pytest.raises(err, match=match):
        call()
