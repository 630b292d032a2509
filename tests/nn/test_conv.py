"""Conv1d, Conv2d, Flatten and F.conv1d/F.conv2d against PyTorch (float32).

Forward and the gradients of input, weight and bias over a grid of
strides (1, 2), paddings (0, 1, 2), dilations (1, 2), odd and even sizes,
1 / 3 / 6 input channels (both im2col layouts) and batches of 1 and 4.
Float64 finite differences of the primitives live in
``tests/autograd/gradcheck_cases_conv.py``.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

GRID = list(itertools.product((1, 2), (0, 1, 2), (1, 2)))  # stride, padding, dilation
#: (batch, in_channels, out_channels, spatial size): odd/even sizes, 1/3/6 channels
CONFIGS = [(1, 1, 2, (7, 7)), (4, 3, 5, (8, 6)), (2, 6, 3, (9, 8))]


def close(actual, expected, rtol=1e-5):
    """float32-tight: rtol 1e-5, atol 1e-6 scaled by the magnitude of the reference."""
    expected = np.asarray(expected)
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-6 * scale)


def _run_both(d, cfg, stride, padding, dilation, bias=True, kernel=None):
    n, c_in, c_out, size = cfg
    rng = np.random.default_rng(zlib.crc32(repr((d, cfg, stride, padding, dilation)).encode()))
    size = size[:d] if d == 2 else (size[0] + size[1],)
    kernel = kernel or ((3, 2) if d == 2 else (3,))
    x = rng.standard_normal((n, c_in) + size).astype(np.float32)
    w = rng.standard_normal((c_out, c_in) + kernel).astype(np.float32)
    b = rng.standard_normal(c_out).astype(np.float32) if bias else None
    fn, tfn = (F.conv2d, torch.nn.functional.conv2d) if d == 2 else (
        F.conv1d, torch.nn.functional.conv1d)

    X = cr.tensor(x, requires_grad=True)
    W = cr.tensor(w, requires_grad=True)
    B = cr.tensor(b, requires_grad=True) if bias else None
    out = fn(X, W, B, stride=stride, padding=padding, dilation=dilation)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    tout = tfn(tx, tw, tb, stride=stride, padding=padding, dilation=dilation)
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    out.backward(g)
    tout.backward(torch.tensor(g))
    pairs = [(out.data, tout), (X.grad, tx.grad), (W.grad, tw.grad)]
    if bias:
        pairs.append((B.grad, tb.grad))
    return out, tout, pairs, X


@pytest.mark.parametrize("cfg", CONFIGS, ids=["b1-c1-odd", "b4-c3-even", "b2-c6-mixed"])
@pytest.mark.parametrize("stride,padding,dilation", GRID)
def test_conv2d_matches_torch(cfg, stride, padding, dilation):
    out, tout, pairs, _ = _run_both(2, cfg, stride, padding, dilation)
    assert out.shape == tuple(tout.shape)
    for ours, theirs in pairs:
        assert ours.dtype == np.float32
        close(ours, theirs.detach().numpy())


@pytest.mark.parametrize("cfg", CONFIGS, ids=["b1-c1-odd", "b4-c3-even", "b2-c6-mixed"])
@pytest.mark.parametrize("stride,padding,dilation", GRID)
def test_conv1d_matches_torch(cfg, stride, padding, dilation):
    out, tout, pairs, _ = _run_both(1, cfg, stride, padding, dilation)
    assert out.shape == tuple(tout.shape)
    for ours, theirs in pairs:
        close(ours, theirs.detach().numpy())


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("padding", ["same", "valid", (2, 0)])
def test_string_and_tuple_padding_match_torch(d, padding):
    if d == 1 and isinstance(padding, tuple):
        padding = (2,)
    for kernel in ([(4, 3), (3, 2)] if d == 2 else [(4,), (5,)]):
        # even kernels make "same" pad unevenly (the extra element after)
        out, tout, pairs, x = _run_both(d, CONFIGS[1], 1, padding, 2 if d == 1 else (1, 2),
                                        kernel=kernel)
        assert out.shape == tuple(tout.shape)
        if padding == "same":
            assert out.shape[2:] == x.shape[2:]
        for ours, theirs in pairs:
            close(ours, theirs.detach().numpy())


@pytest.mark.parametrize("d", [1, 2])
def test_no_bias_and_asymmetric_stride(d):
    stride = (2, 1) if d == 2 else 3
    _, _, pairs, _ = _run_both(d, CONFIGS[2], stride, 1, 1, bias=False)
    for ours, theirs in pairs:
        close(ours, theirs.detach().numpy())


def test_only_weight_gradient_when_input_is_constant():
    x = cr.tensor(np.random.randn(2, 1, 6, 6))
    conv = nn.Conv2d(1, 4, 3)
    conv(x).sum().backward()
    assert x.grad is None
    assert conv.weight.grad.shape == (4, 1, 3, 3)
    # d(sum out)/d(bias) = number of output positions per image times batch
    close(conv.bias.grad, np.full(4, 2 * 4 * 4, np.float32))


def test_chained_layers_and_noncontiguous_inputs_match_torch():
    """Channels-last views between layers and sliced inputs give torch's numbers."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 3, 20, 18)).astype(np.float32)
    convs = [nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 5, 3, stride=2, dilation=2)]
    tconvs = [torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(8, 5, 3, stride=2, dilation=2)]
    for ours, theirs in zip(convs, tconvs):
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(ours.weight.data))
            theirs.bias.copy_(torch.from_numpy(ours.bias.data + 0.1))
        ours.bias.data += 0.1
    X = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    # a strided slice of the input: neither layout is contiguous
    h = convs[1](F.relu(convs[0](X[:, :, ::2, 1:])))
    th = tconvs[1](torch.relu(tconvs[0](tx[:, :, ::2, 1:])))
    loss = (h * h).sum()
    tloss = (th * th).sum()
    loss.backward()
    tloss.backward()
    close(h.data, th.detach().numpy())
    close(X.grad, tx.grad.numpy())
    for ours, theirs in zip(convs, tconvs):
        close(ours.weight.grad, theirs.weight.grad.numpy())
        close(ours.bias.grad, theirs.bias.grad.numpy())


def test_float64_stays_float64():
    x = cr.tensor(np.random.randn(2, 2, 5, 5), dtype=np.float64, requires_grad=True)
    w = cr.tensor(np.random.randn(3, 2, 3, 3), dtype=np.float64, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    out.sum().backward()
    assert out.dtype == x.grad.dtype == w.grad.dtype == np.float64


def test_unbatched_input():
    conv = nn.Conv1d(2, 3, 3, padding=1)
    x = np.random.randn(2, 10).astype(np.float32)
    single = conv(cr.tensor(x))
    batched = conv(cr.tensor(x[None]))
    assert single.shape == (3, 10)
    close(single.data, batched.data[0])


# --------------------------------------------------------------------------
# modules


@pytest.mark.parametrize("cls,shape", [(nn.Conv1d, (8, 3, 5)), (nn.Conv2d, (8, 3, 5, 2))])
def test_module_parameters_and_glorot_init(cls, shape):
    kernel = shape[2:]
    layer = cls(3, 8, kernel if len(kernel) > 1 else kernel[0])
    assert layer.weight.shape == shape
    assert layer.bias.shape == (8,)
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.data, 0)
    receptive = math.prod(kernel)
    bound = math.sqrt(6.0 / (3 * receptive + 8 * receptive))
    w = layer.weight.data
    assert np.abs(w).max() <= bound
    # uniform on [-bound, bound]: the largest draws come close to the bound
    assert np.abs(w).max() > 0.8 * bound
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert cls(3, 8, 3, bias=False).bias is None


def test_conv2d_module_matches_torch_module():
    cr.manual_seed(3)
    ours = nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    theirs = torch.nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    x = np.random.randn(2, 3, 9, 8).astype(np.float32)
    y = ours(cr.tensor(x))
    yt = theirs(torch.from_numpy(x))
    close(y.data, yt.detach().numpy())
    y.sum().backward()
    yt.sum().backward()
    close(ours.weight.grad, theirs.weight.grad.numpy())
    assert "stride=(2, 1)" in repr(ours) and "dilation=(1, 2)" in repr(ours)


@pytest.mark.parametrize("start,end", [(1, -1), (0, -1), (2, 3), (1, 2), (-2, -1)])
def test_flatten_matches_torch(start, end):
    x = np.random.randn(2, 3, 4, 5).astype(np.float32)
    X = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y = nn.Flatten(start, end)(X)
    yt = torch.nn.Flatten(start, end)(tx)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    g = np.random.randn(*y.shape).astype(np.float32)
    y.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(X.grad, tx.grad.numpy())


def test_flatten_keeps_channels_first_order_after_conv():
    """Flatten of a conv output is (c, h, w)-ordered, as torch, despite channels-last storage."""
    x = np.random.randn(2, 2, 4, 4).astype(np.float32)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    y = nn.Flatten()(conv(cr.tensor(x)))
    conv_out = F.conv2d(cr.tensor(x), conv.weight, conv.bias, padding=1).data
    np.testing.assert_array_equal(y.data, conv_out.reshape(2, -1))


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("call,match", [
    (lambda: nn.Conv2d(3, 4, 3)(cr.tensor(np.zeros((2, 2, 8, 8)))), "channels"),
    (lambda: nn.Conv2d(1, 4, 3)(cr.tensor(np.zeros((2, 8, 8, 1, 1)))), "shape"),
    (lambda: nn.Conv2d(1, 4, 5)(cr.tensor(np.zeros((1, 1, 3, 3)))), "larger than the padded"),
    (lambda: nn.Conv2d(1, 4, 3, stride=2, padding="same"), "stride 1"),
    (lambda: nn.Conv2d(1, 4, 3, padding="full"), "'same' or 'valid'"),
    (lambda: nn.Conv2d(1, 4, 3, padding=-1), "non-negative"),
    (lambda: nn.Conv2d(1, 4, (3, 3, 3)), "kernel_size"),
    (lambda: nn.Conv1d(1, 4, 3, stride=0), "stride"),
    (lambda: nn.Conv1d(0, 4, 3), "positive channel"),
    (lambda: F.conv2d(cr.tensor(np.zeros((1, 2, 5, 5))), cr.tensor(np.zeros((3, 2, 3)))),
     "weight of shape"),
    (lambda: F.conv1d(cr.tensor(np.zeros((1, 2, 5))), cr.tensor(np.zeros((3, 2, 3))),
                      cr.tensor(np.zeros(2))), "bias of shape"),
    (lambda: nn.Flatten(3, 1)(cr.tensor(np.zeros((2, 3, 4, 5)))), "start_dim"),
])
def test_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_large_batches_split_in_parts_match_torch():
    """Big steps run as one batch part per thread; the numbers are torch's."""
    from chainrule.autograd.conv_ops import batch_parts

    rng = np.random.default_rng(7)
    x = rng.standard_normal((10, 16, 24, 24)).astype(np.float32)
    conv = nn.Conv2d(16, 16, 3, padding=1)
    tconv = torch.nn.Conv2d(16, 16, 3, padding=1)
    with torch.no_grad():
        tconv.weight.copy_(torch.from_numpy(conv.weight.data))
        tconv.bias.copy_(torch.from_numpy(conv.bias.data))
    work = 10 * 24 * 24 * (16 * 9 + 1 + 16)  # im2col and output elements
    parts = batch_parts(10, work)
    assert len(parts) == min(cr.get_num_threads(), 10)
    assert [i for part in parts for i in range(10)[part]] == list(range(10))
    X = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y = F.max_pool2d(F.relu(conv(X)), 2)
    ty = torch.nn.functional.max_pool2d(torch.relu(tconv(tx)), 2)
    close(y.data, ty.detach().numpy())
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    close(X.grad, tx.grad.numpy())
    close(conv.weight.grad, tconv.weight.grad.numpy())
    close(conv.bias.grad, tconv.bias.grad.numpy())
