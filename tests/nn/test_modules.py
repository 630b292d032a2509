"""Module, Parameter, containers, Linear and the activation modules."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.act = nn.PReLU(n)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.act(self.fc(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 3)
        self.block = Block(3)
        self.blocks = nn.ModuleList([Block(3), Block(3)])
        self.out = nn.Linear(3, 2)
        self.scale = nn.Parameter(np.ones(2, np.float32))

    def forward(self, x):
        h = self.block(self.inp(x))
        for b in self.blocks:
            h = b(h)
        return self.out(h) * self.scale


class TorchBlock(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = torch.nn.Linear(n, n)
        self.act = torch.nn.PReLU(n)
        self.drop = torch.nn.Dropout(0.5)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(4, 3)
        self.block = TorchBlock(3)
        self.blocks = torch.nn.ModuleList([TorchBlock(3), TorchBlock(3)])
        self.out = torch.nn.Linear(3, 2)
        self.scale = torch.nn.Parameter(torch.ones(2))


def _x(shape=(5, 4), seed=0):
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape))


# --- registration --------------------------------------------------------


def test_nested_parameters_are_found_in_torchs_order():
    ours = [name for name, _ in Net().named_parameters()]
    theirs = [name for name, _ in TorchNet().named_parameters()]
    assert ours == theirs
    assert [n for n, _ in Net().named_modules()] == [n for n, _ in TorchNet().named_modules()]
    assert list(Net().state_dict()) == list(TorchNet().state_dict())


def test_parameters_are_the_registered_objects():
    net = Net()
    params = list(net.parameters())
    # a module's own parameters come before its children's (as in torch)
    assert params[0] is net.scale and params[1] is net.inp.weight
    assert params[-1] is net.out.bias
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    assert len(params) == 2 + 3 * 3 + 2 + 1


def test_shared_parameter_and_module_appear_once():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight  # tied weights
    seq = nn.Sequential(a, b, a)  # a reused
    names = [n for n, _ in seq.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]
    assert len(list(seq.modules())) == 3
    seq(_x((2, 3))).sum().backward()
    # the tied weight gets the gradient of all three uses, once
    assert a.weight.grad is not None and b.weight.grad is a.weight.grad


def test_reassigning_attributes_updates_registration():
    layer = nn.Linear(3, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    layer.extra = nn.Parameter(np.zeros(1, np.float32))
    assert [n for n, _ in layer.named_parameters()] == ["weight", "extra"]
    layer.extra = 3.0  # a plain attribute now
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    del layer.weight
    assert list(layer.parameters()) == []


def test_buffers_are_state_but_not_parameters():
    m = nn.Linear(2, 2)
    m.register_buffer("count", np.zeros(3, np.float32))
    assert "count" in m.state_dict() and "count" not in dict(m.named_parameters())
    m.count = np.ones(3, np.float32)  # reassigning keeps it a buffer
    np.testing.assert_array_equal(m.state_dict()["count"], 1.0)
    m.count = None
    assert "count" not in m.state_dict()
    with pytest.raises(TypeError, match="count"):
        m.register_buffer("count", [1, 2])


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Bad()


# --- modes and grads ----------------------------------------------------


def test_train_eval_reach_every_descendant():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.blocks.train()
    assert net.blocks[1].drop.training and not net.block.drop.training
    net.train()
    assert all(m.training for m in net.modules())


def test_eval_mode_changes_dropout_output_only():
    net = Net()
    x = _x()
    net.eval()
    a, b = net(x).data, net(x).data
    np.testing.assert_array_equal(a, b)  # deterministic in eval
    net.train()
    assert not np.array_equal(net(x).data, a)


def test_zero_grad_clears_every_parameter():
    net = Net()
    net(_x()).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# --- state ------------------------------------------------------------------


def test_state_dict_round_trip():
    src, dst = Net().eval(), Net().eval()
    x = _x()
    assert not np.allclose(src(x).data, dst(x).data)
    state = src.state_dict()
    dst.load_state_dict(state)
    np.testing.assert_array_equal(src(x).data, dst(x).data)
    # the state holds copies: changing the model afterwards leaves it alone
    src.inp.weight.data[...] = 0
    assert np.any(state["inp.weight"] != 0)


def test_load_writes_in_place_and_keeps_views():
    net = nn.Linear(3, 2)
    flat = np.zeros(8, np.float32)  # an optimiser's flat parameter buffer
    flat[:6] = net.weight.data.ravel()
    net.weight.data = flat[:6].reshape(3, 2)
    before_w, before_b = net.weight.data, net.bias.data
    new = {"weight": np.arange(6, dtype=np.float32).reshape(3, 2),
           "bias": np.array([7.0, 8.0], np.float32)}
    net.load_state_dict(new)
    assert net.weight.data is before_w and net.bias.data is before_b
    np.testing.assert_array_equal(flat[:6], np.arange(6))
    np.testing.assert_array_equal(net.bias.data, [7.0, 8.0])


def test_load_rejects_a_shape_mismatch_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    state = net.state_dict()
    state["inp.bias"] = np.full(3, 5.0, np.float32)  # fine, but comes first
    state["out.weight"] = np.zeros((3, 5), np.float32)
    with pytest.raises(ValueError, match=r"out\.weight.*\(3, 5\).*\(3, 2\)"):
        net.load_state_dict(state)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_reports_missing_and_unexpected_keys():
    net = nn.Sequential(nn.Linear(2, 2))
    state = net.state_dict()
    del state["0.bias"]
    state["0.gamma"] = np.ones(2)
    with pytest.raises(KeyError, match=r"missing keys \['0\.bias'\].*unexpected keys \['0\.gamma'\]"):
        net.load_state_dict(state)
    net.load_state_dict(state, strict=False)  # only the known keys are loaded


# --- containers -------------------------------------------------------------


def test_sequential_chains_indexes_and_names():
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = _x()
    h = seq[2](seq[1](seq[0](x)))
    np.testing.assert_array_equal(seq(x).data, h.data)
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert len(seq[:2]) == 2 and seq[:2][0] is seq[0]
    assert [type(m) for m in seq] == [nn.Linear, nn.ReLU, nn.Linear]
    seq.append(nn.Tanh())
    assert seq(x).shape == (5, 2) and len(seq) == 4
    named = nn.Sequential(OrderedDict(enc=nn.Linear(4, 2), act=nn.Sigmoid()))
    assert [n for n, _ in named.named_parameters()] == ["enc.weight", "enc.bias"]
    assert "(enc): Linear(in_features=4" in repr(named)
    with pytest.raises(TypeError, match="item 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_module_list_registers_members():
    ml = nn.ModuleList([nn.Linear(2, 2)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 2 and ml[1].out_features == 1
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                      "1.bias"]


def test_module_needs_a_forward():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# --- Linear --------------------------------------------------------------


def test_linear_matches_torch_linear_with_transposed_weight():
    ours = nn.Linear(4, 3)
    theirs = torch.nn.Linear(4, 3)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data.T))
        ours.bias.data[...] = np.array([0.1, -0.2, 0.3], np.float32)
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    assert ours.weight.shape == (4, 3)  # (in, out)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    y = ours(cr.tensor(x))
    t = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(y.data, t.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    y.backward(g)
    t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy().T, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_linear_without_bias_and_on_stacks():
    layer = nn.Linear(4, 3, bias=False)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = _x((2, 5, 4))
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data, rtol=1e-6)
    assert layer(np.ones((2, 4), np.float32)).shape == (2, 3)  # arrays are accepted


def test_linear_wrong_input_names_both_shapes_and_the_layer():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError) as err:
        layer(_x((5, 4)))
    msg = str(err.value)
    assert "Linear(in_features=3, out_features=2" in msg
    assert "(5, 4)" in msg and "(3, 2)" in msg
    with pytest.raises(ValueError, match="positive"):
        nn.Linear(0, 2)


# --- activation modules --------------------------------------------------

ACTIVATIONS = [
    (nn.ReLU(), torch.nn.ReLU()),
    (nn.LeakyReLU(), torch.nn.LeakyReLU()),
    (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (nn.Abs(), torch.abs),
    (nn.Sigmoid(), torch.nn.Sigmoid()),
    (nn.Tanh(), torch.nn.Tanh()),
    (nn.Softplus(), torch.nn.Softplus()),
    (nn.Softmax(axis=1), torch.nn.Softmax(dim=1)),
    (nn.LogSoftmax(), torch.nn.LogSoftmax(dim=-1)),
    (nn.Identity(), torch.nn.Identity()),
]


@pytest.mark.parametrize("ours, theirs", ACTIVATIONS,
                         ids=[type(a).__name__ + str(i) for i, (a, _) in enumerate(ACTIVATIONS)])
def test_activation_module_matches_torch(ours, theirs):
    x_np = np.random.default_rng(3).standard_normal((4, 5)).astype(np.float32) * 3
    x = cr.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(4).standard_normal((4, 5)).astype(np.float32)
    y.backward(g)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert list(ours.parameters()) == []


@pytest.mark.parametrize("n, shape", [(1, (4, 3)), (3, (4, 3)), (3, (2, 3, 5))])
def test_prelu_module_learns_alpha_like_torch(n, shape):
    ours, theirs = nn.PReLU(n), torch.nn.PReLU(n)
    np.testing.assert_array_equal(ours.weight.data, np.full(n, 0.25))
    assert [name for name, _ in ours.named_parameters()] == ["weight"]
    x_np = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    x = cr.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-6)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-6)


def test_prelu_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match=r"1 or 3 elements.*\(4, 3\).*\(5,\)"):
        nn.PReLU(5)(_x((4, 3)))


def test_abs_is_leaky_relu_with_slope_minus_one():
    x = _x()
    np.testing.assert_array_equal(nn.Abs()(x).data, F.leaky_relu(x, -1.0).data)
