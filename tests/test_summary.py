"""cr.summary and Module.num_parameters against hand-computed counts and shapes."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def _mlp():
    cr.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8),            # 4*8 + 8 = 40
        nn.BatchNorm1d(8),          # 8 + 8 = 16 params, 8 + 8 + 1 buffer scalars
        nn.ReLU(),
        nn.Sequential(nn.Linear(8, 3), nn.Dropout(0.5)),  # 8*3 + 3 = 27
    )


def test_counts_shapes_and_names():
    model = _mlp()
    s = cr.summary(model, (5, 4), verbose=0)
    assert [r.name for r in s.layers] == ["", "0", "1", "2", "3", "3.0", "3.1"]
    assert [r.depth for r in s.layers] == [0, 1, 1, 1, 1, 2, 2]
    assert s["0"].output_shape == (5, 8)
    assert s["3.0"].output_shape == (5, 3)
    assert s[""].output_shape == (5, 3)
    assert [s[k].num_params for k in ("0", "1", "2", "3", "3.0", "3.1")] == [40, 16, 0, 0, 27, 0]
    assert s.total_params == 83 == model.num_parameters()
    assert s.trainable_params == 83
    assert s.non_trainable_params == 0
    assert s.buffer_elements == 17
    assert s.param_bytes == 83 * 4
    assert s.buffer_bytes == 16 * 4 + 8  # float32 statistics, int64 count
    # leaf outputs: 5*8 (Linear) + 5*8 (BN) + 5*8 (ReLU) + 5*3 (Linear) + 5*3 (Dropout)
    assert s.activation_bytes == (3 * 40 + 2 * 15) * 4
    assert s.input_bytes == 5 * 4 * 4
    assert s.total_bytes == s.input_bytes + s.param_bytes + s.buffer_bytes + s.activation_bytes


def test_table_text_and_print(capsys):
    s = cr.summary(_mlp(), (2, 4))
    printed = capsys.readouterr().out
    assert printed.strip() == str(s).strip() == repr(s).strip()
    text = str(s)
    assert "Total params: 83" in text
    assert "3.0 (Linear)" in text and "(2, 3)" in text
    assert "Trainable params: 83" in text and "Non-trainable params: 0" in text


def test_frozen_and_shared_parameters():
    cr.manual_seed(0)
    shared = nn.Linear(3, 3)  # 12
    model = nn.Sequential(nn.Linear(2, 3), shared, nn.Tanh(), shared)  # 9 + 12
    model[0].weight.requires_grad = False  # 6 frozen
    s = cr.summary(model, np.ones((4, 2), np.float32), verbose=0)
    assert s.total_params == 21 == model.num_parameters()
    assert s.trainable_params == 15 == model.num_parameters(trainable_only=True)
    assert s.non_trainable_params == 6
    # the shared layer is one module: listed once, called twice
    assert s["1"].calls == 2 and s["1"].num_params == 12
    assert "partly" in str(s)


def test_prelu_counts_its_slopes():
    layer = nn.PReLU(num_parameters=3)
    assert layer.num_parameters() == 3
    assert repr(layer) == "PReLU(num_parameters=3)"
    assert cr.summary(nn.Sequential(nn.Linear(2, 3), layer), (1, 2), verbose=0).total_params == 12


def test_restores_modes_and_running_statistics():
    model = _mlp().train()
    model[3].eval()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    cr.summary(model, np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32), verbose=0)
    assert model.training and model[0].training and not model[3].training
    assert not model[3][1].training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(3, 5)
        self.a = nn.Linear(5, 2)
        self.b = nn.Linear(5, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.a(h), {"b": self.b(h)}


def test_tuple_and_dict_outputs_and_float64():
    model = _TwoHeads()
    x = np.zeros((7, 3))
    model.trunk.weight.data = model.trunk.weight.data.astype(np.float64)
    s = cr.summary(model, x, verbose=0)
    assert s[""].output_shape == ((7, 2), {"b": (7, 1)})
    assert s["b"].output_shape == (7, 1)
    assert s.total_params == 3 * 5 + 5 + 5 * 2 + 2 + 5 + 1
    assert s.input_bytes == 7 * 3 * 8
    assert "(7, 2), {b: (7, 1)}" in str(s)


def test_unused_layer_and_bad_input():
    model = _TwoHeads()
    model.spare = nn.Linear(1, 1)
    s = cr.summary(model, (2, 3), verbose=0)
    assert s["spare"].output_shape is None and s["spare"].calls == 0
    with pytest.raises(TypeError, match="example input"):
        cr.summary(model, "x", verbose=0)
    with pytest.raises(ValueError, match="positive"):
        cr.summary(model, (0, 3), verbose=0)
    with pytest.raises(TypeError, match="nn.Module"):
        cr.summary(object(), (1, 3), verbose=0)
    with pytest.raises(TypeError, match="one of input_data"):
        cr.summary(model, verbose=0)
    assert cr.summary(model, input_size=[2, 3], verbose=0)["a"].output_shape == (2, 2)
    with pytest.raises(KeyError, match="Expected a layer name"):
        s["nope"]


def test_matches_torch_parameter_count():
    torch = pytest.importorskip("torch")
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 10))
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    s = cr.summary(model, (2, 1, 8, 8), verbose=0)
    assert s.total_params == sum(p.numel() for p in ref.parameters())
    out = ref(torch.zeros(2, 1, 8, 8))
    assert s[""].output_shape == tuple(out.shape)
    assert s["0"].output_shape == (2, 4, 6, 6)
