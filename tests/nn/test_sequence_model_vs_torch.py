"""A small encoder-decoder step of the translation task, in chainrule and in torch
with the same weights: padded ids, a bidirectional GRU encoder, an LSTM decoder
started from the encoder's state, attention over the padded source, and the
(N, C, T) cross-entropy that ignores padding; then gradient clipping.  Loss,
gradients and clipped gradients agree."""

from __future__ import annotations

import numpy as np
import torch
from _torch_twin import assert_grads_equal

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

PAD, VOCAB, WIDTH = 0, 9, 6


def _build(lib):
    kw = {} if lib is torch.nn else {"dtype": np.float64}
    m = lib.Module()
    m.src = lib.Embedding(VOCAB, WIDTH, padding_idx=PAD, **kw)
    m.tgt = lib.Embedding(VOCAB, WIDTH, padding_idx=PAD, **kw)
    m.enc = lib.GRU(WIDTH, WIDTH // 2, batch_first=True, bidirectional=True, **kw)
    m.dec = lib.LSTM(WIDTH, WIDTH, num_layers=2, batch_first=True, **kw)
    m.attn = lib.MultiheadAttention(WIDTH, 2, batch_first=True, **kw)
    m.norm = lib.LayerNorm(WIDTH, **kw)
    m.out = lib.Linear(WIDTH, VOCAB, **kw)
    return m


def _step(m, src, tgt_in, tgt_out, lib):
    is_torch = lib is torch.nn
    memory, h = m.enc(m.src(src))               # h: (2, N, W/2), the two directions
    n = h.shape[1]
    both = (h.transpose(0, 1) if is_torch else h.transpose(1, 0, 2)).reshape(1, n, WIDTH)
    cat = torch.cat if is_torch else cr.concatenate
    h0 = cat([both, both * 0.5], 0)             # one state per decoder layer
    dec, _ = m.dec(m.tgt(tgt_in), (h0, h0 * -1.0))
    ctx, _ = m.attn(dec, memory, memory, key_padding_mask=src == PAD)
    logits = m.out(m.norm(dec + ctx))           # (N, T, C)
    if is_torch:
        return torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt_out,
                                                 ignore_index=PAD, label_smoothing=0.1)
    return F.cross_entropy(logits.transpose(0, 2, 1), tgt_out, ignore_index=PAD,
                           label_smoothing=0.1)


def test_encoder_decoder_step_equals_torch():
    torch.manual_seed(0)
    theirs = _build(torch.nn).double()
    ours = _build(nn)
    ours.load_state_dict(cr.interop.from_torch_state_dict(theirs.state_dict()))
    src = np.array([[3, 5, 2, 0, 0], [4, 4, 7, 8, 1]])
    tgt_in = np.array([[1, 6, 2, 0], [1, 3, 3, 5]])
    tgt_out = np.array([[6, 2, 8, 0], [3, 3, 5, 8]])
    loss = _step(ours, src, tgt_in, tgt_out, nn)
    tloss = _step(theirs, torch.as_tensor(src), torch.as_tensor(tgt_in),
                  torch.as_tensor(tgt_out), torch.nn)
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
    loss.backward()
    tloss.backward()
    assert_grads_equal(ours, theirs, np.float64)
    norm = nn.utils.clip_grad_norm_(ours.parameters(), 0.1)
    tnorm = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.1)
    np.testing.assert_allclose(float(norm), tnorm.item(), rtol=1e-10)
    assert_grads_equal(ours, theirs, np.float64)
    assert not ours.src.weight.grad[PAD].any()


def test_fully_masked_keys_give_nan_as_torch():
    torch.manual_seed(1)
    twin = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
    layer = nn.MultiheadAttention(4, 2, batch_first=True, dtype=np.float64)
    layer.load_state_dict(cr.interop.from_torch_state_dict(twin.state_dict()))
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    xt = cr.tensor(x, dtype=np.float64)
    pad = np.array([[False, True, False], [True, True, True]])
    with np.errstate(invalid="ignore"):
        out, _ = layer(xt, xt, xt, key_padding_mask=pad)
    tout, _ = twin(*(torch.as_tensor(x),) * 3, key_padding_mask=torch.as_tensor(pad))
    np.testing.assert_array_equal(np.isnan(out.numpy()), np.isnan(tout.detach().numpy()))
    np.testing.assert_allclose(out.numpy()[0], tout.detach().numpy()[0], rtol=1e-10)
