"""The engine: graph walking, accumulation, grad modes, errors, dtypes, Tensor basics."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import is_grad_enabled


def _leaf(shape=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    return cr.tensor(rng.standard_normal(shape), requires_grad=True)


# --- deep graphs -----------------------------------------------------------


@pytest.mark.parametrize("length", [10_000, 100_000])
def test_long_chain_backward_has_no_recursion_limit(length):
    assert length > sys.getrecursionlimit()
    x = cr.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(length):
        y = y + 1.0
    y.backward(np.ones(1))
    np.testing.assert_array_equal(y.data, [0.5 + length])
    np.testing.assert_array_equal(x.grad, [1.0])
    del y  # freeing a deep graph must not overflow the C stack either


def test_deep_nonlinear_chain_gradient():
    x = cr.tensor([0.3, -0.2], requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y.tanh() * 1.0001
    y.sum().backward()
    # the same chain rule by hand
    v, d = x.data.copy(), np.ones(2)
    for _ in range(10_000):
        t = np.tanh(v)
        d *= (1 - t * t) * 1.0001
        v = t * 1.0001
    np.testing.assert_allclose(y.data, v, rtol=1e-12)
    np.testing.assert_allclose(x.grad, d, rtol=1e-10)


# --- accumulation --------------------------------------------------------


def test_tensor_used_twice_accumulates():
    x = _leaf()
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1, rtol=1e-6)


def test_diamond_graph_accumulates_once_per_path():
    x = _leaf()
    a = x * 2.0
    b = cr.exp(a)
    c = a * 3.0
    (b + c + a).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(2 * x.data) + 6 + 2, rtol=1e-5)


def test_leaf_grads_accumulate_across_backward_calls():
    x = _leaf()
    (x * 3.0).sum().backward()
    (x * 4.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(x.shape, 7.0))
    x.zero_grad()
    assert x.grad is None


def test_leaf_grads_are_own_writable_arrays():
    x, y = _leaf(seed=1), _leaf(seed=2)
    g = np.ones((2, 3), np.float32)
    (x + y).backward(g)
    assert x.grad is not y.grad and x.grad is not g
    assert not np.shares_memory(x.grad, y.grad)
    x.grad += 1  # an optimiser may update it in place
    np.testing.assert_array_equal(y.grad, g)
    np.testing.assert_array_equal(g, 1.0)

    z = _leaf()
    z.sum().backward()  # the vjp of sum is a read-only broadcast view
    assert z.grad.flags.writeable and z.grad.flags.owndata
    parts = _leaf((4, 3))
    a, b = parts[:2], parts[2:]
    (cr.concatenate([a, b]) * 1.0).sum().backward()
    assert parts.grad.flags.writeable


def test_gradients_accumulate_into_a_plain_array_of_the_leaf():
    x = _leaf()
    (x * 2.0).sum().backward()
    first = x.grad
    assert first.flags.owndata and first.flags.writeable
    np.testing.assert_array_equal(first, 2.0)
    (x * 3.0).sum().backward()  # accumulates: 2 + 3
    np.testing.assert_array_equal(x.grad, 5.0)
    np.testing.assert_array_equal(first, 2.0)  # an array the caller holds is not changed
    x.grad = None  # what zero_grad does: the next backward starts afresh
    (x * 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, 1.0)
    assert not hasattr(x, "_grad_buf")


def test_only_leaves_that_need_grad_get_one():
    x = _leaf()
    c = cr.tensor(np.ones((2, 3)))
    (x * c).sum().backward()
    assert x.grad is not None and c.grad is None


# --- grad modes ----------------------------------------------------------


def test_no_grad_records_nothing():
    x = _leaf()
    with cr.no_grad():
        assert not is_grad_enabled()
        y = x * 2.0 + 1.0
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_as_decorator_with_and_without_parentheses():
    x = _leaf()

    @cr.no_grad()
    def f(t):
        return t * 2.0

    @cr.no_grad
    def g(t):
        return t * 2.0

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f"
    assert x.__mul__(2.0).requires_grad  # recording is back on outside


def test_grad_mode_restored_after_exception_and_nesting():
    with pytest.raises(ZeroDivisionError), cr.no_grad():
        _ = 1 / 0
    assert is_grad_enabled()
    with cr.no_grad():
        with cr.enable_grad():
            assert (_leaf() * 1.0).requires_grad
        assert not is_grad_enabled()
    assert is_grad_enabled()


# --- errors --------------------------------------------------------------


def test_backward_on_non_scalar_needs_a_gradient():
    y = _leaf((2, 3)) * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\)"):
        y.backward()


def test_backward_on_tensor_without_grad_says_so():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0, 2.0]).sum().backward()


def test_backward_gradient_of_wrong_shape():
    y = _leaf((2, 3)) * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        _leaf((2, 3)) @ _leaf((4, 5))


def test_only_float_tensors_can_require_grad():
    with pytest.raises(TypeError, match="int64"):
        cr.tensor([1, 2], requires_grad=True)


# --- dtypes --------------------------------------------------------------


def test_tensor_dtype_rules():
    assert cr.tensor(np.ones(3, np.float64)).dtype == np.float32
    assert cr.tensor([1.5, 2.0]).dtype == np.float32
    assert cr.tensor(2.0).dtype == np.float32
    assert cr.tensor(np.arange(3)).dtype == np.int64
    assert cr.tensor([1, 2]).dtype.kind == "i"
    assert cr.tensor([True, False]).dtype == np.bool_
    assert cr.tensor(np.ones(2), dtype=np.float64).dtype == np.float64


def test_float32_graph_stays_float32():
    x = _leaf()
    y = (x * np.ones((2, 3)) + np.float64(1.0)) / 3.0 - np.arange(3.0)
    assert y.dtype == np.float32, "float64 constants must not promote the graph"
    y.backward(np.ones((2, 3), np.float64))
    assert x.grad.dtype == np.float32


def test_constants_follow_the_tensor_dtype():
    x64 = cr.tensor(np.ones(3), requires_grad=True, dtype=np.float64)
    assert (x64 * np.full(3, 1 / 3)).dtype == np.float64
    assert (x64 * np.float32(2.0)).dtype == np.float64
    x32 = _leaf((3,))
    assert (x32 + np.arange(3.0)).dtype == np.float32
    assert (x32 + np.float64(0.1)).dtype == np.float32
    # a primitive called on plain float64 arrays computes in float64
    from chainrule.autograd import PRIMITIVES

    out = PRIMITIVES["mul"](np.full(2, 1 / 3), np.full(2, 3.0))
    assert out.dtype == np.float64 and out.data[0] == (1 / 3) * 3.0
    assert cr.where(np.array([True, False]), x64[:2], 0.0).dtype == np.float64


def test_vjps_keep_float32_for_python_scalar_operands():
    from chainrule.autograd import PRIMITIVES

    x = np.linspace(0.5, 2.0, 4, dtype=np.float32)
    g = np.ones(4, np.float32)
    for name, args in [("pow", (2.0, x)), ("pow", (x, 3)), ("where", (x > 1, x, 0.0)),
                       ("mul", (0.5, x)), ("div", (1.0, x)), ("sub", (1.0, x))]:
        out, vjp = PRIMITIVES[name].__wrapped__(np, *args)  # the raw namespace first
        assert out.dtype == np.float32, name
        need = tuple(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in args)
        for gi in vjp(g, need):
            assert gi is None or gi.dtype == np.float32, name


def test_results_are_arrays_even_when_0d():
    x = _leaf()
    for y in (x.sum(), x.mean(), x.max(), cr.exp(x.sum()), x[0, 0] * 2.0,
              _leaf((3,)) @ _leaf((3,))):
        assert type(y.data) is np.ndarray and y.shape == ()
    s = cr.tensor(1.5, requires_grad=True)
    (s * 2.0).backward()
    assert type(s.grad) is np.ndarray and s.grad.shape == ()


# --- Tensor basics -------------------------------------------------------


def test_detach_shares_data_and_stops_the_gradient():
    x = _leaf()
    d = x.detach()
    assert d.data is x.data and not d.requires_grad
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad, x.data)  # d is a constant: not 2x


def test_item_numpy_and_array_protocol():
    x = cr.tensor([[1.0, 2.0]])
    assert float(x.sum()) == 3.0 and int(cr.tensor(np.array([7]))) == 7
    assert x.numpy() is x.data
    assert cr.tensor([3.5]).item() == 3.5 and isinstance(x.sum().item(), float)
    np.testing.assert_array_equal(np.asarray(x), [[1.0, 2.0]])
    assert x.shape == (1, 2) and x.ndim == 2 and x.size == 2 and len(x) == 1
    assert "requires_grad=True" in repr(cr.tensor([1.0], requires_grad=True))


def test_comparisons_are_constants():
    x = _leaf()
    m = x > 0
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.data, x.data > 0)


def test_numpy_array_on_the_left_defers_to_tensor():
    x = _leaf()
    y = np.ones((2, 3), np.float32) * x
    assert isinstance(y, cr.Tensor) and y.requires_grad
    y = np.ones((2, 3), np.float32) - x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, -1.0)


def test_getitem_with_tensor_indices():
    x = _leaf((4, 3))
    rows = cr.tensor(np.array([0, 0, 3]))
    y = x[rows, 1:]
    np.testing.assert_array_equal(y.data, x.data[[0, 0, 3], 1:])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad[:, 0], 0.0)
    np.testing.assert_array_equal(x.grad[:, 1:], [[2, 2], [0, 0], [0, 0], [1, 1]])


def test_primitives_are_registered_by_name():
    from chainrule.autograd import PRIMITIVES

    for name in ("add", "matmul", "getitem", "softmax_cross_entropy", "linear"):
        assert name in PRIMITIVES and PRIMITIVES[name].__name__ == name


def test_no_grad_on_one_thread_leaves_another_recording():
    import threading

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    inside = threading.Event()
    checked = threading.Event()
    seen = {}

    def quiet_worker():
        with cr.no_grad():
            inside.set()
            seen["worker records"] = (x * 2.0).requires_grad
            seen["worker mode"] = is_grad_enabled()
            checked.wait(timeout=10)

    worker = threading.Thread(target=quiet_worker)
    worker.start()
    try:
        assert inside.wait(timeout=10)
        # the worker is inside no_grad right now; this thread still records
        assert is_grad_enabled()
        y = x * 3.0
        assert y.requires_grad and not y.is_leaf
    finally:
        checked.set()
        worker.join()
    assert seen == {"worker records": False, "worker mode": False}

    # and the other way round: a new thread records while this one is in no_grad
    with cr.no_grad():
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("r", (x * 2.0).requires_grad))
        t.start()
        t.join()
        assert not (x * 2.0).requires_grad
    assert result == {"r": True}
