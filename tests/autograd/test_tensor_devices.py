"""The Tensor API on every namespace: cr.tensor keeps library and device, .device,
.to, .numpy, .item, repr, indexing, comparisons, backward (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


def test_tensor_keeps_namespace_and_device(namespace):
    a = namespace.asarray(np.arange(6.0).reshape(2, 3))
    t = cr.tensor(a, requires_grad=True)
    assert namespace.owns(t)
    assert t.device == (namespace.device if namespace.xp is not np else "cpu")
    assert t.xp is namespace.xp
    # float64 data becomes float32, in the same library
    assert t.dtype == namespace.xp.float32
    np.testing.assert_array_equal(t.numpy(), np.arange(6.0).reshape(2, 3))
    assert isinstance(t.numpy(), np.ndarray)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2


def test_numpy_returns_a_host_copy_or_the_array_itself(namespace):
    host = np.ones(3, np.float32)
    t = cr.tensor(namespace.asarray(host))
    out = t.numpy()
    assert isinstance(out, np.ndarray)
    if namespace.xp is np:
        assert out is t.data  # shared, as before
    np.testing.assert_array_equal(out, host)


def test_to_moves_between_namespaces_and_keeps_requires_grad(namespace):
    t = cr.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    moved = t.to(xp=namespace.xp, device=namespace.device)
    assert moved is not t and moved.requires_grad and moved.is_leaf
    assert namespace.owns(moved)
    back = moved.to("cpu")
    assert isinstance(back.data, np.ndarray) and back.requires_grad
    np.testing.assert_array_equal(back.data, t.data)
    frozen = cr.tensor(np.ones(2)).to(xp=namespace.xp, device=namespace.device)
    assert not frozen.requires_grad


def test_to_rejects_unknown_devices():
    with pytest.raises(ValueError, match="Unknown device"):
        cr.tensor([1.0]).to("tpu")


def test_item_repr_float_and_comparisons(namespace):
    t = cr.tensor(namespace.asarray(np.array([1.5, -2.0, 3.0])))
    assert t[0].item() == 1.5 and float(t[2]) == 3.0 and int(t[1]) == -2
    text = repr(t)
    assert text.startswith("tensor([ 1.5, -2. ,  3. ]")
    if namespace.xp is not np:
        assert "device=" in text
    mask = t > 0
    assert namespace.owns(mask)
    np.testing.assert_array_equal(namespace.to_numpy(mask), [True, False, True])
    np.testing.assert_array_equal(namespace.to_numpy(t <= np.array([2.0, -2.0, 0.0])),
                                  [True, True, False])


def test_indexing_and_backward_stay_in_the_namespace(namespace):
    x = np.random.default_rng(0).standard_normal((4, 3))
    t = cr.tensor(namespace.asarray(x), requires_grad=True, dtype=np.float64)
    y = (t[np.array([0, 0, 3])] * 2.0).sum() + t[1:, ::2].sum()
    y.backward()
    assert namespace.owns(t.grad)
    want = np.zeros((4, 3))
    want[0] += 4.0
    want[3] += 2.0
    want[1:, ::2] += 1.0
    np.testing.assert_allclose(namespace.to_numpy(t.grad), want)
    assert namespace.owns(y)


def test_constants_move_to_the_tensors_namespace(namespace):
    t = cr.tensor(namespace.asarray(np.ones((2, 3), np.float32)), requires_grad=True)
    # a float64 NumPy constant: moved and cast down to float32
    out = t * np.arange(3.0) + np.float64(1.0)
    assert namespace.owns(out) and out.dtype == namespace.xp.float32
    loss = F.cross_entropy(out, np.array([2, 0]))
    loss.backward()
    assert namespace.owns(loss) and namespace.owns(t.grad)


def test_backward_with_a_host_gradient(namespace):
    t = cr.tensor(namespace.asarray(np.arange(3.0)), requires_grad=True)
    (t * t).backward(np.ones(3, np.float32))
    np.testing.assert_allclose(namespace.to_numpy(t.grad), [0.0, 2.0, 4.0])
    g, = cr.autograd.grad((t * t).sum(), t)
    assert namespace.owns(g)
    np.testing.assert_allclose(namespace.to_numpy(g), [0.0, 2.0, 4.0])


def test_device1_refuses_silent_conversion():
    xs = pytest.importorskip("array_api_strict")
    t = cr.tensor(xs.asarray([1.0, 2.0], device=xs.Device("device1")))
    with pytest.raises(RuntimeError):
        np.asarray(t)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])  # the explicit copy works
