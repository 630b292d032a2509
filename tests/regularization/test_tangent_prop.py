"""Tangent propagation (book §7.14): the penalty and its parameter gradient vs torch.func.jvp."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.optim import SGD
from chainrule.regularization import TangentProp, image_tangents, tangent_prop_penalty
from chainrule.training import fit

ACTIVATIONS = {"tanh": (nn.Tanh, torch.nn.Tanh), "softplus": (nn.Softplus, torch.nn.Softplus)}


def _pair(act="tanh", dtype=np.float64):
    ours, theirs = ACTIVATIONS[act]
    net = nn.Sequential(nn.Linear(5, 7, dtype=dtype), ours(), nn.Linear(7, 3, dtype=dtype))
    ref = torch.nn.Sequential(torch.nn.Linear(5, 7), theirs(), torch.nn.Linear(7, 3)).double()
    with torch.no_grad():
        for i in (0, 2):
            ref[i].weight.copy_(torch.tensor(net[i].weight.data.T))
            ref[i].bias.copy_(torch.tensor(net[i].bias.data))
    return net, ref


def _torch_penalty(ref, x, v):
    total = 0.0
    for t in range(v.shape[0]):
        _, jv = torch.func.jvp(ref, (torch.tensor(x),), (torch.tensor(v[t]),))
        total = total + (jv ** 2).sum()
    return total / x.shape[0]


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_penalty_and_parameter_gradient_equal_torch_func_jvp_in_float64(act):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5))
    v = rng.standard_normal((3, 6, 5))
    net, ref = _pair(act)
    omega = tangent_prop_penalty(net, x, v)
    assert omega.dtype == np.float64
    omega.backward()
    expected = _torch_penalty(ref, x, v)
    expected.backward()
    np.testing.assert_allclose(omega.item(), expected.item(), rtol=1e-12)
    for i in (0, 2):
        np.testing.assert_allclose(net[i].weight.grad, ref[i].weight.grad.numpy().T,
                                   rtol=1e-10, atol=1e-13)
        # the output layer's bias does not move J v: no gradient (None) in both
        want = ref[i].bias.grad
        got = net[i].bias.grad
        if want is None:
            assert got is None or not np.any(got)
        else:
            np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-13)
    assert ref[0].bias.grad is not None and ref[2].bias.grad is None


def test_linear_model_penalty_is_the_closed_form():
    """f(x) = xW + b: J v = vW, Ω = (1/N) Σ ‖vW‖², ∂Ω/∂W = (2/N) Σ vᵀ(vW)."""
    rng = np.random.default_rng(0)
    layer = nn.Linear(4, 2, dtype=np.float64)
    x = rng.standard_normal((5, 4))
    v = rng.standard_normal((2, 5, 4))
    w = layer.weight.data
    omega = tangent_prop_penalty(layer, cr.tensor(x, dtype=np.float64), v)
    np.testing.assert_allclose(omega.item(), sum(((vt @ w) ** 2).sum() for vt in v) / 5,
                               rtol=1e-12)
    omega.backward()
    grad = sum(2 * vt.T @ (vt @ w) for vt in v) / 5
    np.testing.assert_allclose(layer.weight.grad, grad, rtol=1e-12)
    assert layer.bias.grad is None or np.all(layer.bias.grad == 0)


def test_a_network_invariant_along_the_tangent_has_zero_penalty():
    """Inputs enter only through x0 + x1: the direction (1, -1) changes nothing."""
    net = nn.Sequential(nn.Linear(2, 4, dtype=np.float64), nn.Tanh(),
                        nn.Linear(4, 1, dtype=np.float64))
    net[0].weight.data[1] = net[0].weight.data[0]
    x = np.random.default_rng(1).standard_normal((8, 2))
    v = np.broadcast_to(np.array([1.0, -1.0]), (1, 8, 2))
    assert abs(tangent_prop_penalty(net, x, v).item()) < 1e-20
    assert tangent_prop_penalty(net, x, -2 * v[::-1] + 3 * np.eye(2)[0]).item() > 1e-3


def test_tangents_shape_is_checked():
    net, _ = _pair()
    x = np.zeros((6, 5))
    with pytest.raises(ValueError, match=r"\(T, N, \*x.shape\[1:\]\)"):
        tangent_prop_penalty(net, x, np.zeros((6, 5)))
    with pytest.raises(ValueError, match="tangents"):
        tangent_prop_penalty(net, x, np.zeros((2, 5, 5)))


def test_image_tangents_of_linear_ramps_are_the_analytic_derivatives():
    """On I(r, c) = c − c₀, bilinear warps are exact away from the border:
    ∂/∂dx = −1, ∂/∂dy of the row ramp = −1, ∂/∂θ = −(r − r₀), ∂/∂s = −(c − c₀)."""
    h = w = 11
    rows, cols = np.meshgrid(np.arange(h) - 5.0, np.arange(w) - 5.0, indexing="ij")
    images = np.stack([cols, rows]).astype(np.float64)  # (2, 11, 11)
    v = image_tangents(images)
    assert v.shape == (4, 2, 11, 11) and v.dtype == np.float64
    inner = (slice(3, 8), slice(3, 8))
    np.testing.assert_allclose(v[0, 0][inner], -1.0, atol=1e-12)  # translate_x of c-ramp
    np.testing.assert_allclose(v[1, 1][inner], -1.0, atol=1e-12)  # translate_y of r-ramp
    np.testing.assert_allclose(v[1, 0][inner], 0.0, atol=1e-12)
    # rotation by ±θ: the derivative of sin is sinθ/θ at the finite step
    step = np.deg2rad(5.0)
    np.testing.assert_allclose(v[2, 0][inner], -rows[inner] * np.sin(step) / step, atol=1e-12)
    # scale by 1±h samples at c/(1±h): the central difference of 1/s
    hs = 0.05
    ds = (1 / (1 + hs) - 1 / (1 - hs)) / (2 * hs)
    np.testing.assert_allclose(v[3, 0][inner], cols[inner] * ds, atol=1e-12)
    flat = image_tangents(images.reshape(2, -1).astype(np.float32), kinds=("rotate",),
                          image_shape=(11, 11))
    assert flat.shape == (1, 2, 121) and flat.dtype == np.float32
    np.testing.assert_allclose(flat[0], v[2].reshape(2, -1), atol=1e-5)
    with pytest.raises(ValueError, match="kinds"):
        image_tangents(images, kinds=("shear",))


def test_fit_step_with_tangent_prop_is_the_step_on_loss_plus_weighted_penalty():
    rng = np.random.default_rng(2)
    x = rng.random((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    tangents = rng.standard_normal((2, 16, 5)).astype(np.float32)
    net, _ = _pair(dtype=np.float32)
    manual, _ = _pair(dtype=np.float32)
    manual.load_state_dict(net.state_dict())
    tp = TangentProp(0.3, lambda xb: tangents)
    hist = fit(net, x, y, loss="cross_entropy", optimizer=SGD(net.parameters(), lr=0.2),
               epochs=1, batch_size=16, shuffle=False, regularizers=[tp], verbose=0)
    loss = F.cross_entropy(manual(cr.tensor(x)), y)
    omega = tangent_prop_penalty(manual, x, tangents)
    (loss + omega * 0.3).backward()
    SGD(manual.parameters(), lr=0.2).step()
    for a, b in zip(net.parameters(), manual.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hist.history["penalty"][-1], 0.3 * omega.item(), rtol=1e-5)
    with pytest.raises(ValueError, match="weight"):
        TangentProp(-1.0, lambda xb: tangents)


def test_tangent_prop_output_fn_penalises_the_mapped_output():
    """output_fn=softmax: Ω of the class probabilities, equal to torch's jvp of softmax∘f."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5))
    v = rng.standard_normal((2, 6, 5))
    net, ref = _pair()
    tp = TangentProp(2.0, lambda xb: v, output_fn=F.softmax)
    got = tp.batch_penalty(net, x)
    expected = 2.0 * _torch_penalty(lambda t: torch.softmax(ref(t), dim=-1), x, v)
    np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-12)
    got.backward()
    expected.backward()
    np.testing.assert_allclose(net[0].weight.grad, ref[0].weight.grad.numpy().T,
                               rtol=1e-10, atol=1e-13)


def test_closure_optimisers_see_the_batch_penalty_too():
    """L-BFGS re-evaluates the objective in a closure: the batch regulariser is part of it."""
    rng = np.random.default_rng(5)
    x = rng.random((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    tangents = rng.standard_normal((2, 16, 5)).astype(np.float32)
    net, _ = _pair(dtype=np.float32)
    start = tangent_prop_penalty(net, x, tangents).item()
    hist = fit(net, x, y, loss="cross_entropy",
               optimizer=cr.optim.LBFGS(net.parameters(), max_iter=20),
               epochs=1, batch_size=16, shuffle=False,
               regularizers=[TangentProp(5.0, lambda xb: tangents)], verbose=0)
    # the first evaluation is logged, before the update
    np.testing.assert_allclose(hist.history["penalty"][0], 5.0 * start, rtol=1e-5)
    # minimising the penalised objective shrinks the penalty a lot
    assert tangent_prop_penalty(net, x, tangents).item() < 0.5 * start
