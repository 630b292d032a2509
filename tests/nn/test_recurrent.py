"""RNN, GRU and LSTM equal torch.nn's: outputs, final states, input, state and
parameter gradients, with weights moved through cr.interop (float64 and float32)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_twin import TORCH_DTYPE, assert_grads_equal, close, load_from_torch

import chainrule as cr
from chainrule import nn

CONFIGS = [
    {"num_layers": 1},
    {"num_layers": 2, "bidirectional": True},
    {"num_layers": 2, "batch_first": True},
    {"num_layers": 1, "bias": False, "bidirectional": True},
]


def _make(kind, dtype, extra, **kw):
    args = dict(input_size=3, hidden_size=4, **kw)
    twin = getattr(torch.nn, kind)(**args, **extra).to(TORCH_DTYPE[dtype])
    layer = getattr(nn, kind)(**args, **extra, dtype=dtype)
    return load_from_torch(layer, twin), twin


def _run(kind, layer, twin, x, states, dtype):
    lstm = kind == "LSTM"
    xt = cr.tensor(x, requires_grad=True, dtype=dtype)
    tx = torch.tensor(x, requires_grad=True)
    st = [cr.tensor(s, requires_grad=True, dtype=dtype) for s in states]
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    hx = None if not states else ((st[0], st[1]) if lstm else st[0])
    thx = None if not states else ((ts[0], ts[1]) if lstm else ts[0])
    out, h = layer(xt, hx)
    tout, th = twin(tx, thx)
    finals = list(h) if lstm else [h]
    tfinals = list(th) if lstm else [th]
    close(out, tout, dtype, "output")
    for a, b in zip(finals, tfinals):
        close(a, b, dtype, "final state")
    rng = np.random.default_rng(1)
    u = rng.standard_normal(out.shape)
    vs = [rng.standard_normal(f.shape) for f in finals]
    loss = (out * cr.tensor(u, dtype=dtype)).sum()
    tloss = (tout * torch.tensor(u, dtype=tout.dtype)).sum()
    for f, tf, v in zip(finals, tfinals, vs):
        loss = loss + (f * cr.tensor(v, dtype=dtype)).sum()
        tloss = tloss + (tf * torch.tensor(v, dtype=tf.dtype)).sum()
    loss.backward()
    tloss.backward()
    close(xt.grad, tx.grad, dtype, "input gradient")
    for s, t in zip(st, ts):
        close(s.grad, t.grad, dtype, "initial-state gradient")
    assert_grads_equal(layer, twin, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_layer_equals_torch(kind, config, dtype):
    layer, twin = _make(kind, dtype, config)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3) if config.get("batch_first") else (5, 2, 3)).astype(dtype)
    _run(kind, layer, twin, x, [], dtype)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_given_initial_states(kind):
    dtype = np.float64
    layer, twin = _make(kind, dtype, {"num_layers": 2, "bidirectional": True})
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 3))
    states = [rng.standard_normal((4, 3, 4)) for _ in range(2 if kind == "LSTM" else 1)]
    _run(kind, layer, twin, x, states, dtype)


def test_relu_rnn_and_unbatched_input():
    dtype = np.float64
    layer, twin = _make("RNN", dtype, {"nonlinearity": "relu", "num_layers": 2})
    x = np.random.default_rng(3).standard_normal((6, 3))
    _run("RNN", layer, twin, x, [], dtype)
    layer, twin = _make("LSTM", dtype, {})
    rng = np.random.default_rng(4)
    _run("LSTM", layer, twin, x, [rng.standard_normal((1, 4)), rng.standard_normal((1, 4))],
         dtype)


def test_parameter_names_shapes_and_init_range_match_torch():
    for kind, gates in (("RNN", 1), ("GRU", 3), ("LSTM", 4)):
        layer = getattr(nn, kind)(3, 5, num_layers=2, bidirectional=True)
        twin = getattr(torch.nn, kind)(3, 5, num_layers=2, bidirectional=True)
        assert list(layer.state_dict()) == list(twin.state_dict())
        for (name, p), tp in zip(layer.named_parameters(), twin.parameters()):
            assert p.shape == tuple(tp.shape), name
            assert np.abs(p.data).max() <= 1 / np.sqrt(5)
        assert layer.weight_hh_l1_reverse.shape == (gates * 5, 5)


def test_interlayer_dropout_only_in_training():
    cr.manual_seed(0)
    layer = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = cr.tensor(np.random.default_rng(5).standard_normal((5, 2, 3)))
    with cr.no_grad():
        a, _ = layer(x)
        b, _ = layer(x)
        layer.eval()
        c, _ = layer(x)
        d, _ = layer(x)
    assert not np.allclose(a.numpy(), b.numpy())
    np.testing.assert_array_equal(c.numpy(), d.numpy())
    single = nn.GRU(3, 4, num_layers=2)
    single.load_state_dict(layer.state_dict())
    with cr.no_grad():
        np.testing.assert_allclose(single(x)[0].numpy(), c.numpy(), rtol=1e-6)


def test_bad_shapes_are_refused():
    layer = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="input_size=3"):
        layer(cr.tensor(np.zeros((5, 2, 7))))
    with pytest.raises(ValueError, match="h_0"):
        layer(cr.tensor(np.zeros((5, 2, 3))), (np.zeros((1, 3, 4)), np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
