"""Embedding, LayerNorm, GELU, SiLU, MultiheadAttention and
F.scaled_dot_product_attention equal torch's (forward, input and parameter
gradients; weights moved through cr.interop), masks and padding included."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from _torch_twin import TOL, TORCH_DTYPE, assert_grads_equal, close, load_from_torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

DTYPES = [np.float64, np.float32]


def _backward_both(out, tout, dtype, seed=0):
    u = np.random.default_rng(seed).standard_normal(tout.shape)
    (out * cr.tensor(u, dtype=dtype)).sum().backward()
    (tout * torch.tensor(u, dtype=tout.dtype)).sum().backward()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 1, -2])
def test_embedding(padding_idx, dtype):
    twin = torch.nn.Embedding(7, 3, padding_idx=padding_idx).to(TORCH_DTYPE[dtype])
    with torch.no_grad():
        twin.weight.add_(0.5)  # a non-zero padding row: its vector is still returned
    layer = load_from_torch(nn.Embedding(7, 3, padding_idx=padding_idx, dtype=dtype), twin)
    ids = np.array([[1, 2, 5, 1], [5, 0, 1, 6]])
    out, tout = layer(ids), twin(torch.as_tensor(ids))
    close(out, tout, dtype)
    _backward_both(out, tout, dtype)
    assert_grads_equal(layer, twin, dtype)
    if padding_idx is not None:
        assert not layer.weight.grad[padding_idx % 7].any()


def test_embedding_state_dict_round_trip_and_init():
    layer = nn.Embedding(5, 3, padding_idx=0)
    assert not layer.weight.data[0].any()
    twin = torch.nn.Embedding(5, 3, padding_idx=0)
    sd = cr.interop.to_torch_state_dict(layer.state_dict())
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    np.testing.assert_array_equal(twin.weight.detach().numpy(), layer.weight.data)
    square = nn.Embedding(4, 4)
    tsq = torch.nn.Embedding(4, 4)
    square.load_state_dict(cr.interop.from_torch_state_dict(tsq.state_dict()))
    np.testing.assert_array_equal(square.weight.data, tsq.weight.detach().numpy())


def test_embedding_rejects_bad_ids():
    layer = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="ids in"):
        layer(np.array([0, 4]))
    with pytest.raises(TypeError, match="integer ids"):
        layer(np.array([0.0, 1.0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_layer_norm(shape, dtype):
    twin = torch.nn.LayerNorm(shape).to(TORCH_DTYPE[dtype])
    with torch.no_grad():
        twin.weight.uniform_(0.5, 1.5)
        twin.bias.uniform_(-0.5, 0.5)
    layer = load_from_torch(nn.LayerNorm(shape, dtype=dtype), twin)
    x = (np.random.default_rng(1).standard_normal((2, 3, 4)) * 3 + 1).astype(dtype)
    xt = cr.tensor(x, requires_grad=True, dtype=dtype)
    tx = torch.tensor(x, requires_grad=True)
    out, tout = layer(xt), twin(tx)
    close(out, tout, dtype)
    _backward_both(out, tout, dtype)
    close(xt.grad, tx.grad, dtype, "input gradient")
    assert_grads_equal(layer, twin, dtype)


def test_layer_norm_without_affine_and_bad_shape():
    x = np.random.default_rng(2).standard_normal((3, 5))
    got = F.layer_norm(cr.tensor(x, dtype=np.float64), 5)
    np.testing.assert_allclose(got.numpy(), TF.layer_norm(torch.tensor(x), (5,)).numpy(),
                               rtol=1e-12, atol=1e-12)
    assert nn.LayerNorm(5, elementwise_affine=False).state_dict() == {}
    with pytest.raises(ValueError, match="trailing axes"):
        nn.LayerNorm(4)(cr.tensor(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module, twin", [
    (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
    (nn.SiLU(), torch.nn.SiLU())], ids=["gelu", "gelu-tanh", "silu"])
def test_activations(module, twin, dtype):
    x = np.concatenate([np.linspace(-9, 9, 37), [0.0, -40.0, 40.0, 1e-3]]).astype(dtype)
    xt = cr.tensor(x, requires_grad=True, dtype=dtype)
    tx = torch.tensor(x, requires_grad=True)
    out, tout = module(xt), twin(tx)
    close(out, tout, dtype)
    _backward_both(out, tout, dtype)
    close(xt.grad, tx.grad, dtype, "gradient")


def test_gelu_refuses_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")


def _bool(rng, shape, p=0.3):
    m = rng.random(shape) < p
    m[..., 0] = False  # no row masked out entirely
    return m


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["plain", "bool-mask", "float-mask", "causal", "3d-mask"])
def test_scaled_dot_product_attention(case, dtype):
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in
               ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)))
    if case == "causal":
        k, v = k[:, :, :4], v[:, :, :4]
    kw: dict = {}
    if case == "bool-mask":
        m = ~_bool(rng, (4, 6))  # True = may attend
        kw = {"attn_mask": m}
        tkw = {"attn_mask": torch.as_tensor(m)}
    elif case == "float-mask":
        m = rng.standard_normal((4, 6)).astype(dtype)
        kw = {"attn_mask": m}
        tkw = {"attn_mask": torch.as_tensor(m)}
    elif case == "3d-mask":
        m = ~_bool(rng, (3, 4, 6))
        kw = {"attn_mask": m, "scale": 0.3}
        tkw = {"attn_mask": torch.as_tensor(m), "scale": 0.3}
    elif case == "causal":
        kw = tkw = {"is_causal": True}
    else:
        tkw = {}
    ins = [cr.tensor(a, requires_grad=True, dtype=dtype) for a in (q, k, v)]
    tins = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ins, **kw)
    tout = TF.scaled_dot_product_attention(*tins, **tkw)
    close(out, tout, dtype)
    _backward_both(out, tout, dtype)
    for a, b in zip(ins, tins):
        close(a.grad, b.grad, dtype, "gradient")


def test_sdpa_dropout_keeps_expectation_and_refuses_mask_with_causal():
    cr.manual_seed(0)
    rng = np.random.default_rng(4)
    q = cr.tensor(rng.standard_normal((1, 4, 3)))
    v = cr.tensor(np.ones((1, 4, 2)))
    out = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    assert not np.allclose(out.numpy(), 1.0)  # some weights dropped, the rest doubled
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, v, attn_mask=np.ones((4, 4), bool), is_causal=True)


MHA_CASES = ["plain", "batch_first", "key_padding", "bool_attn", "float_attn", "causal",
             "per_head", "unbatched", "no_bias", "cross"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MHA_CASES)
def test_multihead_attention(case, dtype):
    e, h, n, length = 8, 2, 3, 4
    source = 5 if case in ("cross", "key_padding", "bool_attn", "float_attn") else length
    ctor = {"batch_first": case == "batch_first", "bias": case != "no_bias"}
    twin = torch.nn.MultiheadAttention(e, h, **ctor).to(TORCH_DTYPE[dtype])
    with torch.no_grad():
        for p in twin.parameters():
            p.uniform_(-0.5, 0.5)
    layer = load_from_torch(nn.MultiheadAttention(e, h, **ctor, dtype=dtype), twin)
    rng = np.random.default_rng(5)

    def seq(t):
        if case == "unbatched":
            return rng.standard_normal((t, e)).astype(dtype)
        if case == "batch_first":
            return rng.standard_normal((n, t, e)).astype(dtype)
        return rng.standard_normal((t, n, e)).astype(dtype)

    q = seq(length)
    k, v = (q, q) if source == length else (seq(source), seq(source))
    kw: dict = {}
    if case == "key_padding":
        kw["key_padding_mask"] = _bool(rng, (n, source), 0.4)
    if case == "bool_attn":
        kw["attn_mask"] = _bool(rng, (length, source))
        kw["key_padding_mask"] = _bool(rng, (n, source))
    if case == "float_attn":
        kw["attn_mask"] = rng.standard_normal((length, source)).astype(dtype)
        kw["key_padding_mask"] = rng.standard_normal((n, source)).astype(dtype)
    if case == "causal":
        kw["attn_mask"] = np.triu(np.ones((length, length), bool), 1)
        kw["is_causal"] = True
    if case == "per_head":
        kw["attn_mask"] = _bool(rng, (n * h, length, source))
        kw["average_attn_weights"] = False
    tkw = {key: torch.as_tensor(val) if isinstance(val, np.ndarray) else val
           for key, val in kw.items()}
    ins = [cr.tensor(a, requires_grad=True, dtype=dtype) for a in (q, k, v)]
    tins = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out, w = layer(*ins, **kw)
    tout, tw = twin(*tins, **tkw)
    close(out, tout, dtype, "output")
    close(w, tw, dtype, "weights")
    _backward_both(out, tout, dtype)
    for a, b in zip(ins, tins):
        close(a.grad, b.grad, dtype, "input gradient")
    assert_grads_equal(layer, twin, dtype)


def test_multihead_attention_causal_without_mask_and_no_weights():
    layer = nn.MultiheadAttention(4, 2, batch_first=True)
    x = cr.tensor(np.random.default_rng(6).standard_normal((2, 3, 4)))
    out, w = layer(x, x, x, is_causal=True, need_weights=False)
    assert w is None
    mask = np.triu(np.ones((3, 3), bool), 1)
    want, weights = layer(x, x, x, attn_mask=mask)
    np.testing.assert_allclose(out.numpy(), want.numpy(), **TOL[np.float32])
    assert np.all(weights.numpy()[:, mask] == 0)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(ValueError, match="attn_mask"):
        layer(x, x, x, attn_mask=np.zeros((2, 2), bool))


def test_state_dict_keys_equal_torch():
    pairs = [(nn.MultiheadAttention(8, 2), torch.nn.MultiheadAttention(8, 2)),
             (nn.LayerNorm(5), torch.nn.LayerNorm(5)), (nn.Embedding(4, 3), torch.nn.Embedding(4, 3)),
             (nn.LayerNorm((2, 3)), torch.nn.LayerNorm((2, 3))),
             (nn.LSTM(3, 4, num_layers=2, bidirectional=True),
              torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)),
             (nn.GRU(3, 4, bias=False), torch.nn.GRU(3, 4, bias=False))]
    for ours, theirs in pairs:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        sd = cr.interop.to_torch_state_dict(ours.state_dict())
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        back = type(ours).__new__(type(ours))
        back.__dict__.update(copy.deepcopy(ours.__dict__))
        for p in back.parameters():
            p.data[...] = 0
        back.load_state_dict(cr.interop.from_torch_state_dict(theirs.state_dict()))
        for (name, a), b in zip(ours.state_dict().items(), back.state_dict().values()):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_embedding_from_pretrained_and_unsupported_attention_options():
    table = np.arange(12.0).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(table, padding_idx=0)
    twin = torch.nn.Embedding.from_pretrained(torch.tensor(table), padding_idx=0)
    np.testing.assert_array_equal(frozen(np.array([3, 0])).numpy(),
                                  twin(torch.tensor([3, 0])).numpy())
    assert not frozen.weight.requires_grad and frozen.weight.dtype == np.float64
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    with pytest.raises(ValueError, match="2-D"):
        nn.Embedding.from_pretrained(np.zeros(3))
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(4, 2, add_bias_kv=True)
