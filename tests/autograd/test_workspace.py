"""The scratch-buffer workspace of convolution and pooling (``autograd._workspace``).

Reused buffers must change no number, never be handed to the caller, stay
valid while a graph that reads them is alive, and keep the cache bounded.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd._workspace import Lease, Workspace, workspace


@pytest.fixture
def fresh_workspace():
    saved = (workspace.max_bytes, workspace.max_buffer)
    workspace.clear()
    yield workspace
    workspace.max_bytes, workspace.max_buffer = saved
    workspace.clear()


def _model(seed):
    cr.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),  # col2im input gradient
        nn.Conv2d(8, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(6 * 3 * 3, 5),
    )


def _train(dtype, batch, steps=4):
    model = _model(3)
    for p in model.parameters():
        p.data = p.data.astype(dtype)
    opt = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 28, 28)).astype(dtype)
    y = rng.integers(0, 5, batch)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        X = cr.tensor(x, requires_grad=True)
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    return losses, X.grad.copy(), [p.data.copy() for p in model.parameters()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [2, 64])  # 64: split into batch parts on several threads
def test_reused_buffers_give_the_same_numbers(fresh_workspace, dtype, batch):
    fresh_workspace.max_bytes = 0  # nothing kept: every buffer fresh
    plain = _train(dtype, batch)
    assert fresh_workspace.nbytes == 0
    fresh_workspace.max_bytes = 64 << 20
    reused = _train(dtype, batch)
    assert fresh_workspace.nbytes > 0
    assert plain[0] == reused[0]
    np.testing.assert_array_equal(plain[1], reused[1])
    for a, b in zip(plain[2], reused[2]):
        np.testing.assert_array_equal(a, b)


def _cached(space):
    return [b for bufs in space._free.values() for b in bufs]


def test_results_never_share_memory_with_the_cache(fresh_workspace):
    model = _model(1)
    rng = np.random.default_rng(1)
    kept = []
    for _ in range(3):
        X = cr.tensor(rng.standard_normal((4, 3, 28, 28)).astype(np.float32),
                      requires_grad=True)
        h = X
        outs = []
        for layer in model:
            h = layer(h)
            outs.append(h.data)
        h.sum().backward()
        kept.append((outs, X.grad, [p.grad for p in model.parameters()]))
        del h, outs
    cached = _cached(fresh_workspace)
    assert cached
    for outs, gx, grads in kept:
        for arr in outs + [gx] + grads:
            for buf in cached:
                assert not np.shares_memory(arr, buf)


def test_graph_kept_alive_still_reads_its_own_buffers(fresh_workspace):
    conv = nn.Conv2d(4, 6, 3, padding=1)
    rng = np.random.default_rng(2)
    X = cr.tensor(rng.standard_normal((3, 4, 9, 9)), requires_grad=True)
    y = F.max_pool2d(F.relu(conv(X)), 2, padding=1)
    y.sum().backward()
    first = (X.grad.copy(), conv.weight.grad.copy())
    # other steps of the same shapes reuse whatever buffers were given back
    for _ in range(3):
        Z = cr.tensor(rng.standard_normal((3, 4, 9, 9)), requires_grad=True)
        F.max_pool2d(F.relu(conv(Z)), 2, padding=1).sum().backward()
    X.grad = None
    conv.weight.grad = None
    y.sum().backward()  # graphs are kept: the first graph's vjps run again
    np.testing.assert_array_equal(X.grad, first[0])
    np.testing.assert_array_equal(conv.weight.grad, first[1])


def test_threads_at_once_match_one_at_a_time(fresh_workspace):
    conv = nn.Conv2d(8, 8, 3, padding=1)
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((16, 8, 20, 20)).astype(np.float32) for _ in range(4)]

    def run(x):
        X = cr.tensor(x, requires_grad=True)
        out = F.max_pool2d(F.relu(conv(X)), 2)
        w = cr.autograd.grad(out.sum(), [X])[0]
        return out.data.copy(), np.asarray(w.data if hasattr(w, "data") else w).copy()

    expected = [run(x) for x in xs]
    results = [None] * len(xs)

    def worker(i):
        for _ in range(5):
            results[i] = run(xs[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, ga), (b, gb) in zip(expected, results):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ga, gb)


def test_cache_is_bounded_and_clears():
    space = Workspace(max_bytes=1000, per_key=2, max_buffer=600)
    bufs = [space.take((10,), np.float64) for _ in range(4)]  # 80 bytes each
    for b in bufs:
        space.give(b)
    assert space.nbytes == 160  # two kept for the key
    again = space.take((10,), np.float64)
    assert any(again is b for b in bufs)
    space.give(space.take((100,), np.float64))  # 800 bytes: above max_buffer
    assert space.nbytes == 80
    space.give(space.take((70,), np.float64))  # 560 bytes: 640 in all, fits
    space.give(np.empty(60))  # 480 more would pass max_bytes
    assert space.nbytes == 640
    space.clear()
    assert space.nbytes == 0 and not _cached(space)


def test_lease_gives_back_when_freed():
    space = Workspace()
    buf = space.take((5, 5), np.float32)
    lease = Lease(space, [buf])
    assert space.nbytes == 0
    del lease
    assert space.nbytes == buf.nbytes
    assert space.take((5, 5), np.float32) is buf
