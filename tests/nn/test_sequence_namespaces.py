"""The sequence layers compute on every namespace: the same outputs and
gradients as on NumPy from the same weights."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


class Seq2Vec(nn.Module):
    """Embedding -> recurrent layer -> attention -> LayerNorm -> GELU MLP -> logits."""

    def __init__(self, recurrent):
        super().__init__()
        self.embed = nn.Embedding(6, 4, padding_idx=0)
        self.rnn = recurrent
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = nn.LayerNorm(8)
        self.mlp = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 3), nn.SiLU())

    def forward(self, ids, pad):
        h, _ = self.rnn(self.embed(ids))
        a, _ = self.attn(h, h, h, key_padding_mask=pad)
        return self.mlp(self.norm(h + a)).mean(axis=1)


def _move(model, namespace):
    for p in model.parameters():
        p.data = namespace.asarray(p.data)
    return model


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_sequence_model_on_every_namespace(namespace, kind):
    cr.manual_seed(0)
    rnn = getattr(nn, kind)(4, 4, batch_first=True, bidirectional=True)
    model = Seq2Vec(rnn)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 6, (3, 5))
    pad = ids == 0
    pad[:, 0] = False
    y = rng.integers(0, 3, 3)
    ref = copy.deepcopy(model)
    want = F.cross_entropy(ref(ids, pad), y)
    want.backward()
    moved = _move(model, namespace)
    out = moved(namespace.asarray(ids), namespace.asarray(pad))
    assert namespace.owns(out)
    got = F.cross_entropy(out, y)
    got.backward()
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-5)
    for (name, p), q in zip(moved.named_parameters(), ref.parameters()):
        assert namespace.owns(p.grad), name
        np.testing.assert_allclose(namespace.to_numpy(p.grad), q.grad, rtol=1e-4, atol=1e-6,
                                   err_msg=name)


def test_sdpa_and_ignore_index_on_every_namespace(namespace):
    rng = np.random.default_rng(1)
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    allowed = np.tril(np.ones((3, 3), bool))
    logits = rng.standard_normal((2, 5, 3)).astype(np.float32)
    target = np.array([[1, -100, 4], [0, 2, -100]])

    def run(asarray):
        qt = cr.tensor(asarray(q), requires_grad=True)
        zt = cr.tensor(asarray(logits), requires_grad=True)
        out = F.scaled_dot_product_attention(qt, qt, qt, attn_mask=asarray(allowed))
        loss = out.sum() + F.cross_entropy(zt, asarray(target))
        loss.backward()
        return loss, qt.grad, zt.grad

    want = run(np.asarray)
    got = run(namespace.asarray)
    for a, b in zip(got, want):
        np.testing.assert_allclose(namespace.to_numpy(a), namespace.to_numpy(b), rtol=1e-5,
                                   atol=1e-6)


def test_clip_grad_norm_on_every_namespace(namespace):
    p = nn.Parameter(namespace.asarray(np.ones(4, np.float32)))
    p.grad = namespace.asarray(np.full(4, 2.0, np.float32))
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert abs(float(total) - 4.0) < 1e-6
    assert namespace.owns(p.grad)
    np.testing.assert_allclose(namespace.to_numpy(p.grad), np.full(4, 0.5), rtol=1e-5)
