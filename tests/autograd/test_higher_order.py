"""Gradients of gradients (issue 14): ``cr.autograd.grad``, ``backward(create_graph=True)``.

Double backward against PyTorch's for each primitive torch also has (float64,
same inputs): with first derivatives g_i = ∂<u, f>/∂x_i recorded, the
gradient of S = Σ_i <w_i, g_i> must equal torch's.  Plus a gradient penalty
d/dθ ‖∇_θ L‖² on an MLP, and the API's torch semantics.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import PRIMITIVES
from chainrule.nn.batchnorm import batch_norm

_T = np.array([2, 0, 1, 1])
_MASK = np.array([[True, False, True], [False, True, True], [True, True, False],
                  [False, False, True]])

# id, chainrule fn, torch fn, input shapes (positive inputs where log/sqrt need them)
CASES = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, (4, 3), (3,)),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, (4, 3), (4, 1)),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, (4, 3), (3,)),
    ("div", lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1), (4, 3), (4, 3)),
    ("pow", lambda a, b: (a * a + 1) ** b, lambda a, b: (a * a + 1) ** b, (4, 3), (4, 3)),
    ("pow-const", lambda a: a ** 3, lambda a: a ** 3, (4, 3)),
    ("matmul", lambda a, b: a @ b, lambda a, b: a @ b, (4, 3), (3, 2)),
    ("matmul-batched", lambda a, b: a @ b, lambda a, b: a @ b, (2, 4, 3), (3, 2)),
    ("matmul-vec", lambda a, b: a @ b, lambda a, b: a @ b, (4, 3), (3,)),
    ("exp", cr.exp, torch.exp, (4, 3)),
    ("log", lambda a: cr.log(a * a + 0.5), lambda a: torch.log(a * a + 0.5), (4, 3)),
    ("sqrt", lambda a: cr.sqrt(a * a + 0.5), lambda a: torch.sqrt(a * a + 0.5), (4, 3)),
    ("abs", lambda a: cr.abs(a) * a, lambda a: torch.abs(a) * a, (4, 3)),
    ("relu", lambda a: F.relu(a) * a, lambda a: torch.relu(a) * a, (4, 3)),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.1) * a, lambda a: TF.leaky_relu(a, 0.1) * a,
     (4, 3)),
    ("sigmoid", F.sigmoid, torch.sigmoid, (4, 3)),
    ("tanh", F.tanh, torch.tanh, (4, 3)),
    ("softplus", F.softplus, TF.softplus, (4, 3)),
    ("sum", lambda a: a.sum(axis=0) ** 2, lambda a: a.sum(dim=0) ** 2, (4, 3)),
    ("mean", lambda a: a.mean(axis=1, keepdims=True) ** 2,
     lambda a: a.mean(dim=1, keepdim=True) ** 2, (4, 3)),
    ("max", lambda a: a.max(axis=1) ** 2, lambda a: a.amax(dim=1) ** 2, (4, 3)),
    ("min", lambda a: a.min(axis=0) ** 2, lambda a: a.amin(dim=0) ** 2, (4, 3)),
    ("reshape", lambda a: a.reshape(3, 4) ** 2, lambda a: a.reshape(3, 4) ** 2, (4, 3)),
    ("transpose", lambda a: a.T @ a, lambda a: a.T @ a, (4, 3)),
    ("getitem", lambda a: a[[0, 2, 2]] ** 2, lambda a: a[[0, 2, 2]] ** 2, (4, 3)),
    ("where", lambda a, b: cr.where(_MASK, a * a, b * a),
     lambda a, b: torch.where(torch.as_tensor(_MASK), a * a, b * a), (4, 3), (4, 3)),
    ("concatenate", lambda a, b: cr.concatenate([a, b * b], 0) ** 2,
     lambda a, b: torch.cat([a, b * b], 0) ** 2, (4, 3), (2, 3)),
    ("stack", lambda a, b: cr.stack([a, a * b], 1) ** 2,
     lambda a, b: torch.stack([a, a * b], 1) ** 2, (4, 3), (4, 3)),
    ("linear", lambda x, w, b: F.tanh(F.linear(x, w, b)),
     lambda x, w, b: torch.tanh(x @ w + b), (4, 3), (3, 2), (2,)),
    ("softmax", lambda a: F.softmax(a, axis=-1), lambda a: torch.softmax(a, -1), (4, 3)),
    ("log_softmax", lambda a: F.log_softmax(a, axis=0), lambda a: torch.log_softmax(a, 0),
     (4, 3)),
    ("logsumexp", lambda a: F.logsumexp(a, axis=-1), lambda a: torch.logsumexp(a, -1), (4, 3)),
    ("cross_entropy", lambda a: F.cross_entropy(a, _T, label_smoothing=0.1),
     lambda a: TF.cross_entropy(a, torch.as_tensor(_T), label_smoothing=0.1), (4, 3)),
    ("bce_with_logits", lambda a, t: F.binary_cross_entropy_with_logits(a, F.sigmoid(t)),
     lambda a, t: TF.binary_cross_entropy_with_logits(a, torch.sigmoid(t)), (4, 3), (4, 3)),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
     lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1), (2, 2, 5, 5), (3, 2, 3, 3),
     (3,)),
    ("max_pool2d", lambda x: F.max_pool2d(x * x, 2, padding=1),
     lambda x: TF.max_pool2d(x * x, 2, padding=1), (1, 2, 5, 4)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x * x, 3, stride=2, padding=1),
     lambda x: TF.avg_pool2d(x * x, 3, stride=2, padding=1), (1, 2, 5, 4)),
    ("batch_norm", lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), (5, 3), (3,), (3,)),
    ("erf", lambda a: PRIMITIVES["erf"](a * 1.5), lambda a: torch.erf(a * 1.5), (4, 3)),
    ("recurrent_scan-lstm",
     lambda xw, w, b, h, c: PRIMITIVES["recurrent_scan"](xw, w, b, h, c, mode="lstm"),
     lambda xw, w, b, h, c: _torch_lstm(xw, w, b, h, c), (3, 2, 8), (8, 2), (8,), (2, 2), (2, 2)),
]


def _torch_lstm(xw, w_hh, b_hh, h, c):
    """torch's LSTM cell over the steps of xw (its input projection the identity), [h, c] stacked."""
    eye = torch.eye(xw.shape[-1], dtype=xw.dtype)
    outs = []
    for x in xw:
        h, c = torch.lstm_cell(x, (h, c), eye, w_hh, torch.zeros_like(b_hh), b_hh)
        outs.append(torch.cat([h, c], dim=-1))
    return torch.stack(outs)


def _double_backward(fn, inputs, u, ws, lib):
    """∇ of S = Σ <w_i, ∂<u, f>/∂x_i> in chainrule (lib='cr') or torch."""
    if lib == "cr":
        ts = [cr.tensor(x, requires_grad=True, dtype=np.float64) for x in inputs]
        out = fn(*ts)
        firsts = cr.autograd.grad(out, ts, u, create_graph=True, allow_unused=True)
        s = sum((g * w).sum() for g, w in zip(firsts, ws) if g is not None)
        if not isinstance(s, cr.Tensor) or not s.requires_grad:  # linear: no second order
            return out.data, [None] * len(ts)
        seconds = cr.autograd.grad(s, ts, allow_unused=True)
        return out.data, [None if g is None else g.data for g in seconds]
    ts = [torch.tensor(x, requires_grad=True) for x in inputs]
    out = fn(*ts)
    firsts = torch.autograd.grad(out, ts, torch.tensor(u), create_graph=True,
                                 allow_unused=True)
    s = sum((g * torch.tensor(w)).sum() for g, w in zip(firsts, ws) if g is not None)
    if not s.requires_grad:
        return out.detach().numpy(), [None] * len(ts)
    seconds = torch.autograd.grad(s, ts, allow_unused=True)
    return out.detach().numpy(), [None if g is None else g.numpy() for g in seconds]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_double_backward_matches_torch(case):
    name, ours, theirs, *shapes = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    inputs = [rng.standard_normal(s) for s in shapes]
    ws = [rng.standard_normal(s) for s in shapes]
    with torch.no_grad():
        shape = theirs(*[torch.tensor(x) for x in inputs]).shape
    u = rng.standard_normal(tuple(shape))
    out_cr, sec_cr = _double_backward(ours, inputs, u, ws, "cr")
    out_t, sec_t = _double_backward(theirs, inputs, u, ws, "torch")
    np.testing.assert_allclose(out_cr, out_t, rtol=1e-10, atol=1e-12)
    for i, (a, b) in enumerate(zip(sec_cr, sec_t)):
        a = np.zeros_like(inputs[i]) if a is None else a
        b = np.zeros_like(inputs[i]) if b is None else b
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=f"{name}: input {i}")


def test_gradient_penalty_on_an_mlp_equals_torch():
    """d/dθ ‖∇_θ L‖² for a two-layer tanh MLP with cross-entropy, vs torch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5))
    y = rng.integers(0, 3, 16)
    shapes = [(5, 8), (8,), (8, 3), (3,)]
    params = [rng.standard_normal(s) * 0.5 for s in shapes]

    def loss(lib, ps):
        if lib == "cr":
            h = F.tanh(F.linear(cr.tensor(x, dtype=np.float64), ps[0], ps[1]))
            return F.cross_entropy(F.linear(h, ps[2], ps[3]), y)
        h = torch.tanh(torch.tensor(x) @ ps[0] + ps[1])
        return TF.cross_entropy(h @ ps[2] + ps[3], torch.as_tensor(y))

    ps = [cr.tensor(p, requires_grad=True, dtype=np.float64) for p in params]
    gs = cr.autograd.grad(loss("cr", ps), ps, create_graph=True)
    penalty = sum((g * g).sum() for g in gs)
    ours = cr.autograd.grad(penalty, ps)
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    tg = torch.autograd.grad(loss("torch", tp), tp, create_graph=True)
    theirs = torch.autograd.grad(sum((g * g).sum() for g in tg), tp)
    assert abs(penalty.item() - sum((g * g).sum() for g in tg).item()) < 1e-12
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-13)


def test_every_primitive_is_covered_by_a_torch_case_or_has_no_torch_twin():
    """The torch table names the primitives it covers; the rest are chainrule-only."""
    covered = {c[0].split("-")[0] for c in CASES}
    aliases = {"cross_entropy": "softmax_cross_entropy", "conv2d": "conv_nd",
               "max_pool2d": "max_pool_nd", "avg_pool2d": "avg_pool_nd",
               "batch_norm": "batch_norm_train", "neg": "neg"}
    covered |= {aliases.get(n, n) for n in covered}
    chainrule_only = {"astype", "neg", "scatter_add", "broadcast_to"}  # composite-checked
    missing = sorted(set(PRIMITIVES) - covered - chainrule_only)
    assert not missing, f"primitives without a torch double-backward case: {missing}"


# ------------------------------------------------------------------ the API
def test_grad_returns_tensors_and_leaves_dot_grad_alone():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    (g,) = cr.autograd.grad((x * x).sum(), x)
    assert isinstance(g, cr.Tensor) and not g.requires_grad
    np.testing.assert_array_equal(g.data, [2.0, 4.0, 6.0])
    assert x.grad is None


def test_grad_of_grad_is_the_second_derivative():
    x = cr.tensor([0.5, -1.0], requires_grad=True, dtype=np.float64)
    (g,) = cr.autograd.grad(cr.exp(2 * x).sum(), [x], create_graph=True)
    assert g.requires_grad
    (h,) = cr.autograd.grad(g.sum(), x, create_graph=True)
    (t,) = cr.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(t.data, 8 * np.exp(2 * x.data))


def test_grad_of_an_intermediate_and_several_outputs():
    x = cr.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    y = x * 3
    z = (y * y).sum()
    w = y.sum()
    gy, gx = cr.autograd.grad([z, w], [y, x])
    np.testing.assert_allclose(gy.data, 2 * y.data + 1)
    np.testing.assert_allclose(gx.data, 3 * (2 * y.data + 1))


def test_allow_unused():
    x = cr.tensor([1.0], requires_grad=True)
    y = cr.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        cr.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = cr.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.data[0] == 2


def test_grad_errors_are_clear():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.autograd.grad(cr.tensor([1.0]).sum(), x)
    with pytest.raises(RuntimeError, match="single-element"):
        cr.autograd.grad(x * 2, x)
    with pytest.raises(ValueError, match="shape"):
        cr.autograd.grad(x * 2, x, np.ones(3))
    with pytest.raises(RuntimeError, match="require grad"):
        cr.autograd.grad((x * 2).sum(), cr.tensor([1.0]))


def test_backward_create_graph_gives_a_differentiable_grad():
    x = cr.tensor([1.0, -2.0], requires_grad=True, dtype=np.float64)
    (x ** 3).sum().backward(create_graph=True)
    assert isinstance(x.grad, cr.Tensor) and x.grad.requires_grad
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)
    gx = x.grad
    x.grad = None
    gx.sum().backward()
    np.testing.assert_allclose(x.grad, 6 * x.data)


def test_plain_backward_is_unchanged_by_create_graph_support():
    """Without create_graph the gradient is an array and nothing more is recorded."""
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert type(x.grad) is np.ndarray and x.grad.dtype == np.float32


def test_batch_norm_running_stats_are_updated_once_under_create_graph():
    rm, rv = np.zeros(3), np.ones(3)
    x = cr.tensor(np.random.default_rng(1).standard_normal((6, 3)), requires_grad=True,
                  dtype=np.float64)
    out = batch_norm(x, rm, rv, training=True)
    before = rm.copy(), rv.copy()
    (g,) = cr.autograd.grad((out ** 3).sum(), x, create_graph=True)
    cr.autograd.grad((g * g).sum(), x)
    np.testing.assert_array_equal(rm, before[0])
    np.testing.assert_array_equal(rv, before[1])
