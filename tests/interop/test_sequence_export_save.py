"""The sequence layers in ONNX export (LayerNorm, GELU, SiLU converted; the
others refused with a clear error) and in cr.save / cr.load (safetensors, npz)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def test_layer_norm_gelu_silu_export_and_run(tmp_path):
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.GELU(), nn.Linear(6, 6),
                          nn.GELU("tanh"), nn.SiLU(), nn.LayerNorm((3, 6), elementwise_affine=False))
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    path = tmp_path / "m.onnx"
    cr.onnx.export(model, path, x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    with cr.no_grad():
        want = model(cr.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer, word", [
    (nn.Embedding(5, 4), "integer ids"), (nn.LSTM(4, 4), "recurrent"),
    (nn.GRU(4, 4), "recurrent"), (nn.RNN(4, 4), "recurrent"),
    (nn.MultiheadAttention(4, 2), "query, key and value")])
def test_other_sequence_layers_are_refused_by_name(layer, word):
    with pytest.raises(cr.onnx.ExportError, match=rf"'1' \({type(layer).__name__}\).*{word}"):
        cr.onnx.export(nn.Sequential(nn.Identity(), layer), None, np.zeros((2, 4), np.float32))
    assert type(layer).__name__ not in str(cr.onnx._graph.supported_types())


class Translator(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 4, padding_idx=0)
        self.enc = nn.LSTM(4, 5, num_layers=2, bidirectional=True)
        self.attn = nn.MultiheadAttention(10, 2)
        self.norm = nn.LayerNorm(10)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_save_load_round_trip(tmp_path, suffix):
    pytest.importorskip("safetensors")
    cr.manual_seed(0)
    a = Translator()
    path = tmp_path / f"m{suffix}"
    cr.save(a.state_dict(), path)
    cr.manual_seed(1)
    b = Translator()
    b.load_state_dict(cr.load(path))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(p, q, err_msg=name)
